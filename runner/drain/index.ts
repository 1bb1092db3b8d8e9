/** Draining nodes through their kubelets: the pieces `kubeplug drain` and `kubeplug uncordon` are made of. */
export { systemClock, type Clock } from './drain-clock.js';
export { DurationSyntaxError, formatDuration, parseDuration } from './drain-duration.js';
export { blockingBudgetOf, disruptionBudgetCause, type BlockingBudget } from './disruption-budget-cause.js';
export { setNodesUnschedulable, type NodeScheduleResult, type SetUnschedulableOptions } from './cordon-nodes.js';
export {
  drainNodes,
  drainSucceeded,
  evictionRetryIntervalMs,
  podLabel,
  terminationPollIntervalMs,
  type DrainOptions,
  type DrainResult,
  type PodDrainResult,
  type PodReference,
} from './drain-nodes.js';
export { describeLeftPod, formatDrainSummary } from './drain-report.js';
export { cordonPatchContentType, KubeletClient, type EvictionAnswer, type EvictionRequest, type KubeletClientOptions } from './kubelet-client.js';
export { KubeletClientError, kubeletClientErrorCodes, type KubeletClientErrorCode } from './kubelet-client-error.js';
export { isTerminalPod, podNamespace, terminalPodPhases, type NodeObject, type PodObject, type StatusCause, type StatusObject } from './kubelet-objects.js';
export { KubeletUrlError, parseKubeletUrl, type KubeletAddress } from './kubelet-url.js';
