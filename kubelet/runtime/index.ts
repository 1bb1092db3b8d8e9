/** The kubelet's CRI-driving core: observe, decide, act. */
export { PodWorkers, containerFieldPath, podDeadline, workerEventReasons, type PodSyncResult, type PodWorkerDeps, type WaitingReason } from './pod-worker.js';
export { computePodActions, initContainerFailedReason, isSidecar, removableContainers, shouldRestart } from './compute-pod-actions.js';
export { backoffResetAfterMs, defaultMaxBackoffMs, defaultRestartBackoff, initialBackoffMs, restartGate, type RestartGate } from './container-backoff.js';
export { nanosToMs, observePod, observePods, toObservedContainer, toObservedSandbox, type ObservePodsOptions } from './observe-pods.js';
export {
  containerHash,
  containerLabels,
  crashStreakOf,
  decodeContainerAnnotations,
  encodeContainerAnnotations,
  managedByValue,
  podIdentityOf,
  runtimeKeys,
  sandboxAnnotations,
  sandboxLabels,
  type ContainerAnnotationValues,
  type ContainerKind,
} from './runtime-labels.js';
export { buildContainerConfig, buildSandboxConfig, containerLogPath, containerMounts, expandVariables, parseResolvConf, podNamespaceOptions, type RuntimeConfigOptions } from './runtime-configs.js';
export { describeHandler, resolveContainerPort, runLifecycleHandler, type HookTarget } from './lifecycle-hooks.js';
export { effectivePullPolicy, ImagePuller, type ImageResult, type ImagePullerOptions } from './image-puller.js';
