import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { CniError, execPlugin, type CniVerb, type JsonObject, type PluginRun } from '../../../specs/cni/index.js';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..', '..');

/** Our plugin as `npm run build` links it: the process tests drive what a runtime runs. */
export const ourHostLocal = path.join(root, 'dist', 'cni-bin', 'kubeplug-host-local');

/** Debian's upstream host-local (containernetworking-plugins v1.1.1): the real peer. */
export const upstreamHostLocal = '/usr/lib/cni/host-local';

/** Why process tests cannot run here, or false when they can. */
export const missingBuild = fs.existsSync(ourHostLocal) ? false : 'run `npm run build` first: dist/cni-bin/kubeplug-host-local is missing';

/** Why interop tests cannot run here, or false when they can. */
export const missingUpstream = fs.existsSync(upstreamHostLocal) ? false : 'needs Debian containernetworking-plugins (/usr/lib/cni/host-local)';

/** Spec versions Debian's host-local v1.1.1 speaks (it predates 1.1.0). */
export const upstreamVersions = ['0.1.0', '0.2.0', '0.3.0', '0.3.1', '0.4.0', '1.0.0'] as const;

/** A network config delegating to host-local with the given ipam section. */
export function netConf(options: { cniVersion?: string; name?: string; ipam: JsonObject; extra?: JsonObject }): JsonObject {
  return {
    cniVersion: options.cniVersion ?? '1.1.0',
    name: options.name ?? 'kp-net',
    type: 'kubeplug-bridge',
    ...options.extra,
    ipam: { type: 'host-local', ...options.ipam },
  };
}

/** One attachment's parameters. */
export interface Attachment {
  readonly containerId: string;
  readonly ifName?: string;
  readonly args?: readonly (readonly [string, string])[];
}

/** What one plugin run answered: the parsed result, or the CniError it printed. */
export interface Answer {
  readonly result?: unknown;
  readonly error?: CniError;
  readonly run?: PluginRun;
}

/**
 * Runs a host-local binary for one verb the way a runtime does (its own env
 * and stdin, through execPlugin), answering errors instead of throwing them.
 */
export async function runHostLocal(binary: string, verb: CniVerb, conf: JsonObject, attachment: Attachment = { containerId: 'unused' }): Promise<Answer> {
  const call = {
    verb,
    cniPath: [path.dirname(binary)],
    ...(verb === 'GC' || verb === 'STATUS' ? {} : { containerId: attachment.containerId, ifName: attachment.ifName ?? 'eth0' }),
    // IPAM never enters the namespace; any path will do, and DEL must cope without one.
    ...(verb === 'ADD' || verb === 'CHECK' ? { netns: '/run/netns/kp-none' } : {}),
    ...(attachment.args === undefined ? {} : { args: attachment.args }),
  };
  try {
    const { result, run } = await execPlugin(binary, call, JSON.stringify(conf), { timeoutMs: 90_000 });
    return { result, run };
  } catch (error) {
    if (error instanceof CniError) return { error };
    throw error;
  }
}

/** The addresses an ADD result holds, whatever its version's shape. */
export function addressesOf(result: unknown): string[] {
  const shaped = result as { ips?: { address: string }[]; ip4?: { ip: string }; ip6?: { ip: string } };
  if (shaped.ips !== undefined) return shaped.ips.map((ip) => ip.address);
  return [shaped.ip4?.ip, shaped.ip6?.ip].filter((ip): ip is string => ip !== undefined);
}

/** The reservation files of a network: address → content. */
export function reservationFiles(dataDir: string, network = 'kp-net'): Map<string, string> {
  const dir = path.join(dataDir, network);
  const files = new Map<string, string>();
  if (!fs.existsSync(dir)) return files;
  for (const name of fs.readdirSync(dir)) {
    if (name === 'lock' || name.startsWith('last_reserved_ip.') || name.startsWith('.')) continue;
    files.set(name, fs.readFileSync(path.join(dir, name), 'utf8'));
  }
  return files;
}
