/** Builders for status tests: observed CRI containers and sandboxes, probe lookups, and StatusInput. */
import type { Container, Pod, PodStatus } from '../../../kubelet/api/pod-types.js';
import type { ObservedContainer, ObservedSandbox, ProbeLookup, ProbeState, StatusInput } from '../../../kubelet/kubelet-parts.js';

export const t0 = Date.parse('2026-01-01T10:00:00Z');
export const now = new Date(t0 + 60_000);

export function podOf(containers: Container[], extra: Partial<Pod['spec']> = {}): Pod {
  return {
    metadata: { name: 'web-n', namespace: 'default', uid: 'u1' },
    spec: { restartPolicy: 'Always', containers, ...extra },
  };
}

export function container(name: string, extra: Partial<Container> = {}): Container {
  return { name, image: 'busybox:1.36', ...extra };
}

export function sandbox(extra: Partial<ObservedSandbox> = {}): ObservedSandbox {
  return { id: 'sb1', attempt: 0, ready: true, ip: '10.1.0.5', additionalIps: [], createdAt: t0, labels: {}, annotations: {}, ...extra };
}

export function observed(name: string, extra: Partial<ObservedContainer> = {}): ObservedContainer {
  return {
    id: `${name}-0`,
    name,
    attempt: 0,
    sandboxId: 'sb1',
    state: 'running',
    createdAt: t0 + 1000,
    startedAt: t0 + 2000,
    finishedAt: 0,
    exitCode: 0,
    reason: '',
    message: '',
    image: 'busybox:1.36',
    imageRef: 'sha256:feed',
    labels: {},
    annotations: {},
    ...extra,
  };
}

export function exited(name: string, exitCode: number, extra: Partial<ObservedContainer> = {}): ObservedContainer {
  return observed(name, { state: 'exited', exitCode, finishedAt: t0 + 5000, ...extra });
}

/** Probe verdicts by container ID; unknown IDs are started and ready. */
export function probesOf(states: Record<string, Partial<ProbeState>> = {}): ProbeLookup {
  return (id) => ({ started: true, ready: true, livenessFailed: false, startupFailed: false, ...states[id] });
}

export function inputOf(pod: Pod, extra: Partial<StatusInput> = {}): StatusInput {
  return {
    pod,
    observed: undefined,
    probes: probesOf(),
    waiting: new Map(),
    previous: undefined,
    now,
    deadlineExceeded: false,
    ...extra,
  };
}

export function runningPod(pod: Pod, containers: ObservedContainer[], sandboxes: ObservedSandbox[] = [sandbox()]): StatusInput['observed'] {
  return { uid: 'u1', name: pod.metadata.name, namespace: 'default', sandboxes, containers };
}

export function conditionOf(status: PodStatus, type: string) {
  return status.conditions?.find((condition) => condition.type === type);
}
