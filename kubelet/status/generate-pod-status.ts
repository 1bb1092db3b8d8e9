/**
 * A pod's API status from everything the kubelet observed, as the real
 * kubelet's generateAPIPodStatus builds it. Pure: the same input gives the
 * same status. Source: kubernetes/kubernetes pkg/kubelet/kubelet_pods.go
 * (generateAPIPodStatus, convertStatusToAPIStatus), pkg/kubelet/kuberuntime
 * (pod IPs from the newest sandbox when it is ready),
 * pkg/kubelet/active_deadline.go (DeadlineExceeded).
 */
import type { ContainerStatus, PodIP, PodStatus } from '../api/pod-types.js';
import type { ObservedSandbox, StatusInput } from '../kubelet-parts.js';
import { apiTime } from './api-time.js';
import { containerStatuses } from './container-statuses.js';
import { podConditions } from './pod-conditions.js';
import { getPodPhase, isTerminalPhase } from './pod-phase.js';

/** The reason and message of a pod ended by activeDeadlineSeconds (pkg/kubelet/active_deadline.go). */
export const deadlineExceeded = {
  reason: 'DeadlineExceeded',
  message: 'Pod was active on the node longer than the specified deadline',
} as const;

/** containerID's scheme when the input names no runtime. */
export const defaultRuntimeName = 'cri';

function newestSandbox(sandboxes: readonly ObservedSandbox[]): ObservedSandbox | undefined {
  return [...sandboxes].sort((a, b) => b.createdAt - a.createdAt || b.attempt - a.attempt)[0];
}

function sandboxIps(sandbox: ObservedSandbox | undefined): PodIP[] {
  if (sandbox === undefined || !sandbox.ready) return [];
  const ips = [sandbox.ip, ...sandbox.additionalIps].filter((ip): ip is string => ip !== undefined && ip !== '');
  return [...new Set(ips)].map((ip) => ({ ip }));
}

/**
 * The status /pods serves for one pod.
 * @see KUBELET-PHASE-001
 * @see KUBELET-PHASE-005
 * @see KUBELET-PHASE-006
 * @see KUBELET-PHASE-007
 * @see KUBELET-SANDBOX-005
 * @see KUBELET-HOOK-007
 */
export function generatePodStatus(input: StatusInput): PodStatus {
  const { pod, observed, previous, now } = input;
  const runtimeName = input.runtimeName ?? defaultRuntimeName;
  const previousTerminal = isTerminalPhase(previous?.phase);
  const forcedFailure = input.deadlineExceeded
    ? { ...deadlineExceeded }
    : input.podFailed !== undefined
      ? { reason: input.podFailed.reason, message: input.podFailed.message }
      : undefined;
  const terminal = previousTerminal || forcedFailure !== undefined;

  const common = {
    pod,
    observed: observed?.containers ?? [],
    probes: input.probes,
    waiting: input.waiting,
    terminal,
    runtimeName,
  };
  const initContainerStatuses = containerStatuses({
    ...common,
    containers: pod.spec.initContainers ?? [],
    kind: 'init',
    previous: previous?.initContainerStatuses,
  });
  const appContainerStatuses = containerStatuses({
    ...common,
    containers: pod.spec.containers,
    kind: 'app',
    previous: previous?.containerStatuses,
  });
  const all: ContainerStatus[] = [...initContainerStatuses, ...appContainerStatuses];

  // Terminal phases are sticky; a forced failure wins over what containers say.
  let phase = getPodPhase(pod, all);
  let reason: string | undefined;
  let message: string | undefined;
  if (previousTerminal && previous !== undefined) {
    phase = previous.phase;
    reason = previous.reason;
    message = previous.message;
  } else if (forcedFailure !== undefined) {
    phase = 'Failed';
    reason = forcedFailure.reason;
    message = forcedFailure.message;
  } else if (previous !== undefined && previous.phase === phase) {
    // The reason and message belong to the phase: kept while it holds.
    reason = previous.reason;
    message = previous.message;
  }

  const sandbox = newestSandbox(observed?.sandboxes ?? []);
  let podIPs = sandboxIps(sandbox);
  if (podIPs.length === 0 && isTerminalPhase(phase) && previous?.podIPs !== undefined) podIPs = previous.podIPs;

  const sandboxTimes = (observed?.sandboxes ?? []).map((each) => each.createdAt).filter((ms) => ms > 0);
  const startTime =
    previous?.startTime ?? (sandboxTimes.length > 0 ? apiTime(new Date(Math.min(...sandboxTimes))) : apiTime(now));

  const status: PodStatus = {
    phase,
    conditions: podConditions({
      pod,
      statuses: all,
      phase,
      sandboxReady: sandbox?.ready === true,
      previous: previous?.conditions,
      now,
    }),
  };
  if (reason !== undefined && reason !== '') status.reason = reason;
  if (message !== undefined && message !== '') status.message = message;
  if (input.hostIP !== undefined) status.hostIP = input.hostIP;
  if (podIPs.length > 0) {
    status.podIP = podIPs[0]!.ip;
    status.podIPs = podIPs;
  }
  status.startTime = startTime;
  if ((pod.spec.initContainers ?? []).length > 0) status.initContainerStatuses = initContainerStatuses;
  status.containerStatuses = appContainerStatuses;
  return status;
}
