/**
 * The kubelet-owned pod conditions, computed as upstream does.
 * Source: kubernetes/kubernetes pkg/kubelet/status/generate.go
 * (GenerateContainersReadyCondition, GeneratePodReadyCondition,
 * GeneratePodInitializedCondition, GeneratePodReadyToStartContainersCondition)
 * and pkg/kubelet/kubelet_pods.go (generateAPIPodStatus: the order, and
 * PodScheduled True). Transition times are kept from the previous status
 * while a condition's status does not change (pkg/kubelet/status/status_manager.go).
 */
import type { ConditionStatus, ContainerStatus, Pod, PodCondition, PodConditionType, PodPhase } from '../api/pod-types.js';
import { apiTime } from './api-time.js';
import { hasAnyAppContainerStarted, isSidecar } from './pod-phase.js';

/** Condition reasons upstream uses (pkg/kubelet/status/generate.go). */
export const conditionReasons = {
  podCompleted: 'PodCompleted',
  podFailed: 'PodFailed',
  containersNotReady: 'ContainersNotReady',
  containersNotInitialized: 'ContainersNotInitialized',
} as const;

type ConditionCore = Omit<PodCondition, 'lastProbeTime' | 'lastTransitionTime'>;

function statusOf(statuses: readonly ContainerStatus[], name: string): ContainerStatus | undefined {
  return statuses.find((status) => status.name === name);
}

/** Go's %s of a []string: "[a b]". */
function goList(names: readonly string[]): string {
  return `[${names.join(' ')}]`;
}

/** ContainersReady: every app container and every sidecar ready. */
export function containersReadyCondition(pod: Pod, statuses: readonly ContainerStatus[], phase: PodPhase): ConditionCore {
  const unknown: string[] = [];
  const unready: string[] = [];
  const counted = [...(pod.spec.initContainers ?? []).filter(isSidecar), ...pod.spec.containers];
  for (const container of counted) {
    const status = statusOf(statuses, container.name);
    if (status === undefined) unknown.push(container.name);
    else if (!status.ready) unready.push(container.name);
  }
  if ((phase === 'Succeeded' && unknown.length === 0) || phase === 'Failed') {
    return {
      type: 'ContainersReady',
      status: 'False',
      reason: phase === 'Failed' ? conditionReasons.podFailed : conditionReasons.podCompleted,
    };
  }
  const messages: string[] = [];
  if (unknown.length > 0) messages.push(`containers with unknown status: ${goList(unknown)}`);
  if (unready.length > 0) messages.push(`containers with unready status: ${goList(unready)}`);
  if (messages.length > 0) {
    return { type: 'ContainersReady', status: 'False', reason: conditionReasons.containersNotReady, message: messages.join(', ') };
  }
  return { type: 'ContainersReady', status: 'True' };
}

/** Ready: as ContainersReady (kubeplug has no readiness gates). */
export function podReadyCondition(pod: Pod, statuses: readonly ContainerStatus[], phase: PodPhase): ConditionCore {
  const containersReady = containersReadyCondition(pod, statuses, phase);
  return { ...containersReady, type: 'Ready' };
}

/** Initialized: every init container completed (a sidecar: started). */
export function initializedCondition(pod: Pod, statuses: readonly ContainerStatus[], phase: PodPhase): ConditionCore {
  const unknown: string[] = [];
  const incomplete: string[] = [];
  for (const container of pod.spec.initContainers ?? []) {
    const status = statusOf(statuses, container.name);
    if (status === undefined) {
      unknown.push(container.name);
      continue;
    }
    const done = isSidecar(container) ? status.started === true : status.ready;
    if (!done) incomplete.push(container.name);
  }
  if (phase === 'Succeeded' && unknown.length === 0) {
    return { type: 'Initialized', status: 'True', reason: conditionReasons.podCompleted };
  }
  // An app container that has run means the pod was initialized (sidecars may be restarting).
  if (hasAnyAppContainerStarted(pod, statuses)) return { type: 'Initialized', status: 'True' };
  const messages: string[] = [];
  if (unknown.length > 0) messages.push(`containers with unknown status: ${goList(unknown)}`);
  if (incomplete.length > 0) messages.push(`containers with incomplete status: ${goList(incomplete)}`);
  if (messages.length > 0) {
    return { type: 'Initialized', status: 'False', reason: conditionReasons.containersNotInitialized, message: messages.join(', ') };
  }
  return { type: 'Initialized', status: 'True' };
}

/** PodReadyToStartContainers: the pod's newest sandbox exists and is ready (networking set up). */
export function readyToStartContainersCondition(sandboxReady: boolean): ConditionCore {
  return { type: 'PodReadyToStartContainers', status: sandboxReady ? 'True' : 'False' };
}

export interface PodConditionsInput {
  readonly pod: Pod;
  /** Init and app container statuses together. */
  readonly statuses: readonly ContainerStatus[];
  readonly phase: PodPhase;
  readonly sandboxReady: boolean;
  readonly previous: readonly PodCondition[] | undefined;
  readonly now: Date;
}

function withTimes(core: ConditionCore, previous: readonly PodCondition[] | undefined, now: Date): PodCondition {
  const before = previous?.find((condition) => condition.type === core.type);
  const lastTransitionTime = before !== undefined && before.status === core.status && before.lastTransitionTime !== undefined ? before.lastTransitionTime : apiTime(now);
  return { ...core, lastProbeTime: null, lastTransitionTime };
}

function previousStatus(previous: readonly PodCondition[] | undefined, type: PodConditionType): ConditionStatus | undefined {
  return previous?.find((condition) => condition.type === type)?.status;
}

/**
 * The five kubelet-owned conditions in upstream's order: PodReadyToStartContainers,
 * Initialized, Ready, ContainersReady, PodScheduled. Initialized never goes
 * back from True to False.
 * @see KUBELET-PHASE-006
 * @see KUBELET-INIT-005
 */
export function podConditions(input: PodConditionsInput): PodCondition[] {
  const { pod, statuses, phase, previous, now } = input;
  let initialized = initializedCondition(pod, statuses, phase);
  if (initialized.status !== 'True' && previousStatus(previous, 'Initialized') === 'True') {
    // Init containers may be gone (removed, or a new sandbox) once the pod ran; it stays initialized.
    initialized = { type: 'Initialized', status: 'True' };
  }
  const cores: ConditionCore[] = [
    readyToStartContainersCondition(input.sandboxReady),
    initialized,
    podReadyCondition(pod, statuses, phase),
    containersReadyCondition(pod, statuses, phase),
    { type: 'PodScheduled', status: 'True' },
  ];
  return cores.map((core) => withTimes(core, previous, now));
}
