/**
 * The Kubernetes network model (KUBE-NET) on a simulated cluster: three node
 * namespaces on a shared underlay, each running the subject with its own
 * pod range, two pods per node, and real TCP (and, where `ping` is
 * installed, ICMP) traffic between pods and nodes.
 */
import type { Result100 } from '../../specs/cni/index.js';
import type { CaseContext, Suite } from '../framework/index.js';
import type { CniSubject } from './cni-subject.js';
import type { NetworkNamespace } from './network-namespaces.js';
import {
  addClusterPods,
  buildCluster,
  formatIpv4Network,
  ipv4InNetwork,
  namespaceAddresses,
  parseIpv4Network,
  planCluster,
  podAddresses,
  settleAll,
  simulatedServiceRange,
  networksOverlap,
  type SimulatedCluster,
  type SimulatedNode,
  type SimulatedPod,
} from './simulated-cluster.js';
import { findPing, icmpProbe, mapWithLimit, startProbeServer, tcpProbes, type IcmpProbeOutcome, type TcpProbeOutcome } from './traffic.js';

type Ctx = CaseContext<CniSubject>;

const nodeCount = 3;
const podsPerNode = 2;
const needs = { root: true, netns: true } as const;
// Building the cluster takes 6 ADDs and 6 DELs and the probes are each bounded by 2 s; measured at 1–12 s, the margin is for slow plugins.
const timeoutMs = 120_000;

/** A pod whose ADD succeeded, with the IPv4 address it is known by (the first its result reports). */
interface ReadyPod extends SimulatedPod {
  readonly result: Result100;
  readonly address: string;
  readonly addresses: readonly string[];
}

/**
 * Plans and builds the cluster and ADDs every pod; the case stops (failing
 * its IDs) when an ADD fails or a result holds no IPv4 pod address, since
 * then there is no network to judge. Not-applicable when the configuration
 * has no host-local-style range to carve per-node ranges from.
 */
async function simulateCluster(ctx: Ctx): Promise<{ cluster: SimulatedCluster; pods: ReadyPod[] }> {
  const planned = planCluster(ctx.subject.list, nodeCount);
  if (!planned.ok) ctx.notApplicable(planned.reason);
  const cluster = await buildCluster(ctx, planned.plan);
  const added = await addClusterPods(ctx, cluster, podsPerNode);
  const failed = added.flatMap((pod) => (pod.outcome.ok ? [] : [`${pod.name}: error ${pod.outcome.error.code} ${pod.outcome.error.msg}`]));
  ctx.require(failed.length === 0, {
    what: `ADD succeeds for every pod of the simulated cluster (${nodeCount} nodes × ${podsPerNode} pods)`,
    expected: 'a result for every pod',
    got: failed.length === 0 ? 'a result for every pod' : failed,
  });
  const pods = added.map((pod) => {
    const result = (pod.outcome as { value: Result100 }).value;
    const addresses = podAddresses(result);
    return { ...pod, result, addresses, address: addresses[0] ?? '' };
  });
  const missing = pods.filter((pod) => pod.address === '');
  ctx.require(missing.length === 0, {
    what: 'every pod result reports an IPv4 address for the pod',
    expected: 'at least one IPv4 address in `ips` of every result',
    got: missing.length === 0 ? pods.map((pod) => `${pod.name}: ${pod.address}`) : missing.map((pod) => ({ pod: pod.name, result: pod.result })),
  });
  ctx.note(`pods: ${pods.map((pod) => `${pod.name} ${pod.address} (${pod.namespace.name})`).join(', ')}`);
  return { cluster, pods };
}

/**
 * Records a check that only traffic which got through can decide (source
 * addresses, who answered): fails on any observed violation; passes only if
 * every case was observed; otherwise records no check, only a note, so the
 * requirement stays not-checked rather than passing on partial evidence.
 */
function checkObserved(
  ctx: Ctx,
  input: { ids: readonly string[]; what: string; expected: string; observed: readonly string[]; violations: readonly string[]; unobserved: readonly string[] },
): void {
  if (input.violations.length > 0 || (input.unobserved.length === 0 && input.observed.length > 0)) {
    ctx.check(input.violations.length === 0, {
      ids: input.ids,
      what: input.what,
      expected: input.expected,
      got: input.violations.length > 0 ? { violations: input.violations, unobserved: input.unobserved } : input.observed,
    });
    return;
  }
  ctx.note(`${input.ids.join(', ')} not decided (${input.what}): no traffic got through for ${input.unobserved.join('; ')}`);
}

/** One probe from a namespace to an address, and whom it should reach there. */
interface Probe {
  readonly from: string;
  readonly to: string;
  readonly address: string;
  /** The token of the probe server that must answer: the intended pod or node. */
  readonly token: string;
  readonly tcp: TcpProbeOutcome;
  /** The ICMP echo outcome, when `ping` is installed. */
  readonly icmp?: IcmpProbeOutcome;
}

function describe(probe: Probe): string {
  const head = `${probe.from} → ${probe.to} (${probe.address})`;
  const answer = probe.tcp.answer;
  if (answer === undefined) return `${head}: ${probe.tcp.error ?? 'no answer'}`;
  return `${head}: answered by ${answer.token} at ${answer.local}, source seen ${answer.remote}`;
}

function answeredByTarget(probe: Probe): boolean {
  return probe.tcp.answer?.token === probe.token;
}

/** Where probes go from one namespace. */
interface ProbeSource {
  readonly name: string;
  readonly namespace: NetworkNamespace;
  readonly targets: readonly { readonly name: string; readonly address: string; readonly token: string }[];
}

/**
 * Probes every target of every source: TCP with one client process per
 * source, sources in parallel, and at the same time one ICMP echo per pair
 * when `ping` is installed.
 */
async function probeAll(ping: string | undefined, sources: readonly ProbeSource[]): Promise<Probe[]> {
  const pairs = sources.flatMap((source) => source.targets.map((target) => ({ source, target })));
  const [tcp, icmp] = await Promise.all([
    Promise.all(sources.map((source) => tcpProbes(source.namespace, source.targets.map((target) => target.address)))),
    ping === undefined ? undefined : mapWithLimit(pairs, 8, ({ source, target }) => icmpProbe(source.namespace, ping, target.address)),
  ]);
  const tcpOutcomes = tcp.flat();
  return pairs.map(({ source, target }, index): Probe => {
    const icmpOutcome = icmp?.[index];
    return {
      from: source.name,
      to: target.name,
      address: target.address,
      token: target.token,
      tcp: tcpOutcomes[index] ?? { address: target.address, error: 'no outcome', durationMs: 0 },
      ...(icmpOutcome === undefined ? {} : { icmp: icmpOutcome }),
    };
  });
}

/**
 * Reachability of a group of probes: every TCP probe answered by the
 * intended pod or node and, when `ping` is installed, every ICMP echo answered.
 */
function checkReached(ctx: Ctx, ids: readonly string[], what: string, probes: readonly Probe[]): void {
  const unreached = probes.filter((probe) => !answeredByTarget(probe));
  ctx.check(probes.length > 0 && unreached.length === 0, {
    ids,
    what: `${what} (TCP, ${probes.length} probes)`,
    expected: 'every probe answered by the intended namespace',
    got: unreached.length === 0 ? probes.map(describe) : { unreached: unreached.map(describe), reached: probes.length - unreached.length },
  });
  const withIcmp = probes.filter((probe) => probe.icmp !== undefined);
  if (withIcmp.length === 0) return;
  const line = (probe: Probe): string => `${probe.from} → ${probe.to} (${probe.address}): ${probe.icmp?.detail}`;
  const noReply = withIcmp.filter((probe) => probe.icmp?.reached !== true);
  ctx.check(noReply.length === 0, {
    ids,
    what: `${what} (ICMP echo, ping -c 1 -W 2, ${withIcmp.length} probes)`,
    expected: 'an echo reply for every probe',
    got: noReply.length === 0 ? withIcmp.map(line) : { unreached: noReply.map(line), reached: withIcmp.length - noReply.length },
  });
}

async function noteProbeMethod(ctx: Ctx): Promise<string | undefined> {
  const ping = await findPing();
  ctx.note(
    ping === undefined
      ? 'ping is not installed (the suite installs nothing): reachability is judged by TCP probes only'
      : `reachability is judged by TCP probes and by ICMP echo with ${ping}`,
  );
  return ping;
}

/** Starts a probe server in every pod, answering with the pod's name. */
async function servePods(ctx: Ctx, pods: readonly ReadyPod[]): Promise<void> {
  await settleAll(pods.map((pod) => startProbeServer(ctx, pod.namespace, pod.name)));
}

/** Declares the Kubernetes network model cases (KUBE-NET-001 … KUBE-NET-010). */
export function declareNetworkModelCases(suite: Suite<CniSubject>): void {
  suite.declare({
    ids: ['KUBE-NET-001', 'KUBE-NET-002', 'KUBE-NET-003'],
    title: 'Pods on a simulated three-node cluster get unique addresses from disjoint node ranges, apart from node and Service addresses',
    needs,
    timeoutMs,
    async run(ctx: Ctx) {
      const { cluster, pods } = await simulateCluster(ctx);

      const holders = new Map<string, string[]>();
      for (const pod of pods) for (const address of pod.addresses) holders.set(address, [...(holders.get(address) ?? []), pod.name]);
      const shared = [...holders].filter(([, names]) => names.length > 1).map(([address, names]) => `${address} held by ${names.join(' and ')}`);
      ctx.check(shared.length === 0, {
        ids: ['KUBE-NET-001'],
        what: `no two of the ${pods.length} pods, on any node, share an address`,
        expected: 'every pod address distinct',
        got: shared.length === 0 ? pods.map((pod) => `${pod.name}: ${pod.addresses.join(', ')}`) : shared,
      });

      // The harness gave each node a disjoint range; the plugin keeps ranges disjoint only if it hands out addresses from its node's range alone.
      const outside = pods.flatMap((pod) =>
        pod.addresses
          .filter((address) => !ipv4InNetwork(address, pod.node.podRange))
          .map((address) => `${pod.name}: ${address} is outside ${formatIpv4Network(pod.node.podRange)}`),
      );
      ctx.check(outside.length === 0, {
        ids: ['KUBE-NET-002'],
        what: "every pod's address comes from its own node's pod range",
        expected: cluster.nodes.map((node) => `${node.name} pods in ${formatIpv4Network(node.podRange)}`),
        got: outside.length === 0 ? pods.map((pod) => `${pod.name}: ${pod.addresses.join(', ')}`) : outside,
      });
      // The subnets the results put the pods in are the ranges each node uses in effect: they must not overlap across nodes.
      const subnets = pods.flatMap((pod) =>
        (pod.result.ips ?? []).flatMap((ip) => {
          const network = parseIpv4Network(ip.address);
          return network === undefined ? [] : [{ pod, network }];
        }),
      );
      const overlapping = subnets.flatMap((a) =>
        subnets
          .filter((b) => a.pod.node.index < b.pod.node.index && networksOverlap(a.network, b.network))
          .map((b) => `${a.pod.name} ${formatIpv4Network(a.network)} overlaps ${b.pod.name} ${formatIpv4Network(b.network)}`),
      );
      ctx.check(overlapping.length === 0, {
        ids: ['KUBE-NET-002'],
        what: 'the pod subnets the results report on different nodes are disjoint',
        expected: 'no subnet of one node overlapping a subnet of another',
        got: overlapping.length === 0 ? [...new Set(subnets.map((s) => `${s.pod.node.name}: ${formatIpv4Network(s.network)}`))] : [...new Set(overlapping)],
      });

      const service = parseIpv4Network(simulatedServiceRange);
      const inService = pods.flatMap((pod) =>
        pod.addresses.filter((address) => service !== undefined && ipv4InNetwork(address, service)).map((address) => `${pod.name}: ${address}`),
      );
      ctx.check(inService.length === 0, {
        ids: ['KUBE-NET-003'],
        what: `no pod address falls in the simulated Service range ${simulatedServiceRange} (kubeadm's default serviceSubnet)`,
        expected: `every pod address outside ${simulatedServiceRange}`,
        got: inService.length === 0 ? pods.map((pod) => `${pod.name}: ${pod.addresses.join(', ')}`) : inService,
      });
      // Node addresses: everything configured in the node namespaces after the ADDs (underlay address, bridge gateway…), and the node network itself.
      const nodeAddresses = (
        await Promise.all(cluster.nodes.map(async (node) => (await namespaceAddresses(node.node.namespace)).map((a) => ({ node: node.name, ...a }))))
      ).flat();
      const nodeNetwork = formatIpv4Network(cluster.plan.underlay);
      const clashes = pods.flatMap((pod) =>
        pod.addresses.flatMap((address) => [
          ...nodeAddresses.filter((a) => a.address === address).map((a) => `${pod.name}: ${address} is also ${a.node}'s address on ${a.ifname}`),
          ...(ipv4InNetwork(address, cluster.plan.underlay) ? [`${pod.name}: ${address} is in the node network ${nodeNetwork}`] : []),
        ]),
      );
      ctx.check(clashes.length === 0, {
        ids: ['KUBE-NET-003'],
        what: 'no pod address equals a node address or lies in the node network',
        expected: { nodeAddresses: nodeAddresses.map((a) => `${a.node} ${a.ifname} ${a.address}/${a.prefix}`), nodeNetwork },
        got: clashes.length === 0 ? pods.map((pod) => `${pod.name}: ${pod.addresses.join(', ')}`) : clashes,
      });
    },
  });

  suite.declare({
    ids: ['KUBE-NET-004', 'KUBE-NET-005', 'KUBE-NET-006', 'KUBE-NET-007'],
    title: 'Pods on a simulated three-node cluster reach every other pod at its reported address, across nodes, keeping their own source address',
    needs,
    timeoutMs,
    async run(ctx: Ctx) {
      const ping = await noteProbeMethod(ctx);
      const { pods } = await simulateCluster(ctx);
      await servePods(ctx, pods);

      const probes = await probeAll(
        ping,
        pods.map((source) => ({
          name: source.name,
          namespace: source.namespace,
          targets: pods.filter((target) => target !== source).map((target) => ({ name: target.name, address: target.address, token: target.name })),
        })),
      );
      const podByName = new Map(pods.map((pod) => [pod.name, pod]));
      const sameNode = (probe: Probe): boolean => podByName.get(probe.from)?.node === podByName.get(probe.to)?.node;
      checkReached(ctx, ['KUBE-NET-004'], 'every pod reaches every other pod on its node at the address its result reports', probes.filter(sameNode));
      const crossNode = probes.filter((probe) => !sameNode(probe));
      checkReached(ctx, ['KUBE-NET-005'], 'every pod reaches every pod on the other nodes at the address its result reports', crossNode);

      // KUBE-NET-006: "the source address a receiving pod sees is the sending pod's own address": the peer address the
      // receiving pod's socket reports must equal the address the sender's result reports.
      const answered = probes.filter(answeredByTarget);
      checkObserved(ctx, {
        ids: ['KUBE-NET-006'],
        what: "every pod, on its node and on other nodes, sees a sending pod's own address as the source",
        expected: 'source seen by the receiver = the sender pod’s address from its result',
        observed: answered.map(describe),
        violations: answered
          .filter((probe) => probe.tcp.answer?.remote !== podByName.get(probe.from)?.address)
          .map((probe) => `${describe(probe)}, but ${probe.from}'s address is ${podByName.get(probe.from)?.address}`),
        unobserved: probes.filter((probe) => !answeredByTarget(probe)).map((probe) => `${probe.from} → ${probe.to}`),
      });

      // KUBE-NET-007: the reported address is on the pod's interface (the pod sees it as its own), and traffic sent to it
      // arrives at that pod's own socket bound to that very address.
      const interfaceAddresses = await Promise.all(pods.map((pod) => namespaceAddresses(pod.namespace)));
      const notConfigured = pods.flatMap((pod, index) => {
        const configured = interfaceAddresses[index] ?? [];
        if (configured.some((a) => a.ifname === pod.runtime.ifName && a.address === pod.address)) return [];
        const has = configured.map((a) => `${a.ifname} ${a.address}/${a.prefix}`).join(', ') || 'nothing';
        return [`${pod.name}: ${pod.address} is not on ${pod.runtime.ifName} (has ${has})`];
      });
      const misdelivered = probes
        .filter((probe) => probe.tcp.answer !== undefined && (probe.tcp.answer.token !== probe.token || probe.tcp.answer.local !== probe.address))
        .map(describe);
      checkObserved(ctx, {
        ids: ['KUBE-NET-007'],
        what: "every pod's reported address is on its interface and is where other pods reach that pod",
        expected: 'result address configured on the pod interface; probes to it answered by that pod at that address',
        observed: pods.map((pod) => {
          const reachedBy = answered.filter((probe) => probe.to === pod.name).length;
          return `${pod.name}: ${pod.address} on ${pod.runtime.ifName}, reached there by ${reachedBy} pods`;
        }),
        violations: [...notConfigured, ...misdelivered],
        unobserved: pods.filter((pod) => !answered.some((probe) => probe.to === pod.name)).map((pod) => `${pod.name} (no pod reached it)`),
      });
    },
  });

  suite.declare({
    ids: ['KUBE-NET-008', 'KUBE-NET-009', 'KUBE-NET-010'],
    title: 'Nodes of a simulated three-node cluster reach every pod, without NAT across nodes, and every pod reaches every node',
    needs,
    timeoutMs,
    async run(ctx: Ctx) {
      const ping = await noteProbeMethod(ctx);
      const { cluster, pods } = await simulateCluster(ctx);
      await settleAll([servePods(ctx, pods), ...cluster.nodes.map((node) => startProbeServer(ctx, node.node.namespace, node.name))]);
      const podsOf = (node: SimulatedNode): ReadyPod[] => pods.filter((pod) => pod.node === node);

      const [nodeProbes, podProbes] = await Promise.all([
        probeAll(
          ping,
          cluster.nodes.map((node) => ({
            name: node.name,
            namespace: node.node.namespace,
            targets: pods.map((pod) => ({ name: pod.name, address: pod.address, token: pod.name })),
          })),
        ),
        probeAll(
          ping,
          pods.map((pod) => ({
            name: pod.name,
            namespace: pod.namespace,
            targets: cluster.nodes.map((node) => ({ name: node.name, address: node.underlayAddress, token: node.name })),
          })),
        ),
      ]);
      const nodeByName = new Map(cluster.nodes.map((node) => [node.name, node]));
      const toOwnPod = (probe: Probe): boolean => podsOf(nodeByName.get(probe.from) as SimulatedNode).some((pod) => pod.name === probe.to);
      checkReached(ctx, ['KUBE-NET-008'], "every node's namespace reaches every pod on that node", nodeProbes.filter(toOwnPod));
      const crossNode = nodeProbes.filter((probe) => !toOwnPod(probe));
      checkReached(ctx, ['KUBE-NET-009'], "every node's namespace reaches every pod on the other nodes", crossNode);

      // KUBE-NET-009: "the receiving pod sees a node address as the source": the peer address the pod's socket reports must
      // equal the source address the sending node's own socket used (its address on the path, chosen by its routing),
      // and that address must be one configured in the sending node's namespace.
      const addressesOf = new Map(
        await Promise.all(cluster.nodes.map(async (node) => [node.name, (await namespaceAddresses(node.node.namespace)).map((a) => a.address)] as const)),
      );
      const crossAnswered = crossNode.filter(answeredByTarget);
      checkObserved(ctx, {
        ids: ['KUBE-NET-009'],
        what: "every pod on another node sees the sending node's own address as the source",
        expected: "source seen by the pod = the address the node's socket sent from, an address of that node",
        observed: crossAnswered.map((probe) => `${describe(probe)}, node sent from ${probe.tcp.clientAddress}`),
        violations: crossAnswered
          .filter((probe) => {
            const seen = probe.tcp.answer?.remote ?? '';
            return seen !== probe.tcp.clientAddress || !(addressesOf.get(probe.from) ?? []).includes(seen);
          })
          .map((probe) => {
            const own = addressesOf.get(probe.from)?.join(', ');
            return `${describe(probe)}, but ${probe.from} sent from ${probe.tcp.clientAddress} (its addresses: ${own})`;
          }),
        unobserved: crossNode.filter((probe) => !answeredByTarget(probe)).map((probe) => `${probe.from} → ${probe.to}`),
      });

      // KUBE-NET-010: pods reach their own node and every other node at the node's (underlay) address.
      checkReached(ctx, ['KUBE-NET-010'], 'every pod reaches its own node and every other node at the node address', podProbes);
    },
  });
}
