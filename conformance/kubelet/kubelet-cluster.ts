/**
 * A simulated cluster of kubelets: several nodes as the kubelet suite makes
 * one (kubelet-node.ts: a process runtime in network and mount namespaces of
 * its own, kubeplug-bridge and kubeplug-host-local, the reference kubelet),
 * each with a pod range of its own carved from one cluster range, joined by
 * an underlay network and routed to each other without NAT (node-underlay.ts,
 * shared with the CNI suite's network-model cases). One loopback registry
 * serves them all, relayed into every node. Every kubelet also serves its
 * read-only endpoints on a unix socket (`--read-only-socket`), which is how
 * callers outside the namespaces, and the other kubelets, reach it.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { startLoopbackRegistry } from '../cri/test-images/loopback-registry.js';
import { createNetworkNamespace, uniqueNetnsName, type NetworkNamespace } from '../cni/network-namespaces.js';
import { joinNodesOnUnderlay, settleAll } from '../cni/node-underlay.js';
import { formatIpv4, formatIpv4Network, parseIpv4Network } from '../cni/simulated-cluster.js';
import { CleanupStack, type CleanupFailure } from '../framework/index.js';
import type { NodeLeftovers } from '../peers/index.js';
import { connectKubeletSubject, type KubeletRunSubject } from './connect-kubelet-subject.js';
import { pushKubeletSuiteImages, type KubeletSuiteImages } from './kubelet-images.js';
import { loadKubeletRunSettings, type KubeletRunSettings } from './run-config.js';

/** The nodes' names unless told otherwise. */
export const defaultClusterNodeNames = ['node-a', 'node-b', 'node-c'] as const;

/** The range pod ranges are carved from unless told otherwise (flannel's default; each node gets a /24 of it). */
export const defaultClusterRange = '10.244.0.0/16';

/** The network the nodes' uplinks share; it exists only inside the cluster's namespaces. */
export const clusterUnderlay = '192.168.200.0/24';

/** How a cluster is made. */
export interface KubeletClusterOptions {
  /** One node per name; {@link defaultClusterNodeNames} when unset. */
  readonly nodeNames?: readonly string[];
  /** An IPv4 range of /22 or wider; node i gets its i-th /24. {@link defaultClusterRange} when unset. */
  readonly clusterRange?: string;
  /** Give every kubelet `--peer-kubelet unix://…` of every other node, so budgets see the whole cluster. */
  readonly peerKubelets?: boolean;
  /** The kubelet command and runtime; the reference kubelet on kubeplug's runtime when unset. */
  readonly settings?: KubeletRunSettings;
  /** Called with the cluster's stop before anything is made, so a caller's teardown releases a half-started cluster. */
  readonly registerStop?: (stop: () => Promise<CleanupFailure[]>) => void;
  /** How long each kubelet may take to answer /healthz (the nodes start together and share the machine). */
  readonly startTimeoutMs?: number;
}

/** One node of the cluster. */
export interface ClusterNode {
  readonly name: string;
  /** This node's pod range, `a.b.c.d/24`. */
  readonly podRange: string;
  /** The node's address on the underlay. */
  readonly address: string;
  /** The kubelet's `--read-only-socket`: /pods, /healthz, /events (and what later issues add) from outside the namespaces. */
  readonly readOnlySocket: string;
  /** `unix://` + {@link readOnlySocket}: what `--peer-kubelet` and `kubeplug drain --kubelet` take. */
  readonly url: string;
  /** The kubelet as the suite drives one: manifests in, /pods out, exec into containers. */
  readonly kubelet: KubeletRunSubject;
}

/** What is left after {@link KubeletCluster.stop}: every list empty and every flag false. */
export interface ClusterLeftovers {
  readonly nodes: Readonly<Record<string, NodeLeftovers>>;
  readonly underlayNamespace: boolean;
  readonly folder: boolean;
  /** The registry's pid while it still runs. */
  readonly processes: string[];
}

/** A running cluster. */
export interface KubeletCluster {
  /** A folder of the cluster's own (the read-only sockets live here). */
  readonly dir: string;
  readonly clusterRange: string;
  readonly registry: string;
  readonly images: KubeletSuiteImages;
  readonly underlay: NetworkNamespace;
  readonly nodes: readonly ClusterNode[];
  /** The node of that name; throws for an unknown one. */
  node(name: string): ClusterNode;
  /** Stops every kubelet and node, the underlay and the registry, and removes their folders; later calls return the first call's result. */
  stop(): Promise<CleanupFailure[]>;
  leftovers(): ClusterLeftovers;
}

/** The i-th /24 of a cluster range, or a usage error. */
function nodeRanges(clusterRange: string, count: number): string[] {
  const network = parseIpv4Network(clusterRange);
  if (network === undefined || network.prefix > 24 || 2 ** (24 - network.prefix) < count) {
    throw new Error(`cluster range ${JSON.stringify(clusterRange)} is not an IPv4 range with room for ${count} /24 node ranges`);
  }
  return Array.from({ length: count }, (_, index) => formatIpv4Network({ base: network.base + index * 256, prefix: 24 }));
}

/**
 * Starts the cluster: the registry (test image pushed once), the nodes
 * together, then the underlay and the routes between them. Every step
 * registers its undo before it acts; a failure part-way stops what was
 * started and rethrows.
 */
export async function startKubeletCluster(options: KubeletClusterOptions = {}): Promise<KubeletCluster> {
  const names = options.nodeNames ?? defaultClusterNodeNames;
  const clusterRange = options.clusterRange ?? defaultClusterRange;
  const ranges = nodeRanges(clusterRange, names.length);
  const underlayNetwork = parseIpv4Network(clusterUnderlay) as { base: number; prefix: number };
  const cleanup = new CleanupStack();
  let stopping: Promise<CleanupFailure[]> | undefined;
  const stop = (): Promise<CleanupFailure[]> => (stopping ??= cleanup.unwind(60_000));
  options.registerStop?.(stop);
  const nodeStops: (() => Promise<CleanupFailure[]>)[] = [];
  let underlay: NetworkNamespace | undefined;
  try {
    // Short, as unix socket paths are limited to 107 bytes.
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'kp-cluster-'));
    cleanup.push(() => fs.rmSync(dir, { recursive: true, force: true }), `remove ${dir}`);
    const registry = await startLoopbackRegistry({ dir: path.join(dir, 'registry') });
    cleanup.push(() => registry.stop(), 'stop the registry');
    const images = await pushKubeletSuiteImages(registry.host);
    const settings = options.settings ?? loadKubeletRunSettings({ registry: registry.host });
    const sockets = names.map((name) => path.join(dir, `${name}.sock`));

    cleanup.push(async () => {
      // The nodes go together: each stop waits on its own pods' grace periods and on slow veth removals.
      const failures = (await Promise.all(nodeStops.map((stopNode) => stopNode()))).flat();
      if (failures.length > 0) throw new Error(`a node's cleanup failed: ${JSON.stringify(failures)}`);
    }, 'stop the nodes');
    const subjects = await settleAll(
      names.map((name, index) => {
        const peers = options.peerKubelets === true ? sockets.filter((_, other) => other !== index).flatMap((socket) => ['--peer-kubelet', `unix://${socket}`]) : [];
        return connectKubeletSubject({
          settings: { ...settings, registry: registry.host },
          nodeName: name,
          podNetwork: { subnet: ranges[index] as string, routes: [clusterRange] },
          extraKubeletArgs: ['--read-only-socket', sockets[index] as string, ...peers],
          startTimeoutMs: options.startTimeoutMs ?? 90_000,
          registerStop: (stopNode) => void nodeStops.push(stopNode),
        });
      }),
    );

    underlay = await createNetworkNamespace(uniqueNetnsName('underlay'));
    const underlayNamespace = underlay;
    cleanup.push(() => underlayNamespace.remove(), `delete network namespace ${underlay.name}`);
    const nodes: ClusterNode[] = subjects.map((kubelet, index) => ({
      name: names[index] as string,
      podRange: ranges[index] as string,
      address: formatIpv4(underlayNetwork.base + 10 + index),
      readOnlySocket: sockets[index] as string,
      url: `unix://${sockets[index] as string}`,
      kubelet,
    }));
    await joinNodesOnUnderlay({
      underlay,
      prefix: underlayNetwork.prefix,
      nodes: nodes.map((node, index) => ({ index, namespace: node.kubelet.node.runtime.netns, address: node.address, podRange: node.podRange })),
    });
    return {
      dir,
      clusterRange,
      registry: registry.host,
      images,
      underlay,
      nodes,
      node(name) {
        const found = nodes.find((node) => node.name === name);
        if (found === undefined) throw new Error(`no node ${name} in the cluster (${names.join(', ')})`);
        return found;
      },
      stop,
      leftovers: () => ({
        nodes: Object.fromEntries(nodes.map((node) => [node.name, node.kubelet.node.leftovers()])),
        underlayNamespace: fs.existsSync(underlayNamespace.path),
        folder: fs.existsSync(dir),
        processes: fs.existsSync(`/proc/${registry.pid}`) ? [`${registry.pid} (the cluster's registry)`] : [],
      }),
    };
  } catch (error) {
    const failures = await stop();
    if (failures.length > 0 && error instanceof Error) error.message += `\n(and the cleanup failed: ${JSON.stringify(failures)})`;
    throw error;
  }
}
