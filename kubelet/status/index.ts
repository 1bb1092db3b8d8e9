/** Pod status: phase, conditions and container statuses as the kubelet reports them. */
export { generatePodStatus, deadlineExceeded, defaultRuntimeName } from './generate-pod-status.js';
export { getPodPhase, hasAnyAppContainerStarted, isSidecar, isTerminalPhase } from './pod-phase.js';
export {
  conditionReasons,
  containersReadyCondition,
  initializedCondition,
  podConditions,
  podReadyCondition,
  readyToStartContainersCondition,
} from './pod-conditions.js';
export type { PodConditionsInput } from './pod-conditions.js';
export { containerStatuses, shouldContainerBeRestarted, terminatedReason, waitingReasons } from './container-statuses.js';
export type { ContainerStatusesInput } from './container-statuses.js';
export { apiTime, apiTimeFromMs } from './api-time.js';
