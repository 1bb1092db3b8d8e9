/**
 * Watching plugins from outside, for the lifecycle cases: what a namespace
 * holds (links, addresses, routes read with `ip -j`), what one plugin answers
 * to a raw request, what a lifecycle left behind, and the address arithmetic
 * needed to ask a host-local-style IPAM for particular addresses.
 */
import path from 'node:path';
import {
  buildConfig,
  cniEnvironment,
  type CniError,
  toResult100,
  type AnyResult,
  type JsonObject,
  type NetConfList,
  type PluginRun,
  type Result100,
  type RuntimeConf,
} from '../../specs/cni/index.js';
import type { CaseContext } from '../framework/index.js';
import type { CniSubject } from './cni-subject.js';
import { addPod, caseNamespace, caseNode, invokeRaw, networkCopy, parseJson, podRuntime, snapshotNode, type CaseNode, type NodeSnapshot } from './cni-harness.js';
import { run, type CommandOutput, type NetworkNamespace } from './network-namespaces.js';

type Ctx = CaseContext<CniSubject>;

/** Anything commands can run inside: a namespace the case made, or a path a result named. */
export interface Observable {
  exec(command: string, args: readonly string[], options?: { input?: string; timeoutMs?: number }): Promise<CommandOutput>;
}

/** The namespace at a path (a result's `sandbox`), for reading only. */
export function namespaceAt(netnsPath: string): Observable {
  return { exec: (command, args, options) => run('nsenter', [`--net=${netnsPath}`, '--', command, ...args], options ?? {}) };
}

/** One link as `ip -j -d link` shows it. */
export interface LinkState {
  readonly name: string;
  readonly index: number;
  /** For a link whose peer lives in another namespace (a veth end): the peer's ifindex there. */
  readonly peerIndex?: number;
  readonly mac?: string;
  readonly mtu: number;
  readonly kind?: string;
  readonly master?: string;
}

/** The links of a namespace. */
export async function readLinks(ns: Observable): Promise<LinkState[]> {
  const raw = JSON.parse((await ns.exec('ip', ['-j', '-d', 'link', 'show'])).stdout || '[]') as {
    ifindex: number;
    ifname: string;
    link_index?: number;
    link_netnsid?: number;
    address?: string;
    mtu: number;
    master?: string;
    linkinfo?: { info_kind?: string };
  }[];
  return raw.map((link) => ({
    name: link.ifname,
    index: link.ifindex,
    ...(link.link_netnsid === undefined || link.link_index === undefined ? {} : { peerIndex: link.link_index }),
    mtu: link.mtu,
    ...(link.address === undefined ? {} : { mac: link.address.toLowerCase() }),
    ...(link.linkinfo?.info_kind === undefined ? {} : { kind: link.linkinfo.info_kind }),
    ...(link.master === undefined ? {} : { master: link.master }),
  }));
}

/** One address on one link, as `<ifname> <address>/<prefix>` with the address in canonical form. */
export async function readAddresses(ns: Observable): Promise<string[]> {
  const raw = JSON.parse((await ns.exec('ip', ['-j', 'addr', 'show'])).stdout || '[]') as {
    ifname: string;
    addr_info: { local: string; prefixlen: number }[];
  }[];
  return raw.flatMap((link) => link.addr_info.map((a) => `${link.ifname} ${canonicalCidr(`${a.local}/${a.prefixlen}`, false)}`));
}

/** One route of any table, with its destination as a canonical network CIDR. */
export interface RouteState {
  readonly dst: string;
  readonly gw?: string;
  readonly dev?: string;
  /** `main`, `local`, or the table's number as text. */
  readonly table: string;
}

/** Every unicast route of every table of a namespace, both families. */
export async function readRoutes(ns: Observable): Promise<RouteState[]> {
  const routes: RouteState[] = [];
  for (const family of ['4', '6'] as const) {
    const raw = JSON.parse((await ns.exec('ip', [`-${family}`, '-j', 'route', 'show', 'table', 'all'])).stdout || '[]') as {
      dst: string;
      gateway?: string;
      dev?: string;
      table?: string | number;
      type?: string;
    }[];
    for (const route of raw) {
      if (route.type !== undefined && route.type !== 'unicast') continue;
      const dst = route.dst === 'default' ? (family === '4' ? '0.0.0.0/0' : '::/0') : route.dst.includes('/') ? route.dst : `${route.dst}/${family === '4' ? 32 : 128}`;
      routes.push({
        dst: canonicalCidr(dst, true),
        ...(route.gateway === undefined ? {} : { gw: canonicalIp(route.gateway) }),
        ...(route.dev === undefined ? {} : { dev: route.dev }),
        table: route.table === undefined ? 'main' : String(route.table),
      });
    }
  }
  return routes;
}

/** A result of any version in the 1.x shape, or undefined when the value is not a result. */
export function asResult(value: unknown): Result100 | undefined {
  if (value === null || typeof value !== 'object' || typeof (value as { cniVersion?: unknown }).cniVersion !== 'string') return undefined;
  try {
    return toResult100(value as AnyResult);
  } catch {
    return undefined;
  }
}

/**
 * The container interface of a result: the sandboxed entry named CNI_IFNAME,
 * else the first sandboxed one, else any entry named CNI_IFNAME (a result
 * that forgets `sandbox` is judged by the result rules, not here); -1 if none.
 */
export function containerInterfaceIndex(result: Result100, rt: RuntimeConf): number {
  const interfaces = result.interfaces ?? [];
  const sandboxed = (entry: { sandbox?: string }): boolean => (entry.sandbox ?? '') !== '';
  const exact = interfaces.findIndex((entry) => entry.name === rt.ifName && sandboxed(entry));
  if (exact >= 0) return exact;
  const first = interfaces.findIndex(sandboxed);
  return first >= 0 ? first : interfaces.findIndex((entry) => entry.name === rt.ifName);
}

/** One plugin's raw answer: the process outcome and its stdout read as JSON. */
export interface RawAnswer {
  readonly type: string;
  readonly run: PluginRun;
  readonly json: unknown;
  readonly ok: boolean;
}

/** Options for {@link callPlugin}. */
export interface RawCallOptions {
  readonly list: NetConfList;
  readonly plugin: JsonObject;
  readonly verb: 'ADD' | 'DEL' | 'CHECK' | 'GC' | 'STATUS';
  readonly rt?: RuntimeConf;
  readonly prevResult?: unknown;
  /** Environment variables to leave out (e.g. `CNI_NETNS` for a DEL without it). */
  readonly omitEnv?: readonly string[];
  /** Keys to add to the request configuration (e.g. `cni.dev/valid-attachments`). */
  readonly extraConf?: JsonObject;
}

/**
 * Runs one plugin of a list for one verb, bypassing the invoker, with the
 * request configuration the invoker would build: for requests the invoker
 * would shape differently (no CNI_NETNS, no prevResult, bare GC/STATUS env)
 * and for reading stdout as it came.
 */
export async function callPlugin(ctx: Ctx, node: CaseNode, options: RawCallOptions): Promise<RawAnswer> {
  const type = String(options.plugin['type']);
  const rt = options.rt;
  const env = cniEnvironment({
    verb: options.verb,
    cniPath: node.invoker.options.cniPath,
    ...(rt === undefined ? {} : { containerId: rt.containerId, netns: rt.netns, ifName: rt.ifName, ...(rt.args === undefined ? {} : { args: rt.args }) }),
  });
  for (const key of options.omitEnv ?? []) delete env[key];
  const conf = { ...buildConfig(options.list, options.list.cniVersion, options.plugin, rt, options.prevResult), ...options.extraConf };
  const answer = await invokeRaw(ctx, node, { type, env, stdin: JSON.stringify(conf) });
  return { type, run: answer, json: parseJson(answer.stdout), ok: answer.exitCode === 0 };
}

/**
 * Runs a verb through every plugin of a list in order (reverse order for
 * DEL), stopping at the first failure as libcni does.
 */
export async function callList(
  ctx: Ctx,
  node: CaseNode,
  options: Omit<RawCallOptions, 'plugin'>,
): Promise<{ ok: boolean; answers: RawAnswer[] }> {
  const plugins = options.verb === 'DEL' ? [...options.list.plugins].reverse() : options.list.plugins;
  const answers: RawAnswer[] = [];
  for (const plugin of plugins) {
    const answer = await callPlugin(ctx, node, { ...options, plugin });
    answers.push(answer);
    if (!answer.ok) return { ok: false, answers };
  }
  return { ok: true, answers };
}

/** A short account of a raw answer for a check's `got`. */
export function describeRun(answer: RawAnswer): { plugin: string; exitCode: number | null; signal: string | null; stdout: string } {
  return { plugin: answer.type, exitCode: answer.run.exitCode, signal: answer.run.signal, stdout: answer.run.stdout.slice(0, 1000) };
}

/** The first plugin of a list with an `ipam` section naming a type, and its position. */
export function ipamPlugin(list: NetConfList): { index: number; plugin: JsonObject; ipam: JsonObject & { type: string } } | undefined {
  for (const [index, plugin] of list.plugins.entries()) {
    const ipam = plugin['ipam'];
    if (ipam !== null && typeof ipam === 'object' && typeof (ipam as JsonObject)['type'] === 'string') {
      return { index, plugin, ipam: ipam as JsonObject & { type: string } };
    }
  }
  return undefined;
}

/** Whether the IPAM keeps host-local's store (`<dataDir>/<network>/<address>` files). */
export function isHostLocalLike(list: NetConfList): boolean {
  const found = ipamPlugin(list);
  return found !== undefined && found.ipam.type.endsWith('host-local') && typeof found.ipam['dataDir'] === 'string';
}

/** The folder a host-local-style IPAM keeps this network's reservations in, when the IPAM is one. */
export function ipamStateDir(list: NetConfList): string | undefined {
  const found = ipamPlugin(list);
  if (found === undefined || !isHostLocalLike(list)) return undefined;
  return path.join(String(found.ipam['dataDir']), list.name);
}

/** Reservation files of a host-local-style store: one per reserved address, named by the address. */
export function reservationFiles(snapshot: NodeSnapshot): string[] {
  return snapshot.stateFiles.filter((file) => parseIp(path.basename(file)) !== undefined);
}

/** Snapshot of the node with the IPAM store of the list, for leftover checks. */
export function snapshotWithState(node: CaseNode, list: NetConfList): Promise<NodeSnapshot> {
  return snapshotNode(node.namespace, ipamStateDir(list));
}

/** An IPv6 link-local address as a snapshot lists it: the kernel adds one to every link that comes up, in its own time. */
export function isKernelLinkLocal(address: string): boolean {
  return / fe80:/i.test(address);
}

/**
 * What changed between two snapshots, ignoring what is not an attachment's:
 * host-local's `last_reserved_ip.*` cursor (it keeps moving by design), and
 * IPv6 link-local addresses, which the kernel adds to links in its own time
 * (a leftover link shows up among the links anyway).
 */
export function snapshotDiff(before: NodeSnapshot, after: NodeSnapshot): { leftBehind: string[]; removed: string[] } {
  const flatten = (snapshot: NodeSnapshot): string[] => [
    ...snapshot.links.map((link) => `link ${link}`),
    ...snapshot.addresses.filter((address) => !isKernelLinkLocal(address)).map((address) => `address ${address}`),
    ...snapshot.iptables.map((rule) => `iptables ${rule}`),
    ...snapshot.stateFiles.filter((file) => !path.basename(file).startsWith('last_reserved_ip')).map((file) => `state ${file}`),
  ];
  const beforeItems = flatten(before);
  const afterItems = flatten(after);
  return {
    leftBehind: afterItems.filter((item) => !beforeItems.includes(item)),
    removed: beforeItems.filter((item) => !afterItems.includes(item)),
  };
}

/** Checks that a node is back where it started: no link, address, rule or reservation added or lost. */
export function checkNoLeftovers(ctx: Ctx, options: { ids: readonly string[]; what: string; before: NodeSnapshot; after: NodeSnapshot }): boolean {
  const diff = snapshotDiff(options.before, options.after);
  return ctx.check(diff.leftBehind.length === 0 && diff.removed.length === 0, {
    ids: options.ids,
    what: options.what,
    expected: 'links, addresses, iptables rules and IPAM state files as before (last_reserved_ip.* and fe80:: addresses aside)',
    got: diff.leftBehind.length === 0 && diff.removed.length === 0 ? 'as before' : diff,
  });
}

/** Names of the links in a namespace. */
export async function linkNames(ns: Observable): Promise<string[]> {
  return (await readLinks(ns)).map((link) => link.name);
}

// Address arithmetic, both families, on bigints.

/** An address as a number with its family. */
export interface IpValue {
  readonly family: 4 | 6;
  readonly value: bigint;
}

/** Parses an IPv4 or IPv6 address (no prefix); undefined when it is neither. */
export function parseIp(text: string): IpValue | undefined {
  if (/^\d{1,3}(\.\d{1,3}){3}$/.test(text)) {
    const parts = text.split('.').map(Number);
    if (parts.some((part) => part > 255)) return undefined;
    return { family: 4, value: parts.reduce((acc, part) => (acc << 8n) | BigInt(part), 0n) };
  }
  if (!text.includes(':') || !/^[0-9a-fA-F:.]+$/.test(text)) return undefined;
  let head = text;
  let tail: bigint[] = [];
  const dotted = /:(\d{1,3}(\.\d{1,3}){3})$/.exec(text);
  if (dotted !== null && dotted[1] !== undefined) {
    const v4 = parseIp(dotted[1]);
    if (v4 === undefined) return undefined;
    head = text.slice(0, text.length - dotted[1].length) + '0:0';
    tail = [v4.value >> 16n, v4.value & 0xffffn];
  }
  const halves = head.split('::');
  if (halves.length > 2) return undefined;
  const toGroups = (part: string | undefined): string[] => (part === undefined || part === '' ? [] : part.split(':'));
  const left = toGroups(halves[0]);
  const right = toGroups(halves[1]);
  const missing = 8 - left.length - right.length;
  if ((halves.length === 1 && missing !== 0) || missing < 0) return undefined;
  const groups = [...left, ...Array<string>(halves.length === 2 ? missing : 0).fill('0'), ...right];
  if (groups.some((group) => !/^[0-9a-fA-F]{1,4}$/.test(group))) return undefined;
  let value = groups.reduce((acc, group) => (acc << 16n) | BigInt(parseInt(group, 16)), 0n);
  if (tail.length === 2) value = (value & ~0xffffffffn) | ((tail[0] ?? 0n) << 16n) | (tail[1] ?? 0n);
  return { family: 6, value };
}

/** Formats an address canonically (IPv6 compressed, lower case, as `ip` prints it). */
export function formatIp(ip: IpValue): string {
  if (ip.family === 4) return [24n, 16n, 8n, 0n].map((shift) => String((ip.value >> shift) & 0xffn)).join('.');
  const groups = [112n, 96n, 80n, 64n, 48n, 32n, 16n, 0n].map((shift) => Number((ip.value >> shift) & 0xffffn));
  let bestStart = -1;
  let bestLength = 1;
  for (let start = 0; start < 8; start += 1) {
    let length = 0;
    while (start + length < 8 && groups[start + length] === 0) length += 1;
    if (length > bestLength) [bestStart, bestLength] = [start, length];
  }
  const hex = groups.map((group) => group.toString(16));
  if (bestStart < 0) return hex.join(':');
  return `${hex.slice(0, bestStart).join(':')}::${hex.slice(bestStart + bestLength).join(':')}`;
}

/** An address in canonical form; the text itself when it does not parse. */
export function canonicalIp(text: string): string {
  const ip = parseIp(text);
  return ip === undefined ? text : formatIp(ip);
}

/** A CIDR in canonical form; with `network`, the host bits cleared (as a route's destination). */
export function canonicalCidr(text: string, network: boolean): string {
  const [address = '', prefixText] = text.split('/');
  const ip = parseIp(address);
  if (ip === undefined) return text;
  const bits = ip.family === 4 ? 32 : 128;
  const prefix = prefixText === undefined ? bits : Number(prefixText);
  const value = network ? ip.value & prefixMask(ip.family, prefix) : ip.value;
  return `${formatIp({ family: ip.family, value })}/${prefix}`;
}

function prefixMask(family: 4 | 6, prefix: number): bigint {
  const bits = BigInt(family === 4 ? 32 : 128);
  return ((1n << bits) - 1n) ^ ((1n << (bits - BigInt(prefix))) - 1n);
}

/** One host-local range: subnet with optional first, last and gateway addresses. */
export interface AddressRange {
  readonly subnet: string;
  readonly rangeStart?: string;
  readonly rangeEnd?: string;
  readonly gateway?: string;
}

/** The ranges of a host-local-style `ipam` section, first range set first (`ranges`, or the legacy top-level `subnet`). */
export function addressRanges(ipam: JsonObject): AddressRange[] {
  const ranges = ipam['ranges'];
  if (Array.isArray(ranges)) return ranges.flatMap((set) => (Array.isArray(set) ? (set as AddressRange[]) : []));
  if (typeof ipam['subnet'] === 'string') return [ipam as unknown as AddressRange];
  return [];
}

/**
 * The addresses of a range host-local could hand out, from the last one
 * backwards: the subnet without its network address, IPv4 broadcast and
 * gateway, limited to rangeStart–rangeEnd. At most `limit` of them.
 */
export function assignableAddresses(range: AddressRange, limit: number): string[] {
  const [network = '', prefixText = ''] = range.subnet.split('/');
  const base = parseIp(network);
  if (base === undefined) return [];
  const bits = base.family === 4 ? 32 : 128;
  const hostBits = BigInt(bits - Number(prefixText));
  const first = (base.value & prefixMask(base.family, Number(prefixText))) + 1n;
  let last = (base.value | ((1n << hostBits) - 1n)) - (base.family === 4 ? 1n : 0n);
  const start = range.rangeStart === undefined ? first : (parseIp(range.rangeStart)?.value ?? first);
  if (range.rangeEnd !== undefined) last = parseIp(range.rangeEnd)?.value ?? last;
  const gateway = range.gateway === undefined ? first : parseIp(range.gateway)?.value;
  const out: string[] = [];
  for (let value = last; value >= start && out.length < limit; value -= 1n) {
    if (value !== gateway) out.push(formatIp({ family: base.family, value }));
  }
  return out;
}

/** The address part of a CIDR. */
export function addressOf(cidr: string): string {
  return canonicalIp(cidr.split('/')[0] ?? cidr);
}

/** Which requirement each part of {@link checkResultHolds} is judged under. */
export interface ResultHoldsIds {
  readonly interfaces?: readonly string[];
  readonly addresses?: readonly string[];
  readonly routes?: readonly string[];
}

/**
 * Checks that what a result reports is true: each interface exists where its
 * `sandbox` puts it (the node when it has none) with the reported MAC and
 * MTU, each address of a container interface is configured on it, and each
 * route is in the container's routing table. Parts without IDs are not checked.
 */
export async function checkResultHolds(
  ctx: Ctx,
  options: { node: CaseNode; result: Result100; label: string; ids: ResultHoldsIds; containerNetns?: string },
): Promise<boolean> {
  const { result, node, ids, label } = options;
  const interfaces = result.interfaces ?? [];
  const linksAt = new Map<string, LinkState[] | undefined>();
  const links = async (sandbox: string): Promise<LinkState[] | undefined> => {
    if (!linksAt.has(sandbox)) linksAt.set(sandbox, await readLinks(sandbox === '' ? node.namespace : namespaceAt(sandbox)).catch(() => undefined));
    return linksAt.get(sandbox);
  };
  let holds = true;
  if (ids.interfaces !== undefined) {
    for (const entry of interfaces) {
      const sandbox = entry.sandbox ?? '';
      const where = sandbox === '' ? `the node namespace ${node.namespace.name}` : sandbox;
      const link = (await links(sandbox))?.find((candidate) => candidate.name === entry.name);
      holds &&= ctx.check(link !== undefined, {
        ids: ids.interfaces,
        what: `${label}: interface ${entry.name} exists in ${where}`,
        expected: entry.name,
        got: (await links(sandbox))?.map((candidate) => candidate.name) ?? `cannot enter ${where}`,
      });
      if (link === undefined) continue;
      if (entry.mac !== undefined && entry.mac !== '') {
        holds &&= ctx.check(link.mac === entry.mac.toLowerCase(), {
          ids: ids.interfaces,
          what: `${label}: interface ${entry.name} has the reported MAC address`,
          expected: entry.mac.toLowerCase(),
          got: link.mac ?? '(none)',
        });
      }
      if (entry.mtu !== undefined && entry.mtu > 0) {
        holds &&= ctx.check(link.mtu === entry.mtu, { ids: ids.interfaces, what: `${label}: interface ${entry.name} has the reported MTU`, expected: entry.mtu, got: link.mtu });
      }
    }
  }
  if (ids.addresses !== undefined) {
    for (const ip of result.ips ?? []) {
      const entry = ip.interface === undefined ? undefined : interfaces[ip.interface];
      if (entry === undefined || (entry.sandbox ?? '') === '') continue;
      const sandbox = entry.sandbox ?? '';
      const present = await readAddresses(namespaceAt(sandbox)).catch(() => [] as string[]);
      const wanted = `${entry.name} ${canonicalCidr(ip.address, false)}`;
      holds &&= ctx.check(present.includes(wanted), {
        ids: ids.addresses,
        what: `${label}: address ${ip.address} is configured on ${entry.name} in ${sandbox}`,
        expected: wanted,
        got: present.filter((address) => address.startsWith(`${entry.name} `)),
      });
    }
  }
  if (ids.routes !== undefined && (result.routes ?? []).length > 0) {
    // Routes belong in the container's namespace: CNI_NETNS when the caller knows it, else where the result puts the container.
    const sandbox = options.containerNetns ?? interfaces.find((entry) => (entry.sandbox ?? '') !== '')?.sandbox;
    const installed = sandbox === undefined ? [] : await readRoutes(namespaceAt(sandbox)).catch(() => [] as RouteState[]);
    for (const route of result.routes ?? []) {
      const dst = canonicalCidr(route.dst, true);
      const table = route.table === undefined ? 'main' : String(route.table);
      const gw = route.gw === undefined ? undefined : canonicalIp(route.gw);
      const found = installed.some((candidate) => candidate.dst === dst && candidate.table === table && (gw === undefined || candidate.gw === gw));
      holds &&= ctx.check(found, {
        ids: ids.routes,
        what: `${label}: route to ${route.dst}${gw === undefined ? '' : ` via ${gw}`} is in table ${table} of ${sandbox ?? '(no container interface in the result)'}`,
        expected: { dst, table, ...(gw === undefined ? {} : { gw }) },
        got: installed.filter((candidate) => candidate.table !== 'local'),
      });
    }
  }
  return holds;
}

/**
 * Checks that an attachment is in place in its container, whatever the
 * result says about where: CNI_IFNAME exists in the pod and carries the
 * addresses the result gives it (the entries pointing at CNI_IFNAME, or all
 * when the result has a single address).
 */
export async function checkAttachmentInPlace(
  ctx: Ctx,
  options: { pod: Observable; rt: RuntimeConf; result: Result100 | undefined; label: string; ids: readonly string[] },
): Promise<boolean> {
  const { pod, rt, result, label, ids } = options;
  const links = await linkNames(pod);
  let holds = ctx.check(links.includes(rt.ifName), { ids, what: `${label}: ${rt.ifName} is in the container`, expected: rt.ifName, got: links });
  const index = result === undefined ? -1 : (result.interfaces ?? []).findIndex((entry) => entry.name === rt.ifName);
  const ips = (result?.ips ?? []).filter((ip) => ip.interface === index || (result?.ips ?? []).length === 1);
  const present = await readAddresses(pod);
  for (const ip of ips) {
    const wanted = `${rt.ifName} ${canonicalCidr(ip.address, false)}`;
    holds &&= ctx.check(present.includes(wanted), {
      ids,
      what: `${label}: ${ip.address} is on ${rt.ifName}`,
      expected: wanted,
      got: present.filter((address) => address.startsWith(`${rt.ifName} `)),
    });
  }
  return holds;
}

/**
 * Deletes a pod's namespace the way a runtime does when the container is
 * gone, and waits until the kernel (which tears a namespace down in the
 * background) has also removed the node ends of the veths that led into it,
 * so that what remains afterwards is the plugin's doing.
 */
export async function removePodAndSettle(node: CaseNode, pod: NetworkNamespace, timeoutMs = 15_000): Promise<void> {
  const peers = new Set((await readLinks(pod)).flatMap((link) => (link.peerIndex === undefined ? [] : [link.peerIndex])));
  await pod.remove();
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    const remaining = (await readLinks(node.namespace)).filter((link) => peers.has(link.index) && link.peerIndex !== undefined);
    if (remaining.length === 0) return;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

/**
 * A node that already holds one attachment of the network, so what
 * attachments share (a bridge, its gateway address, common chains) exists
 * before the attachment under test, and a before/after snapshot sees only
 * that attachment's own things.
 */
export async function nodeWithNeighbour(ctx: Ctx, list: NetConfList): Promise<{ node: CaseNode; neighbour: RuntimeConf; neighbourResult: Result100 | undefined }> {
  const node = await caseNode(ctx);
  const pod = await caseNamespace(ctx, 'nbr');
  const neighbour = podRuntime(ctx, pod);
  const value = await addPod(ctx, node, list, neighbour);
  return { node, neighbour, neighbourResult: asResult(value) };
}

/** A case's own copy of the network on a node with a neighbour, and a fresh pod with its runtime parameters. */
export async function attachmentScene(ctx: Ctx): Promise<{ list: NetConfList; node: CaseNode; pod: NetworkNamespace; rt: RuntimeConf }> {
  const list = networkCopy(ctx);
  const { node } = await nodeWithNeighbour(ctx, list);
  const pod = await caseNamespace(ctx, 'pod');
  return { list, node, pod, rt: podRuntime(ctx, pod) };
}

/** Documentation prefixes (RFC 5737, RFC 3849) for routes a case asks the IPAM to hand out. */
const testRoutes = {
  4: [{ dst: '198.51.100.0/24', viaGateway: false }, { dst: '203.0.113.0/24', viaGateway: true }],
  6: [{ dst: '2001:db8:ffff:1::/64', viaGateway: false }, { dst: '2001:db8:ffff:2::/64', viaGateway: true }],
} as const;

/**
 * A copy of the network whose host-local-style IPAM also hands out two
 * routes of its first range's family (one with `gw`, the range's gateway),
 * so a case has routes to look for; undefined when the IPAM is not
 * host-local-like or its range cannot be read.
 */
export function listWithRoutes(ctx: Ctx): NetConfList | undefined {
  const list = networkCopy(ctx);
  const found = isHostLocalLike(list) ? ipamPlugin(list) : undefined;
  const range = found === undefined ? undefined : addressRanges(found.ipam)[0];
  const [network = '', prefix = ''] = range?.subnet.split('/') ?? [];
  const base = parseIp(network);
  if (found === undefined || range === undefined || base === undefined) return undefined;
  // host-local's default gateway is the subnet's first address.
  const gw = range.gateway ?? formatIp({ family: base.family, value: (base.value & prefixMask(base.family, Number(prefix))) + 1n });
  const routes = testRoutes[base.family].map((route) => ({ dst: route.dst, ...(route.viaGateway ? { gw } : {}) }));
  found.ipam['routes'] = [...((found.ipam['routes'] as JsonObject[] | undefined) ?? []), ...routes];
  return list;
}

/** A CniError for a check's `got`, with the plugin's stderr (its `details`) when there is any. */
export function describeError(error: CniError): { code: number; msg: string; details?: string } {
  return { code: error.code, msg: error.msg, ...(error.details === undefined ? {} : { details: error.details.slice(0, 1000) }) };
}
