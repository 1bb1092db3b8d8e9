/**
 * Shared setup for the bridge plugin's tests: a "node" network namespace
 * the plugin runs in (never the machine's own), container namespaces, a
 * temporary CNI_PATH holding our bridge, Debian's upstream bridge and IPAM
 * plugins (and test doubles), calls through execPlugin with the nsenter
 * wrapper, and observations made with `ip -j` / iptables-save inside the
 * namespaces. Everything a helper creates is released in t.teardown.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { CniError, execPlugin, type CniVerb, type JsonObject, type PluginRun } from '../../../specs/cni/index.js';
import { createNetworkNamespace, uniqueNetnsName, type NetworkNamespace } from '../../../conformance/cni/network-namespaces.js';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..', '..');

/** Our bridge as the build links it. */
export const ourBridgePath = path.join(root, 'dist', 'cni-bin', 'kubeplug-bridge');
/** Our IPAM plugin, once the other half of host-local-bridge is built. */
export const ourHostLocalPath = path.join(root, 'dist', 'cni-bin', 'kubeplug-host-local');
/** Debian's containernetworking-plugins (v1.1.1): the peers we compare against. */
export const upstreamBridgePath = '/usr/lib/cni/bridge';
export const upstreamHostLocalPath = '/usr/lib/cni/host-local';

/** The subset of a tap test the helpers use. */
export interface TestLike {
  teardown(fn: () => unknown): void;
  comment(...message: unknown[]): void;
}

const hasCommand = (command: string): boolean => spawnSync('sh', ['-c', `command -v ${command}`], { stdio: 'ignore' }).status === 0;

/** Why these tests cannot run here, or undefined when they can. */
export function missingPrerequisites(): string | undefined {
  if (process.getuid?.() !== 0) return 'needs root (network namespaces)';
  for (const command of ['ip', 'nsenter', 'iptables-save', 'ip6tables-save']) if (!hasCommand(command)) return `needs ${command}`;
  if (!fs.existsSync(ourBridgePath)) return 'needs a build (npm run build): dist/cni-bin/kubeplug-bridge is missing';
  if (!fs.existsSync(upstreamHostLocalPath)) return `needs Debian's containernetworking-plugins (${upstreamHostLocalPath})`;
  return undefined;
}

/** A temporary folder removed in teardown. */
export function tempFolder(t: TestLike): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'kp-bridge-'));
  t.teardown(() => fs.rmSync(dir, { recursive: true, force: true }));
  return dir;
}

/** A node: its namespace, a CNI_PATH folder of plugins, and a folder for IPAM state. */
export interface TestNode {
  readonly ns: NetworkNamespace;
  readonly dir: string;
  readonly binDir: string;
  readonly dataDir: string;
}

/** A network namespace removed in teardown (with everything inside it: links, routes, rules). */
export async function createNamespace(t: TestLike, role: string): Promise<NetworkNamespace> {
  const ns = await createNetworkNamespace(uniqueNetnsName(role));
  t.teardown(() => ns.remove().catch((error: unknown) => t.comment(`could not remove namespace ${ns.name}: ${String(error)}`)));
  return ns;
}

/**
 * Creates a node namespace and a CNI_PATH: `kubeplug-bridge` (ours),
 * `bridge` and `host-local` (Debian's upstream), `kubeplug-host-local`
 * (ours, when built), and test doubles: `failing-ipam` (always fails with
 * code 11), `recording-ipam` (records verb and stdin, then succeeds),
 * `host-local-1.1` (Debian's host-local shown a 1.1.0 request as 1.0.0, since
 * v1.1.1 predates spec 1.1.0).
 */
export async function createNode(t: TestLike): Promise<TestNode> {
  const dir = tempFolder(t);
  const binDir = path.join(dir, 'bin');
  const dataDir = path.join(dir, 'ipam');
  fs.mkdirSync(binDir);
  fs.mkdirSync(dataDir);
  fs.symlinkSync(ourBridgePath, path.join(binDir, 'kubeplug-bridge'));
  fs.symlinkSync(upstreamHostLocalPath, path.join(binDir, 'host-local'));
  if (fs.existsSync(upstreamBridgePath)) fs.symlinkSync(upstreamBridgePath, path.join(binDir, 'bridge'));
  if (fs.existsSync(ourHostLocalPath)) fs.symlinkSync(ourHostLocalPath, path.join(binDir, 'kubeplug-host-local'));
  const script = (name: string, body: string): void => fs.writeFileSync(path.join(binDir, name), `#!/bin/sh\n${body}\n`, { mode: 0o755 });
  script('failing-ipam', `cat >/dev/null\nprintf '{"cniVersion":"1.0.0","code":11,"msg":"failing-ipam refuses %s"}' "$CNI_COMMAND"\nexit 1`);
  script('recording-ipam', `{ printf '%s %s %s\\n' "$CNI_COMMAND" "$CNI_CONTAINERID" "$CNI_IFNAME"; cat; printf '\\n'; } >> '${dir}/recording-ipam.log'\nif [ "$CNI_COMMAND" = ADD ]; then printf '{"cniVersion":"1.0.0","ips":[{"address":"10.99.0.7/24"}]}'; fi`);
  script('host-local-1.1', `sed 's/"cniVersion":"1.1.0"/"cniVersion":"1.0.0"/' | exec ${upstreamHostLocalPath}`);
  const ns = await createNamespace(t, 'node');
  return { ns, dir, binDir, dataDir };
}

/** What recording-ipam saw: one entry per call. */
export function recordedIpamCalls(node: TestNode): { verb: string; containerId: string; ifName: string; stdin: string }[] {
  const file = path.join(node.dir, 'recording-ipam.log');
  if (!fs.existsSync(file)) return [];
  const lines = fs.readFileSync(file, 'utf8').split('\n');
  const calls = [];
  for (let i = 0; i + 1 < lines.length; i += 2) {
    const [verb = '', containerId = '', ifName = ''] = (lines[i] ?? '').split(' ');
    calls.push({ verb, containerId, ifName, stdin: lines[i + 1] ?? '' });
  }
  return calls;
}

/** A bridge configuration with host-local IPAM on the node's data folder; `extra` overrides anything. */
export function bridgeConf(node: TestNode, options: { version?: string; plugin?: string; subnet?: string; subnet6?: string; ipamType?: string; extra?: JsonObject } = {}): JsonObject {
  const version = options.version ?? '1.0.0';
  const ranges = [[{ subnet: options.subnet ?? '10.88.0.0/24' }], ...(options.subnet6 === undefined ? [] : [[{ subnet: options.subnet6 }]])];
  return {
    cniVersion: version,
    name: 'kpnet',
    type: options.plugin ?? 'kubeplug-bridge',
    bridge: 'kpbr0',
    isDefaultGateway: true,
    ipam: { type: options.ipamType ?? (version === '1.1.0' ? 'host-local-1.1' : 'host-local'), dataDir: node.dataDir, ranges },
    ...options.extra,
  };
}

/** One plugin call's parameters. */
export interface CallOptions {
  readonly verb: CniVerb;
  readonly conf: JsonObject;
  readonly containerId?: string;
  /** CNI_NETNS; left out when absent. */
  readonly netns?: string;
  readonly ifName?: string;
  readonly args?: readonly (readonly [string, string])[];
  /** The executable's name in the node's CNI_PATH; defaults to the conf's type. */
  readonly plugin?: string;
  readonly env?: Readonly<Record<string, string>>;
}

/**
 * Runs a plugin inside the node namespace (nsenter wrapper: never in the
 * machine's own) and returns its parsed result; a failure rejects with the
 * plugin's CniError.
 */
export async function callPlugin(node: TestNode, options: CallOptions): Promise<{ result: unknown; run: PluginRun }> {
  const plugin = options.plugin ?? String(options.conf['type']);
  // Attachment verbs carry an attachment (ctr1/eth0 unless given); GC, STATUS and VERSION none.
  const perAttachment = options.verb === 'ADD' || options.verb === 'DEL' || options.verb === 'CHECK';
  const containerId = options.containerId ?? (perAttachment ? 'ctr1' : undefined);
  const ifName = options.ifName ?? (perAttachment ? 'eth0' : undefined);
  return execPlugin(
    path.join(node.binDir, plugin),
    {
      verb: options.verb,
      ...(containerId === undefined ? {} : { containerId }),
      ...(options.netns === undefined ? {} : { netns: options.netns }),
      ...(ifName === undefined ? {} : { ifName }),
      ...(options.args === undefined ? {} : { args: options.args }),
      cniPath: [node.binDir],
    },
    JSON.stringify(options.conf),
    { wrapper: ['nsenter', `--net=${node.ns.path}`], timeoutMs: 60_000, ...(options.env === undefined ? {} : { env: options.env }) },
  );
}

/** Calls a plugin expecting failure; returns the CniError (fails the test if it succeeded). */
export async function callPluginFailing(node: TestNode, options: CallOptions): Promise<CniError> {
  try {
    await callPlugin(node, options);
  } catch (error) {
    if (error instanceof CniError) return error;
    throw error;
  }
  throw new Error(`${options.verb} unexpectedly succeeded`);
}

/** A link as `ip -j -d addr show` describes it (the fields tests read). */
export interface ObservedLink {
  ifindex: number;
  ifname: string;
  link_index?: number;
  flags: string[];
  mtu: number;
  master?: string;
  operstate: string;
  address: string;
  linkinfo?: { info_kind?: string; info_slave_kind?: string; info_slave_data?: { hairpin?: boolean; state?: string } };
  addr_info: { family: string; local: string; prefixlen: number; scope: string }[];
}

/** Every link of a namespace, with details and addresses. */
export async function observeLinks(ns: NetworkNamespace): Promise<ObservedLink[]> {
  return JSON.parse((await ns.exec('ip', ['-j', '-d', 'addr', 'show'])).stdout) as ObservedLink[];
}

/** One link by name, or undefined. */
export async function observeLink(ns: NetworkNamespace, name: string): Promise<ObservedLink | undefined> {
  return (await observeLinks(ns)).find((link) => link.ifname === name);
}

/** The veths of a namespace. */
export async function observeVeths(ns: NetworkNamespace): Promise<ObservedLink[]> {
  return (await observeLinks(ns)).filter((link) => link.linkinfo?.info_kind === 'veth');
}

/** Every route of a namespace (both families, every table), as `ip -j route show table all` prints them. */
export async function observeRoutes(ns: NetworkNamespace): Promise<{ dst: string; gateway?: string; dev?: string; table?: string }[]> {
  return JSON.parse((await ns.exec('ip', ['-j', 'route', 'show', 'table', 'all'])).stdout) as { dst: string; gateway?: string; dev?: string }[];
}

/** The nat table of a namespace for one family, as iptables-save prints it. */
export async function observeNat(ns: NetworkNamespace, family: '4' | '6' = '4'): Promise<string[]> {
  return (await ns.exec(family === '4' ? 'iptables-save' : 'ip6tables-save', ['-t', 'nat'])).stdout.split('\n').filter((line) => line !== '' && !line.startsWith('#'));
}

/** Reads a sysctl file as seen inside a namespace. */
export async function observeSysctl(ns: NetworkNamespace, file: string): Promise<string> {
  return (await ns.exec('cat', [file])).stdout.trim();
}

/** The addresses host-local holds for a network: its reservation files. */
export function reservedAddresses(node: TestNode, network = 'kpnet'): string[] {
  const dir = path.join(node.dataDir, network);
  if (!fs.existsSync(dir)) return [];
  return fs.readdirSync(dir).filter((name) => name !== 'lock' && !name.startsWith('last_reserved_ip'));
}

const echoServer = `
const net = require('node:net');
const server = net.createServer((socket) => socket.on('data', (data) => socket.end('pong:' + data)));
server.listen(Number(process.argv[2]), process.argv[1], () => process.stdout.write('ready\\n'));
`;

const echoClient = `
const net = require('node:net');
const socket = net.connect({ host: process.argv[1], port: Number(process.argv[2]), timeout: 5000 }, () => socket.write('ping'));
let answer = '';
socket.on('data', (data) => { answer += data; });
socket.on('end', () => { process.stdout.write(answer); process.exit(answer === 'pong:ping' ? 0 : 1); });
socket.on('timeout', () => { process.stderr.write('timeout'); process.exit(2); });
socket.on('error', (error) => { process.stderr.write(error.message); process.exit(3); });
`;

/**
 * Real traffic: a TCP echo server bound to `address` in `serverNs` and a
 * client in `clientNs` exchanging a line across the bridge. (The image has
 * no ping; a TCP round trip needs ARP, the veths and the bridge just the same.)
 * Resolves to what the client heard, or rejects with why it heard nothing.
 */
export async function exchangeOverTcp(t: TestLike, options: { serverNs: NetworkNamespace; clientNs: NetworkNamespace; address: string; port?: number }): Promise<string> {
  const port = String(options.port ?? 7000 + Math.floor(Math.random() * 1000));
  const server: ChildProcess = spawn('nsenter', [`--net=${options.serverNs.path}`, '--', process.execPath, '-e', echoServer, options.address, port], { stdio: ['ignore', 'pipe', 'pipe'] });
  t.teardown(() => {
    if (server.exitCode === null) server.kill('SIGKILL');
  });
  await new Promise<void>((resolve, reject) => {
    let errors = '';
    server.stderr?.on('data', (chunk: Buffer) => (errors += chunk.toString()));
    server.stdout?.once('data', () => resolve());
    server.once('exit', (code) => reject(new Error(`echo server exited (${code}): ${errors}`)));
  });
  try {
    const { stdout } = await options.clientNs.exec(process.execPath, ['-e', echoClient, options.address, port], { timeoutMs: 15_000 });
    return stdout;
  } finally {
    server.kill('SIGKILL');
  }
}

/** Parses a result's container-facing parts (1.0.0+ shape). */
export interface Result100Like {
  cniVersion: string;
  interfaces?: { name: string; mac?: string; sandbox?: string }[];
  ips?: { address: string; gateway?: string; interface?: number; version?: string }[];
  routes?: { dst: string; gw?: string }[];
  dns?: JsonObject;
}
