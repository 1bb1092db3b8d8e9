/**
 * Container statuses of one kind (init or app) from what the runtime holds,
 * the waiting reasons the kubelet tracks, the probers' verdicts and the
 * previous status. Source: kubernetes/kubernetes pkg/kubelet/kubelet_pods.go
 * (convertToAPIContainerStatuses), pkg/kubelet/container/helpers.go
 * (ShouldContainerBeRestarted), pkg/kubelet/prober/prober_manager.go
 * (UpdatePodStatus: started and ready).
 */
import type { Container, ContainerState, ContainerStatus, Pod } from '../api/pod-types.js';
import type { ObservedContainer, ProbeLookup } from '../kubelet-parts.js';
import { apiTimeFromMs } from './api-time.js';
import { isSidecar } from './pod-phase.js';

/** Waiting reasons the kubelet itself sets (pkg/kubelet/kubelet_pods.go, pkg/kubelet/images/types.go). */
export const waitingReasons = {
  containerCreating: 'ContainerCreating',
  podInitializing: 'PodInitializing',
} as const;

export interface ContainerStatusesInput {
  readonly pod: Pod;
  readonly containers: readonly Container[];
  readonly kind: 'init' | 'app';
  /** Every observed container of the pod (any order). */
  readonly observed: readonly ObservedContainer[];
  readonly probes: ProbeLookup;
  readonly waiting: ReadonlyMap<string, { readonly reason: string; readonly message?: string }>;
  readonly previous: readonly ContainerStatus[] | undefined;
  /** The pod is terminal: nothing restarts, so no waiting reason is shown. */
  readonly terminal: boolean;
  /** Scheme of containerID, e.g. "containerd". */
  readonly runtimeName: string;
}

/** Newest first: by creation time, then attempt. */
function newestFirst(containers: readonly ObservedContainer[]): ObservedContainer[] {
  return [...containers].sort((a, b) => b.createdAt - a.createdAt || b.attempt - a.attempt);
}

/** The reason a terminated container shows: the runtime's, or Completed/Error by exit code. */
export function terminatedReason(observed: Pick<ObservedContainer, 'reason' | 'exitCode'>): string {
  if (observed.reason !== '') return observed.reason;
  return observed.exitCode === 0 ? 'Completed' : 'Error';
}

function stateOf(observed: ObservedContainer, containerId: string): ContainerState {
  switch (observed.state) {
    case 'running': {
      const startedAt = apiTimeFromMs(observed.startedAt);
      return { running: startedAt === undefined ? {} : { startedAt } };
    }
    case 'exited': {
      const terminated: NonNullable<ContainerState['terminated']> = {
        exitCode: observed.exitCode,
        reason: terminatedReason(observed),
        containerID: containerId,
      };
      if (observed.message !== '') terminated.message = observed.message;
      const startedAt = apiTimeFromMs(observed.startedAt);
      const finishedAt = apiTimeFromMs(observed.finishedAt);
      if (startedAt !== undefined) terminated.startedAt = startedAt;
      if (finishedAt !== undefined) terminated.finishedAt = finishedAt;
      return { terminated };
    }
    // Created but not started: waiting to run. (Upstream leaves the reason empty.)
    case 'created':
      return { waiting: { reason: waitingReasons.containerCreating } };
    default:
      return { waiting: {} };
  }
}

/**
 * Whether the kubelet will (re)start this container on its next sync.
 * Source: pkg/kubelet/container/helpers.go ShouldContainerBeRestarted.
 */
export function shouldContainerBeRestarted(container: Container, pod: Pod, newest: ObservedContainer | undefined, kind: 'init' | 'app'): boolean {
  if (newest === undefined) return true;
  if (newest.state === 'running') return false;
  if (newest.state === 'created' || newest.state === 'unknown') return true;
  if (kind === 'init' && isSidecar(container)) return true;
  const policy = pod.spec.restartPolicy ?? 'Always';
  if (policy === 'Never') return false;
  if (policy === 'OnFailure' && newest.exitCode === 0) return false;
  return true;
}

function startedAndReady(
  container: Container,
  kind: 'init' | 'app',
  newest: ObservedContainer | undefined,
  probes: ProbeLookup,
): { started: boolean; ready: boolean } {
  if (newest === undefined) return { started: false, ready: false };
  if (kind === 'init' && !isSidecar(container)) {
    // A run-to-completion init container is ready once it exited 0.
    return { started: newest.state === 'running', ready: newest.state === 'exited' && newest.exitCode === 0 };
  }
  if (newest.state !== 'running') return { started: false, ready: false };
  const probe = probes(newest.id);
  const started = container.startupProbe === undefined ? true : probe.started;
  const ready = started && (container.readinessProbe === undefined ? true : probe.ready);
  return { started, ready };
}

/**
 * The container statuses for one list of containers, in spec order for
 * init containers and by name for app containers, as upstream sorts them.
 * @see KUBELET-PHASE-007
 * @see KUBELET-PHASE-008
 * @see KUBELET-PHASE-009
 * @see KUBELET-PHASE-010
 * @see KUBELET-PHASE-011
 */
export function containerStatuses(input: ContainerStatusesInput): ContainerStatus[] {
  const { pod, containers, kind, probes, waiting, previous, terminal, runtimeName } = input;
  const hasInitContainers = (pod.spec.initContainers ?? []).length > 0;
  const defaultWaiting = hasInitContainers ? waitingReasons.podInitializing : waitingReasons.containerCreating;
  const ordered = newestFirst(input.observed);

  const out = containers.map((container): ContainerStatus => {
    const before = previous?.find((status) => status.name === container.name);
    const attempts = ordered.filter((observed) => observed.name === container.name);
    const newest = attempts[0];
    const older = attempts[1];
    const previousRestarts = before?.restartCount ?? 0;

    let status: ContainerStatus;
    if (newest === undefined) {
      if (before?.state.terminated !== undefined) {
        // The runtime forgot an exited container (removed): its last known status stands.
        status = { ...before };
      } else if (before?.state.running !== undefined) {
        // It ran and vanished without a trace: it terminated, and will be restarted.
        status = {
          name: container.name,
          state: { waiting: { reason: defaultWaiting } },
          lastState: {
            terminated: {
              exitCode: 137,
              reason: 'ContainerStatusUnknown',
              message: 'The container could not be located when the pod was deleted.  The container used to be Running',
            },
          },
          ready: false,
          restartCount: previousRestarts + 1,
          image: container.image,
          imageID: '',
          started: false,
        };
      } else {
        status = {
          name: container.name,
          state: { waiting: { reason: defaultWaiting } },
          lastState: before?.lastState ?? {},
          ready: false,
          restartCount: previousRestarts,
          image: container.image,
          imageID: '',
          started: false,
        };
      }
    } else {
      const containerId = `${runtimeName}://${newest.id}`;
      const { started, ready } = startedAndReady(container, kind, newest, probes);
      let lastState: ContainerState = {};
      if (older !== undefined) lastState = stateOf(older, `${runtimeName}://${older.id}`);
      else if (before?.lastState.terminated !== undefined && before.containerID === containerId) lastState = before.lastState;
      status = {
        name: container.name,
        state: stateOf(newest, containerId),
        lastState,
        ready,
        // The newest attempt's count, never lower than what was shown before.
        restartCount: Math.max(newest.attempt, previousRestarts),
        image: newest.image !== '' ? newest.image : container.image,
        imageID: newest.imageRef,
        containerID: containerId,
        started,
      };
    }

    // A container the kubelet will (re)start shows why it waits (image pull, back-off…).
    const reason = waiting.get(container.name);
    const completedInit = kind === 'init' && !isSidecar(container) && newest?.state === 'exited' && newest.exitCode === 0;
    if (reason !== undefined && !terminal && !completedInit && shouldContainerBeRestarted(container, pod, newest, kind)) {
      const waitingState: NonNullable<ContainerState['waiting']> = { reason: reason.reason };
      if (reason.message !== undefined) waitingState.message = reason.message;
      status = {
        ...status,
        lastState: status.state.terminated !== undefined ? status.state : status.lastState,
        state: { waiting: waitingState },
        ready: false,
        started: false,
      };
    }
    return status;
  });
  if (kind === 'app') out.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  return out;
}
