/**
 * The pod phase from container statuses, as the kubelet computes it for a
 * static pod. Source: kubernetes/kubernetes pkg/kubelet/kubelet_pods.go
 * (getPhase; static pods never take its podIsTerminal branch) and
 * pkg/kubelet/container/helpers.go (HasAnyRegularContainerStarted).
 */
import type { Container, ContainerStatus, Pod, PodPhase } from '../api/pod-types.js';

/** An init container with restartPolicy Always: a sidecar. */
export function isSidecar(container: Container): boolean {
  return container.restartPolicy === 'Always';
}

function statusOf(statuses: readonly ContainerStatus[], name: string): ContainerStatus | undefined {
  return statuses.find((status) => status.name === name);
}

/** Whether any app container has ever run (running now, or terminated). */
export function hasAnyAppContainerStarted(pod: Pod, statuses: readonly ContainerStatus[]): boolean {
  return pod.spec.containers.some((container) => {
    const status = statusOf(statuses, container.name);
    return status !== undefined && (status.state.running !== undefined || status.state.terminated !== undefined);
  });
}

interface PhaseCounts {
  /** Run-to-completion init containers not done yet. */
  pendingInitialization: number;
  /** Sidecars not started yet. */
  pendingSidecars: number;
  failedInitialization: number;
  unknown: number;
  running: number;
  waiting: number;
  stopped: number;
  succeeded: number;
}

function countInitContainers(pod: Pod, statuses: readonly ContainerStatus[], counts: PhaseCounts): void {
  for (const container of pod.spec.initContainers ?? []) {
    const status = statusOf(statuses, container.name);
    if (isSidecar(container)) {
      // A sidecar counts like an app container, except that its exits do not count.
      if (status === undefined) counts.unknown += 1;
      else if (status.state.running !== undefined) {
        if (status.started !== true) counts.pendingSidecars += 1;
        counts.running += 1;
      } else if (status.state.terminated !== undefined) {
        // Terminated sidecars do not decide the phase.
      } else if (status.state.waiting !== undefined) {
        if (status.lastState.terminated === undefined) {
          counts.pendingSidecars += 1;
          counts.waiting += 1;
        }
      } else {
        counts.pendingSidecars += 1;
        counts.unknown += 1;
      }
      continue;
    }
    if (status === undefined || status.state.running !== undefined) counts.pendingInitialization += 1;
    else if (status.state.terminated !== undefined) {
      if (status.state.terminated.exitCode !== 0) counts.failedInitialization += 1;
    } else if (status.state.waiting !== undefined && status.lastState.terminated !== undefined) {
      if (status.lastState.terminated.exitCode !== 0) counts.failedInitialization += 1;
    } else counts.pendingInitialization += 1;
  }
}

function countAppContainers(pod: Pod, statuses: readonly ContainerStatus[], counts: PhaseCounts): void {
  for (const container of pod.spec.containers) {
    const status = statusOf(statuses, container.name);
    if (status === undefined) counts.unknown += 1;
    else if (status.state.running !== undefined) counts.running += 1;
    else if (status.state.terminated !== undefined) {
      counts.stopped += 1;
      if (status.state.terminated.exitCode === 0) counts.succeeded += 1;
    } else if (status.state.waiting !== undefined) {
      if (status.lastState.terminated !== undefined) counts.stopped += 1;
      else counts.waiting += 1;
    } else counts.unknown += 1;
  }
}

/**
 * The phase a pod's container statuses (init and app together) put it in.
 * @see KUBELET-PHASE-001
 * @see KUBELET-PHASE-002
 * @see KUBELET-PHASE-003
 * @see KUBELET-PHASE-004
 */
export function getPodPhase(pod: Pod, statuses: readonly ContainerStatus[]): PodPhase {
  const counts: PhaseCounts = { pendingInitialization: 0, pendingSidecars: 0, failedInitialization: 0, unknown: 0, running: 0, waiting: 0, stopped: 0, succeeded: 0 };
  countInitContainers(pod, statuses, counts);
  countAppContainers(pod, statuses, counts);
  const restartPolicy = pod.spec.restartPolicy ?? 'Always';

  if (counts.failedInitialization > 0 && restartPolicy === 'Never') return 'Failed';
  // An init container still to complete keeps the pod Pending; a sidecar
  // restarting after the app containers ran does not send it back to Pending.
  if (counts.pendingInitialization > 0) return 'Pending';
  if (counts.pendingSidecars > 0 && !hasAnyAppContainerStarted(pod, statuses)) return 'Pending';
  if (counts.waiting > 0) return 'Pending';
  if (counts.running > 0 && counts.unknown === 0) return 'Running';
  if (counts.running === 0 && counts.stopped > 0 && counts.unknown === 0) {
    // Every app container has stopped: with Always they are all being restarted.
    if (restartPolicy === 'Always') return 'Running';
    if (counts.stopped === counts.succeeded) return 'Succeeded';
    if (restartPolicy === 'Never') return 'Failed';
    // OnFailure with a failure: it is being restarted.
    return 'Running';
  }
  return 'Pending';
}

/** Succeeded and Failed never change again. @see KUBELET-PHASE-005 */
export function isTerminalPhase(phase: PodPhase | undefined): phase is 'Succeeded' | 'Failed' {
  return phase === 'Succeeded' || phase === 'Failed';
}
