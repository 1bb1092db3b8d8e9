import type { NetworkNamespace } from '../cni/network-namespaces.js';
import type { CleanupFailure } from '../framework/index.js';
import type { ImageServiceClient, RuntimeServiceClient, VersionResponse } from '../../specs/cri/index.js';

/** A network configuration list for the node's CNI conf dir, given the node's folder so plugin state can live under it. */
export type NetworkConfigFor = (nodeDir: string) => { readonly name: string } & Record<string, unknown>;

/** What every node starter takes. */
export interface CriNodeOptions {
  /** Executables for the node's CNI bin dir, by plugin type; upstream's loopback is added when it is installed. */
  readonly cniPlugins: Readonly<Record<string, string>>;
  readonly networkConfig: NetworkConfigFor;
  /**
   * Registries on the machine's loopback (`127.0.0.1:PORT`, plain http) the
   * runtime pulls from; each is relayed to the same address inside the node's
   * network namespace, whose loopback is its own.
   */
  readonly loopbackRegistries?: readonly string[];
  /**
   * Called with the node's stop before anything is created, so a caller
   * (e.g. a test's teardown) releases what the earlier steps made even when
   * a later one hangs; a failed start also stops the node itself.
   */
  readonly registerStop?: (stop: () => Promise<CleanupFailure[]>) => void;
}

/** What is left of a node: every list empty and both flags false after {@link CriNode.stop}. */
export interface NodeLeftovers {
  /** `pid cmdline` of processes in the node's mount namespace, its cgroup parent, or naming its folder. */
  readonly processes: string[];
  /** Mount points under the node's folder in the caller's mount namespace. */
  readonly mounts: string[];
  readonly cgroups: string[];
  readonly networkNamespace: boolean;
  readonly folder: boolean;
}

/** Resident memory of a node's processes, in KiB (VmRSS). */
export interface NodeMemory {
  /** The runtime's own process: containerd, or the node process serving CRI. */
  readonly runtimeKib: number;
  /** Every shim process of the node (containerd-shim-runc-v2, or kubeplug-shim) together. */
  readonly shimsKib: number;
  readonly shimCount: number;
}

/**
 * A CRI runtime isolated from the machine: it runs in a network namespace of
 * its own (CNI puts bridges and host-side veths there), in a mount namespace
 * of its own that receives the machine's mounts but never gives its own back
 * (rootfs, pod netns and shim mounts stay off the machine's mount table),
 * with fresh tmpfs on /run and /var/lib, with its root, state and socket in a
 * temporary folder, and pod cgroups under one parent of its own.
 */
export interface CriNode {
  /** Which runtime runs: Debian's containerd with its CRI plugin, or kubeplug's process runtime. */
  readonly kind: 'containerd' | 'kubeplug';
  readonly dir: string;
  readonly endpoint: string;
  readonly netns: NetworkNamespace;
  /** The cgroup parent to put in a PodSandboxConfig, so every pod cgroup is found and removed. */
  readonly cgroupParent: string;
  /** The runtime's own process. */
  readonly pid: number;
  readonly version: VersionResponse;
  readonly runtime: RuntimeServiceClient;
  readonly images: ImageServiceClient;
  /** Registers an undo step that runs before the runtime is stopped (e.g. removing a sandbox). */
  defer(undo: () => unknown, label: string): void;
  /** A path as the runtime sees it, from the caller's mount namespace (through /proc/<pid>/root). */
  pathSeenByRuntime(file: string): string;
  /** Runs a command in a network namespace the runtime mounted at `netnsPath` (in its mount namespace). */
  execInPodNetwork(netnsPath: string, command: string, args: readonly string[]): Promise<{ stdout: string; stderr: string }>;
  /** Resident memory of the runtime and of its shims, now. */
  memory(): NodeMemory;
  /** The end of the runtime's log (kept after the folder is removed). */
  logTail(lines?: number): string;
  /** Stops everything and removes everything; later calls return the first call's result. */
  stop(): Promise<CleanupFailure[]>;
  leftovers(): NodeLeftovers;
}
