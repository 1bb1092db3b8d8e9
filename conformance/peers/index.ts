/**
 * CRI runtimes started as isolated nodes for certification, interop tests
 * and benchmarks: Debian's containerd (the peer) and kubeplug's process
 * runtime, both behind one {@link CriNode} face.
 */
export type { CriNode, CriNodeOptions, NetworkConfigFor, NodeLeftovers, NodeMemory } from './cri-node.js';
export { startContainerdNode, containerdNodeUnavailable, type ContainerdNode, type ContainerdNodeOptions } from './containerd-node.js';
export { startProcessRuntimeNode, processRuntimeNodeUnavailable, type ProcessRuntimeNodeOptions } from './process-runtime-node.js';
export { bridgeNetworkConfig, kubeplugCniPlugins, upstreamCniPlugins, type BridgeNetwork } from './cni-setup.js';
export { startLoopbackRelay, type LoopbackRelay } from './loopback-relay.js';
export { findLoopbackPlugin } from './isolated-node.js';
export { pushPauseImage, pauseImageName, sleepUntilTermCommand } from './pause-image.js';
