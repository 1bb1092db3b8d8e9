/**
 * The link network of a simulated cluster: an underlay namespace holding a
 * bridge, every node namespace joined to it by a veth with the node's
 * address, forwarding on in every node, and in each node a route to every
 * other node's pod range via that node's address (the cluster's routing
 * job, as kubenet's host-gw routes would do it). Used by the CNI suite's
 * network-model cases and by the multi-node kubelet cluster.
 */
import type { NetworkNamespace } from './network-namespaces.js';

/** Name of the interface that connects a node namespace to the underlay. */
export const uplinkName = 'uplink0';

/** Name of the bridge inside the underlay namespace. */
export const underlayBridgeName = 'kp-underlay';

/** One node to put on the underlay. */
export interface UnderlayNode {
  /** Unique among the nodes; names the underlay's port of this node (`nd<index>`). */
  readonly index: number;
  readonly namespace: NetworkNamespace;
  /** The node's IPv4 address on the underlay (without prefix). */
  readonly address: string;
  /** The node's pod range, `a.b.c.d/n`, which the other nodes route to {@link address}. */
  readonly podRange: string;
}

/** What {@link joinNodesOnUnderlay} joins. */
export interface UnderlayOptions {
  /** A namespace of the caller's own; the bridge is made in it. */
  readonly underlay: NetworkNamespace;
  /** Prefix length of the underlay network the node addresses lie in. */
  readonly prefix: number;
  readonly nodes: readonly UnderlayNode[];
}

/**
 * Promise.all that waits for every promise to settle before rejecting with
 * the first failure, so no step is still creating (and registering cleanup
 * for) resources after the caller has given up and unwound its cleanup.
 */
export async function settleAll<T>(promises: readonly Promise<T>[]): Promise<T[]> {
  const settled = await Promise.allSettled(promises);
  const failed = settled.find((outcome): outcome is PromiseRejectedResult => outcome.status === 'rejected');
  if (failed !== undefined) throw failed.reason;
  return settled.map((outcome) => (outcome as PromiseFulfilledResult<T>).value);
}

/**
 * Joins the nodes on the underlay and routes every node's pod range to it.
 * Nothing needs undoing beyond the namespaces: a veth lives and dies with
 * either of its ends, so removing the underlay (or a node) removes its links.
 */
export async function joinNodesOnUnderlay(options: UnderlayOptions): Promise<void> {
  const { underlay, prefix, nodes } = options;
  await underlay.exec('ip', ['-batch', '-'], { input: `link add ${underlayBridgeName} type bridge\nlink set ${underlayBridgeName} up\n` });
  await settleAll(
    nodes.map(async (node) => {
      const port = `nd${node.index}`;
      await underlay.exec('ip', ['link', 'add', port, 'type', 'veth', 'peer', 'name', uplinkName, 'netns', node.namespace.name]);
      await underlay.exec('ip', ['link', 'set', port, 'master', underlayBridgeName, 'up']);
      await node.namespace.exec('ip', ['-batch', '-'], { input: `addr add ${node.address}/${prefix} dev ${uplinkName}\nlink set ${uplinkName} up\n` });
      await node.namespace.exec('sysctl', ['-q', '-w', 'net.ipv4.ip_forward=1']);
    }),
  );
  await settleAll(
    nodes.map((node) => {
      const routes = nodes.filter((other) => other !== node).map((other) => `route add ${other.podRange} via ${other.address} dev ${uplinkName}\n`);
      return node.namespace.exec('ip', ['-batch', '-'], { input: routes.join('') });
    }),
  );
}
