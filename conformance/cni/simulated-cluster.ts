import path from 'node:path';
import { toResult100, type AnyResult, type JsonObject, type NetConfList, type Result100, type RuntimeConf } from '../../specs/cni/index.js';
import type { CaseContext } from '../framework/index.js';
import { addPod, attempt, caseNamespace, caseNode, networkCopy, podRuntime, type CaseNode, type InvokeOutcome } from './cni-harness.js';
import type { CniSubject } from './cni-subject.js';
import type { NetworkNamespace } from './network-namespaces.js';
import { joinNodesOnUnderlay, settleAll } from './node-underlay.js';

type Ctx = CaseContext<CniSubject>;

/**
 * The Service range the simulation assumes: kubeadm's default
 * `networking.serviceSubnet`. Pods must stay out of it (KUBE-NET-003).
 */
export const simulatedServiceRange = '10.96.0.0/12';

/** Node networks the underlay may use, the first that overlaps neither the pod range nor the Service range wins. */
const underlayCandidates = ['192.168.200.0/24', '172.31.200.0/24', '10.254.200.0/24'] as const;

export { settleAll, uplinkName } from './node-underlay.js';

// ---- IPv4 arithmetic, just enough to carve and compare ranges ----

/** An IPv4 network: its first address as an unsigned 32-bit number and its prefix length. */
export interface Ipv4Network {
  readonly base: number;
  readonly prefix: number;
}

/** Parses dotted-quad IPv4 into an unsigned number, or undefined. */
export function parseIpv4(text: string): number | undefined {
  const parts = text.split('.');
  if (parts.length !== 4 || parts.some((part) => !/^\d{1,3}$/.test(part) || Number(part) > 255)) return undefined;
  return parts.reduce((value, part) => value * 256 + Number(part), 0);
}

/** Formats an unsigned number as dotted-quad IPv4. */
export function formatIpv4(value: number): string {
  return [24, 16, 8, 0].map((shift) => Math.floor(value / 2 ** shift) % 256).join('.');
}

/** Parses `a.b.c.d/n` into the network it lies in (host bits cleared), or undefined. */
export function parseIpv4Network(cidr: string): Ipv4Network | undefined {
  const [address, prefixText] = cidr.split('/');
  const ip = parseIpv4(address ?? '');
  const prefix = Number(prefixText);
  if (ip === undefined || prefixText === undefined || !/^\d{1,2}$/.test(prefixText) || prefix > 32) return undefined;
  const size = 2 ** (32 - prefix);
  return { base: ip - (ip % size), prefix };
}

/** `a.b.c.d/n` of a network. */
export function formatIpv4Network(network: Ipv4Network): string {
  return `${formatIpv4(network.base)}/${network.prefix}`;
}

function networkSize(network: Ipv4Network): number {
  return 2 ** (32 - network.prefix);
}

/** Whether an IPv4 address (without prefix) lies in a network. */
export function ipv4InNetwork(address: string, network: Ipv4Network): boolean {
  const ip = parseIpv4(address);
  return ip !== undefined && ip >= network.base && ip < network.base + networkSize(network);
}

/** Whether two networks share any address. */
export function networksOverlap(a: Ipv4Network, b: Ipv4Network): boolean {
  return a.base < b.base + networkSize(b) && b.base < a.base + networkSize(a);
}

// ---- The plan: per-node configurations derived from the subject's ----

/** One node of the plan: its name, underlay address and pod range. */
export interface NodePlan {
  readonly index: number;
  /** `node-0`, `node-1`…: how evidence names the node. */
  readonly name: string;
  readonly underlayAddress: string;
  readonly podRange: Ipv4Network;
}

/** What the simulation will build, decided before anything is created. */
export interface ClusterPlan {
  /** The IPv4 range of the subject's configuration the node ranges are carved from. */
  readonly clusterRange: Ipv4Network;
  readonly underlay: Ipv4Network;
  readonly nodes: readonly NodePlan[];
}

/** A plan, or why the subject's configuration cannot be simulated as a cluster. */
export type ClusterPlanOutcome = { ok: true; plan: ClusterPlan } | { ok: false; reason: string };

interface IpamSection extends JsonObject {
  type?: string;
  ranges?: unknown;
  subnet?: unknown;
  routes?: unknown;
}

function ipamOf(plugin: JsonObject): IpamSection | undefined {
  const ipam = plugin['ipam'];
  return typeof ipam === 'object' && ipam !== null && !Array.isArray(ipam) ? (ipam as IpamSection) : undefined;
}

/** The first IPv4 subnet of a host-local-style IPAM section (`ranges` or the older top-level `subnet`). */
function firstIpv4Subnet(ipam: IpamSection): Ipv4Network | undefined {
  const subnets: unknown[] = [];
  if (Array.isArray(ipam.ranges)) {
    for (const set of ipam.ranges) if (Array.isArray(set)) for (const range of set) subnets.push((range as JsonObject | null)?.['subnet']);
  }
  subnets.push(ipam.subnet);
  for (const subnet of subnets) {
    if (typeof subnet !== 'string') continue;
    const network = parseIpv4Network(subnet);
    if (network !== undefined) return network;
  }
  return undefined;
}

/**
 * Plans a cluster of `nodeCount` nodes: carves one pod range per node out of
 * the first IPv4 subnet of the configuration's host-local-style IPAM (a /24
 * each from a /22 or larger, else slices two bits longer than the subnet)
 * and picks an underlay network apart from the pod and Service ranges.
 */
export function planCluster(list: NetConfList, nodeCount: number): ClusterPlanOutcome {
  const withIpam = list.plugins.map(ipamOf).filter((ipam): ipam is IpamSection => ipam !== undefined);
  const clusterRange = withIpam.map(firstIpv4Subnet).find((network) => network !== undefined);
  if (clusterRange === undefined) {
    return {
      ok: false,
      reason:
        'the simulated cluster needs a host-local-style IPAM (an IPv4 `ranges` subnet or `subnet`) to carve per-node pod ranges from; ' +
        `this configuration's IPAM (${withIpam.map((ipam) => String(ipam.type)).join(', ') || 'none'}) has none`,
    };
  }
  const slicePrefix = Math.max(24, clusterRange.prefix + 2);
  // Each node needs a gateway and two pods besides its network and broadcast addresses: a /29 at most.
  if (slicePrefix > 29 || 2 ** (slicePrefix - clusterRange.prefix) < nodeCount) {
    return { ok: false, reason: `the configured subnet ${formatIpv4Network(clusterRange)} is too small to carve ${nodeCount} node ranges of at least a /29` };
  }
  const service = parseIpv4Network(simulatedServiceRange) as Ipv4Network;
  const underlay = underlayCandidates
    .map((cidr) => parseIpv4Network(cidr) as Ipv4Network)
    .find((network) => !networksOverlap(network, clusterRange) && !networksOverlap(network, service));
  if (underlay === undefined) {
    return { ok: false, reason: `no node network candidate (${underlayCandidates.join(', ')}) is apart from ${formatIpv4Network(clusterRange)}` };
  }
  const sliceSize = 2 ** (32 - slicePrefix);
  const nodes = Array.from({ length: nodeCount }, (_, index) => ({
    index,
    name: `node-${index}`,
    underlayAddress: formatIpv4(underlay.base + 10 + index),
    podRange: { base: clusterRange.base + index * sliceSize, prefix: slicePrefix },
  }));
  return { ok: true, plan: { clusterRange, underlay, nodes } };
}

/** A node's configuration and what the harness changed in the subject's to make it, each with why. */
export interface NodeConfiguration {
  readonly list: NetConfList;
  readonly changes: readonly string[];
}

/**
 * The configuration one node's kubelet would use: the case's copy of the
 * subject's list with this node's pod range, its own dataDir, a gateway for
 * its pods and its own bridge name. ipMasq and every other field stay as
 * configured: masquerading pod traffic breaks the network model, and a
 * configuration that asks for it must fail.
 */
export function nodeConfiguration(base: NetConfList, node: NodePlan, stateDir: string): NodeConfiguration {
  const list = structuredClone(base) as NetConfList;
  const changes: string[] = [];
  for (const plugin of list.plugins) {
    const type = String(plugin['type']);
    if (type.endsWith('bridge') || 'isGateway' in plugin) {
      // Without a gateway address on the node's bridge, pods have no way off their node.
      if (plugin['isGateway'] !== true) {
        changes.push(`${type}: isGateway ${JSON.stringify(plugin['isGateway'] ?? null)} → true, so pods have a gateway on their node`);
      }
      plugin['isGateway'] = true;
      const bridge = `${String(plugin['bridge'] ?? 'cni0').slice(0, 11)}-n${node.index}`;
      changes.push(`${type}: bridge ${JSON.stringify(plugin['bridge'] ?? null)} → ${bridge} (a name per node)`);
      plugin['bridge'] = bridge;
    }
    const ipam = ipamOf(plugin);
    if (ipam === undefined || firstIpv4Subnet(ipam) === undefined) continue;
    const subnet = formatIpv4Network(node.podRange);
    // A cluster hands each node its own podCIDR: the node's range replaces the configured ones.
    if (Array.isArray(ipam.ranges)) {
      const ipv6Note = JSON.stringify(ipam.ranges).includes(':') ? '; IPv6 ranges are left out, as the underlay is IPv4' : '';
      changes.push(
        `${type}: ipam.ranges ${JSON.stringify(ipam.ranges)} → [[{"subnet":"${subnet}"}]] ` +
          `(this node's pod range replaces the configured ranges with their rangeStart, rangeEnd and gateway${ipv6Note})`,
      );
      ipam.ranges = [[{ subnet }]];
    } else {
      const dropped = ['rangeStart', 'rangeEnd', 'gateway'].filter((field) => field in ipam);
      const droppedNote = dropped.length > 0 ? `, ${dropped.join(', ')} dropped with the original subnet` : '';
      changes.push(`${type}: ipam.subnet ${JSON.stringify(ipam.subnet)} → ${subnet} (this node's pod range)${droppedNote}`);
      ipam.subnet = subnet;
      for (const field of dropped) delete ipam[field];
    }
    if (typeof ipam.type === 'string' && ipam.type.endsWith('host-local')) {
      // Each node has its own disk; sharing one store would let nodes see each other's reservations.
      ipam['dataDir'] = path.join(stateDir, node.name, 'ipam');
      changes.push(`${type}: ipam.dataDir → a folder of this node's own`);
    }
    const routes = Array.isArray(ipam.routes) ? (ipam.routes as JsonObject[]) : [];
    if (plugin['isDefaultGateway'] !== true && !routes.some((route) => route['dst'] === '0.0.0.0/0')) {
      // Other nodes' pod ranges and the node network lie beyond the pod's own subnet.
      ipam.routes = [...routes, { dst: '0.0.0.0/0' }];
      changes.push(
        `${type}: ipam.routes gains {"dst":"0.0.0.0/0"} (via the node gateway), as neither isDefaultGateway nor a default route was configured, ` +
          'so pods can leave their node',
      );
    }
    if (plugin['ipMasq'] === true) changes.push(`${type}: ipMasq true kept as configured (masquerading pod traffic breaks KUBE-NET-006)`);
  }
  return { list, changes };
}

// ---- Building the cluster ----

/** A node of the running simulation. */
export interface SimulatedNode extends NodePlan {
  readonly node: CaseNode;
  readonly list: NetConfList;
}

/** A pod of the running simulation, after its ADD. */
export interface SimulatedPod {
  /** `node-0/pod-1`: how evidence names the pod. */
  readonly name: string;
  readonly node: SimulatedNode;
  readonly namespace: NetworkNamespace;
  readonly runtime: RuntimeConf;
  readonly outcome: InvokeOutcome<Result100>;
}

/** The underlay, the nodes and their pods. */
export interface SimulatedCluster {
  readonly plan: ClusterPlan;
  readonly underlay: NetworkNamespace;
  readonly nodes: readonly SimulatedNode[];
}

/**
 * Builds the cluster of a plan: an underlay namespace holding a bridge, one
 * node namespace per node (through caseNode, so plugins run inside it)
 * joined to the underlay by a veth with its node address, forwarding on, and
 * in each node a route to every other node's pod range via that node's
 * address (the cluster's routing job, done by the harness as kubenet's
 * host-gw routes would be). Everything is removed through ctx.defer.
 */
export async function buildCluster(ctx: Ctx, plan: ClusterPlan): Promise<SimulatedCluster> {
  const base = networkCopy(ctx);
  const stateDir = path.join(ctx.subject.runDir, base.name);
  const underlay = await caseNamespace(ctx, 'underlay');
  const nodes = await settleAll(
    plan.nodes.map(async (nodePlan): Promise<SimulatedNode> => {
      const node = await caseNode(ctx, `node${nodePlan.index}`);
      const { list, changes } = nodeConfiguration(base, nodePlan, stateDir);
      if (nodePlan.index === 0) {
        ctx.note(
          "harness changes to the configuration on each node (node-0's shown; the others differ only in pod range, bridge name and dataDir): " +
            (changes.join('; ') || 'none'),
        );
      }
      return { ...nodePlan, node, list };
    }),
  );
  // The links live and die with the namespaces, which ctx.defer already removes.
  await joinNodesOnUnderlay({
    underlay,
    prefix: plan.underlay.prefix,
    nodes: nodes.map((node) => ({ index: node.index, namespace: node.node.namespace, address: node.underlayAddress, podRange: formatIpv4Network(node.podRange) })),
  });
  ctx.note(
    `simulated cluster: ${nodes.length} nodes on underlay ${formatIpv4Network(plan.underlay)}, ` +
      `pod ranges carved from ${formatIpv4Network(plan.clusterRange)}: ` +
      nodes.map((n) => `${n.name} ${n.underlayAddress} pods ${formatIpv4Network(n.podRange)} in ${n.node.namespace.name}`).join(', '),
  );
  ctx.note(
    "cross-node routing is the cluster's job, not the plugin's: the harness enabled IPv4 forwarding in every node namespace and added, " +
      "in each, a route to every other node's pod range via that node's underlay address (as kubenet with host-gw routes)",
  );
  return { plan, underlay, nodes };
}

/**
 * ADDs `podsPerNode` pods to every node (pods of one node one after another,
 * nodes in parallel), each in a pod namespace of its own, DEL registered
 * before the ADD. Failed ADDs come back as outcomes for the case to judge.
 */
export async function addClusterPods(ctx: Ctx, cluster: SimulatedCluster, podsPerNode: number): Promise<SimulatedPod[]> {
  const perNode = await settleAll(
    cluster.nodes.map(async (node) => {
      const pods: SimulatedPod[] = [];
      for (let index = 0; index < podsPerNode; index += 1) {
        const namespace = await caseNamespace(ctx, 'pod');
        const runtime = podRuntime(ctx, namespace);
        const outcome = await attempt(async () => toResult100((await addPod(ctx, node.node, node.list, runtime)) as AnyResult));
        pods.push({ name: `${node.name}/pod-${index}`, node, namespace, runtime, outcome });
      }
      return pods;
    }),
  );
  return perNode.flat();
}

/**
 * The pod's IPv4 addresses as its result reports them (without prefix): those
 * on a container interface (one with a sandbox) or with no interface index;
 * when the interface references say nothing usable (a bad index, no
 * sandbox), every IPv4 address, since those rules are judged by other cases
 * and the network model is about where traffic goes.
 */
export function podAddresses(result: Result100): string[] {
  const ipv4 = (result.ips ?? []).filter((ip) => parseIpv4(ip.address.split('/')[0] ?? '') !== undefined);
  const onPod = ipv4.filter((ip) => ip.interface === undefined || result.interfaces?.[ip.interface]?.sandbox !== undefined);
  return (onPod.length > 0 ? onPod : ipv4).map((ip) => ip.address.split('/')[0] ?? '');
}

/** Every IPv4 address configured in a namespace, but loopback's. */
export async function namespaceAddresses(namespace: NetworkNamespace): Promise<{ ifname: string; address: string; prefix: number }[]> {
  const links = JSON.parse((await namespace.exec('ip', ['-j', '-4', 'addr', 'show'])).stdout || '[]') as {
    ifname: string;
    addr_info?: { local: string; prefixlen: number }[];
  }[];
  return links
    .filter((link) => link.ifname !== 'lo')
    .flatMap((link) => (link.addr_info ?? []).map((info) => ({ ifname: link.ifname, address: info.local, prefix: info.prefixlen })));
}
