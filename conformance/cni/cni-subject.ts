import { rmSync } from 'node:fs';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import {
  CniError,
  CniInvoker,
  atLeast,
  effectiveVersion,
  isCniVersion,
  loadNetworkConfig,
  type NetConfList,
  type VersionResult,
} from '../../specs/cni/index.js';
import type { Subject } from '../framework/index.js';

/** CNI plugins under test, as the suite sees them: a configuration list and where its plugins live. */
export interface CniSubject extends Subject {
  readonly cniPath: readonly string[];
  /** The user's configuration, as read. Cases take per-case copies from {@link networkCopy}. */
  readonly list: NetConfList;
  /** The spec version the run certifies at. */
  readonly version: string;
  /** Versions every plugin of the list says it supports (VERSION). */
  readonly supportedVersions: readonly string[];
  /** Where the run keeps caches and IPAM state; removed at the end. */
  readonly runDir: string;
  /** Deadline of one plugin invocation. */
  readonly invocationTimeoutMs: number;
  /** A resident per-node process the plugins need, started in every node namespace a case makes (see node-agent.ts). */
  readonly nodeAgent?: readonly string[];
  close(): void;
}

/** The user's configuration could not be used. */
export class CniSubjectError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'CniSubjectError';
  }
}

/** Options for {@link connectCniSubject}. */
export interface ConnectCniOptions {
  readonly cniPath: readonly string[];
  readonly confFile: string;
  /** Certify at this version instead of the configuration's. */
  readonly cniVersion?: string;
  readonly invocationTimeoutMs?: number;
  /** argv of the node agent to run in each node namespace. */
  readonly nodeAgent?: readonly string[];
}

/**
 * Reads the configuration, finds every plugin on CNI_PATH and asks each for
 * VERSION. The capabilities are the verbs the certified version has
 * (`verb.CHECK` from 0.4.0, `verb.GC` and `verb.STATUS` from 1.1.0).
 */
export async function connectCniSubject(options: ConnectCniOptions): Promise<CniSubject> {
  let list: NetConfList;
  try {
    list = await loadNetworkConfig(options.confFile);
  } catch (error) {
    if (error instanceof CniError) throw new CniSubjectError(`--conf ${options.confFile}: ${error.message}`);
    throw new CniSubjectError(`--conf ${options.confFile}: ${(error as Error).message}`);
  }
  const version = options.cniVersion ?? effectiveVersion(list);
  if (!isCniVersion(version)) throw new CniSubjectError(`--cni-version ${version} is not a released CNI version`);

  const invoker = new CniInvoker({ cniPath: options.cniPath, cacheDir: os.tmpdir() });
  let supported: string[] | undefined;
  const identity: Record<string, string | string[]> = { conf: options.confFile, network: list.name, cniPath: [...options.cniPath] };
  for (const plugin of list.plugins) {
    const type = String(plugin['type']);
    try {
      await invoker.findPlugin(type);
    } catch (error) {
      throw new CniSubjectError(`--cni-path: ${(error as Error).message}`);
    }
    // A plugin whose VERSION fails is still certified (the VERSION cases judge that failure) at the one
    // version its configuration names; the identity records what went wrong.
    const info: VersionResult = await invoker.versionInfo(type, version).catch((error: unknown) => {
      identity[`${type}.versionProblem`] = (error as Error).message;
      return { cniVersion: version, supportedVersions: [version] };
    });
    identity[`${type}.supportedVersions`] = info.supportedVersions;
    supported = supported === undefined ? info.supportedVersions : supported.filter((v) => info.supportedVersions.includes(v));
    const ipam = plugin['ipam'] as { type?: unknown } | undefined;
    if (typeof ipam?.type === 'string') {
      const ipamInfo = await invoker.versionInfo(ipam.type, version).catch(() => undefined);
      if (ipamInfo !== undefined) identity[`${ipam.type}.supportedVersions`] = ipamInfo.supportedVersions;
    }
  }
  const supportedVersions = supported ?? [];
  if (!supportedVersions.includes(version)) {
    throw new CniSubjectError(
      `the plugins do not all support CNI ${version} (common versions: ${supportedVersions.join(', ') || 'none'}); choose one with --cni-version`,
    );
  }
  identity['certifiedVersion'] = version;
  if (options.nodeAgent !== undefined) identity['nodeAgent'] = options.nodeAgent.join(' ');

  const capabilities = new Set<string>();
  if (atLeast(version, '0.4.0')) capabilities.add('verb.CHECK');
  if (atLeast(version, '1.1.0')) {
    capabilities.add('verb.GC');
    capabilities.add('verb.STATUS');
  }
  if (list.plugins.length > 1) capabilities.add('chain');
  const runDir = await fs.mkdtemp(path.join(os.tmpdir(), 'kp-cni-'));
  return {
    capabilities,
    specVersions: new Set(supportedVersions),
    identity,
    cniPath: options.cniPath,
    list,
    version,
    supportedVersions,
    runDir,
    invocationTimeoutMs: options.invocationTimeoutMs ?? 30_000,
    ...(options.nodeAgent === undefined ? {} : { nodeAgent: options.nodeAgent }),
    close: () => rmSync(runDir, { recursive: true, force: true }),
  };
}
