import type { Container, Pod, RestartPolicy } from '../../../kubelet/api/pod-types.js';
import type { ComputeActionsInput, ObservedContainer, ObservedPod, ObservedSandbox, ProbeState } from '../../../kubelet/kubelet-parts.js';
import { defaultRestartBackoff } from '../../../kubelet/runtime/container-backoff.js';
import { runtimeKeys } from '../../../kubelet/runtime/runtime-labels.js';

/** Fixed clock: 2026-01-01T10:00:00Z plus offsets. */
export const t0 = Date.parse('2026-01-01T10:00:00Z');
export const uid = 'uid-1';

export function container(name: string, extra: Partial<Container> = {}): Container {
  return { name, image: 'busybox:1', ...extra };
}

export function podOf(options: { containers?: Container[]; init?: Container[]; policy?: RestartPolicy } = {}): Pod {
  return {
    metadata: { name: 'web', namespace: 'default', uid },
    spec: {
      containers: options.containers ?? [container('main')],
      ...(options.init === undefined ? {} : { initContainers: options.init }),
      restartPolicy: options.policy ?? 'Always',
    },
  };
}

export function sandbox(extra: Partial<ObservedSandbox> = {}): ObservedSandbox {
  return { id: 'sb-0', attempt: 0, ready: true, ip: '10.1.0.5', additionalIps: [], createdAt: t0, labels: {}, annotations: {}, ...extra };
}

let counter = 0;
/** An observed container; `streak` becomes its crash-streak annotation. */
export function observed(name: string, extra: Partial<ObservedContainer> & { streak?: number } = {}): ObservedContainer {
  const { streak, ...rest } = extra;
  counter += 1;
  return {
    id: `c-${name}-${counter}`,
    name,
    attempt: 0,
    sandboxId: 'sb-0',
    state: 'running',
    createdAt: t0 + 1000,
    startedAt: t0 + 1000,
    finishedAt: 0,
    exitCode: 0,
    reason: '',
    message: '',
    image: 'busybox:1',
    imageRef: 'sha256:1',
    labels: { [runtimeKeys.containerName]: name },
    annotations: streak === undefined ? {} : { [runtimeKeys.containerCrashStreak]: String(streak) },
    ...rest,
  };
}

/** An exited container, finished at `finishedAt` (default t0 + 5 s). */
export function exited(name: string, exitCode: number, extra: Partial<ObservedContainer> & { streak?: number } = {}): ObservedContainer {
  return observed(name, { state: 'exited', exitCode, finishedAt: t0 + 5000, ...extra });
}

export function observedPod(containers: ObservedContainer[], sandboxes: ObservedSandbox[] = [sandbox()]): ObservedPod {
  return { uid, name: 'web', namespace: 'default', sandboxes, containers };
}

export const healthy: ProbeState = { started: true, ready: true, livenessFailed: false, startupFailed: false };

export function inputOf(pod: Pod | undefined, obs: ObservedPod | undefined, extra: Partial<ComputeActionsInput> = {}): ComputeActionsInput {
  return {
    pod,
    observed: obs,
    probes: () => healthy,
    now: t0 + 10_000,
    maxRestartPeriodMs: 300_000,
    restartBackoff: defaultRestartBackoff,
    deadlineExceeded: false,
    ...extra,
  };
}
