import fs from 'node:fs/promises';
import path from 'node:path';
import {
  CniError,
  CniInvoker,
  buildConfig,
  cniEnvironment,
  runPluginProcess,
  type JsonObject,
  type NetConfList,
  type PluginCall,
  type PluginRun,
  type RuntimeConf,
} from '../../specs/cni/index.js';
import type { CaseContext } from '../framework/index.js';
import type { CniSubject } from './cni-subject.js';
import { createNetworkNamespace, uniqueNetnsName, type NetworkNamespace } from './network-namespaces.js';
import { startNodeAgent } from './node-agent.js';

type Ctx = CaseContext<CniSubject>;

/**
 * A namespace for the case, removed when the case ends whatever happens.
 * The removal is registered before the namespace is used.
 */
export async function caseNamespace(ctx: Ctx, role: string): Promise<NetworkNamespace> {
  const namespace = await createNetworkNamespace(uniqueNetnsName(role));
  ctx.defer(() => namespace.remove(), `remove namespace ${namespace.name}`);
  return namespace;
}

/**
 * A copy of the subject's configuration for one case: its own network name
 * and, for a host-local-style IPAM, its own dataDir, so
 * cases never share state with each other or with the machine.
 */
export function networkCopy(ctx: Ctx, overrides: { version?: string } = {}): NetConfList {
  const list = structuredClone(ctx.subject.list) as NetConfList;
  const name = ctx.uniqueName('kpnet');
  const stateDir = path.join(ctx.subject.runDir, name);
  for (const plugin of list.plugins) {
    const ipam = plugin['ipam'] as JsonObject | undefined;
    // Always private, even when the user named a dataDir: certification must not touch a node's real IPAM state.
    if (ipam !== undefined && typeof ipam['type'] === 'string' && ipam['type'].endsWith('host-local')) {
      ipam['dataDir'] = path.join(stateDir, 'ipam');
    }
  }
  const version = overrides.version ?? ctx.subject.version;
  return { ...list, name, cniVersion: version, ...(list.cniVersions === undefined ? {} : { cniVersions: [version] }) };
}

/** A node: the namespace the plugins' host side runs in, and an invoker that runs them there. */
export interface CaseNode {
  readonly namespace: NetworkNamespace;
  readonly invoker: CniInvoker;
}

/**
 * Creates a node namespace (with the subject's node agent running in it,
 * when it has one) and an invoker whose plugins run inside it, recording
 * every invocation as evidence.
 */
export async function caseNode(ctx: Ctx, role = 'node'): Promise<CaseNode> {
  const namespace = await caseNamespace(ctx, role);
  if (ctx.subject.nodeAgent !== undefined) await startNodeAgent(ctx, namespace, ctx.subject.nodeAgent);
  const invoker = new CniInvoker({
    cniPath: ctx.subject.cniPath,
    cacheDir: path.join(ctx.subject.runDir, `cache-${namespace.name}`),
    exec: { wrapper: ['nsenter', `--net=${namespace.path}`], timeoutMs: ctx.subject.invocationTimeoutMs },
  });
  invoker.onInvocation((record) => {
    ctx.recordCall({
      target: `${record.plugin} (in ${namespace.name})`,
      method: record.verb,
      request: record.stdin,
      ...(record.ok ? { response: record.result ?? null } : { status: { code: String(record.error?.code), message: record.error?.msg ?? '' } }),
      durationMs: Math.round(record.durationMs),
    });
  });
  return { namespace, invoker };
}

/** Runtime parameters for a pod on a node, with a unique container ID. */
export function podRuntime(ctx: Ctx, pod: NetworkNamespace, ifName = 'eth0'): RuntimeConf {
  return { containerId: ctx.uniqueName('kpctr'), netns: pod.path, ifName };
}

/**
 * ADD a pod to a network and register its DEL for cleanup first, so a
 * failing case still releases what the plugin made.
 */
export async function addPod(ctx: Ctx, node: CaseNode, list: NetConfList, rt: RuntimeConf): Promise<unknown> {
  ctx.defer(() => node.invoker.delNetworkList(list, rt).catch(() => {}), `DEL ${rt.containerId}`);
  return node.invoker.addNetworkList(list, rt);
}

/** Outcome of a call as a value, so cases judge errors instead of catching them. */
export type InvokeOutcome<T> = { ok: true; value: T } | { ok: false; error: CniError };

/** Runs an invoker call and returns its outcome as a value. */
export async function attempt<T>(call: () => Promise<T>): Promise<InvokeOutcome<T>> {
  try {
    return { ok: true, value: await call() };
  } catch (error) {
    return { ok: false, error: CniError.from(error) };
  }
}

/**
 * Runs the first plugin of the list once with a raw environment and stdin,
 * bypassing the invoker: for malformed input the invoker would refuse to send.
 */
export async function invokeRaw(
  ctx: Ctx,
  node: CaseNode,
  options: { env: Record<string, string>; stdin: string; type?: string },
): Promise<PluginRun> {
  const type = options.type ?? String(ctx.subject.list.plugins[0]?.['type']);
  const pluginPath = await node.invoker.findPlugin(type);
  const run = await runPluginProcess(pluginPath, options.env, options.stdin, node.invoker.options.exec);
  ctx.recordCall({
    target: `${type} (in ${node.namespace.name}, raw)`,
    method: options.env['CNI_COMMAND'] ?? '(no CNI_COMMAND)',
    request: { env: options.env, stdin: options.stdin.slice(0, 4000) },
    response: { exitCode: run.exitCode, signal: run.signal, stdout: run.stdout.slice(0, 4000), stderr: run.stderr.slice(0, 2000) },
    durationMs: Math.round(run.durationMs),
  });
  return run;
}

/** The environment and stdin the invoker would send the first plugin for a call. */
export function rawCall(list: NetConfList, call: PluginCall, rt?: RuntimeConf): { env: Record<string, string>; stdin: string } {
  const plugin = list.plugins[0] ?? {};
  return { env: cniEnvironment(call), stdin: JSON.stringify(buildConfig(list, list.cniVersion, plugin, rt, undefined)) };
}

/** Parses JSON a plugin printed, or undefined when it is not JSON. */
export function parseJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}

/** What a node namespace holds, to compare before and after (leftover checks). */
export interface NodeSnapshot {
  readonly links: string[];
  readonly addresses: string[];
  readonly iptables: string[];
  readonly stateFiles: string[];
}

/** Reads links, addresses, iptables rules of a namespace and the files under a state folder. */
export async function snapshotNode(namespace: NetworkNamespace, stateDir?: string): Promise<NodeSnapshot> {
  const links = JSON.parse((await namespace.exec('ip', ['-j', 'link', 'show'])).stdout || '[]') as { ifname: string }[];
  const addresses = JSON.parse((await namespace.exec('ip', ['-j', 'addr', 'show'])).stdout || '[]') as {
    ifname: string;
    addr_info: { local: string; prefixlen: number }[];
  }[];
  const rules = await namespace.exec('iptables-save', []).catch(() => ({ stdout: '' }));
  return {
    links: links.map((link) => link.ifname).sort(),
    addresses: addresses.flatMap((link) => link.addr_info.map((a) => `${link.ifname} ${a.local}/${a.prefixlen}`)).sort(),
    iptables: rules.stdout
      .split('\n')
      .filter((line) => line.startsWith('-') || line.startsWith(':'))
      .map((line) => line.replace(/\[\d+:\d+\]/, ''))
      .sort(),
    stateFiles: stateDir === undefined ? [] : await listFiles(stateDir),
  };
}

async function listFiles(dir: string): Promise<string[]> {
  const out: string[] = [];
  async function walk(current: string): Promise<void> {
    let entries;
    try {
      entries = await fs.readdir(current, { withFileTypes: true });
    } catch {
      return;
    }
    for (const entry of entries) {
      const full = path.join(current, entry.name);
      if (entry.isDirectory()) await walk(full);
      else if (entry.name !== 'lock') out.push(path.relative(dir, full));
    }
  }
  await walk(dir);
  return out.sort();
}
