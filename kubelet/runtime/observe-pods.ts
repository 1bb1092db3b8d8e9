/**
 * What the runtime holds, read through CRI alone: ListPodSandbox and
 * ListContainers (only what this kubelet labelled), then ContainerStatus for
 * exit codes, reasons and times, and PodSandboxStatus of ready sandboxes for
 * their IPs. One call per object, all in parallel (O(N)).
 *
 * Upstream analogue: kubernetes/kubernetes pkg/kubelet/kuberuntime/kuberuntime_manager.go
 * GetPodStatus and kuberuntime_sandbox.go getKubeletSandboxes.
 */
import {
  callUnary,
  ContainerState,
  GrpcStatusError,
  PodSandboxState,
  type Container as CriContainer,
  type ContainerStatus as CriContainerStatus,
  type PodSandbox,
  type PodSandboxStatus,
  type RuntimeServiceClient,
} from '../../specs/cri/index.js';
import type { ObservedContainer, ObservedPod, ObservedSandbox } from '../kubelet-parts.js';
import { managedByValue, podIdentityOf, runtimeKeys } from './runtime-labels.js';

/** Nanoseconds since the epoch (CRI) to milliseconds (0 stays 0). */
export function nanosToMs(nanos: bigint): number {
  return Number(nanos / 1_000_000n);
}

function stateName(state: ContainerState): ObservedContainer['state'] {
  switch (state) {
    case ContainerState.CONTAINER_CREATED:
      return 'created';
    case ContainerState.CONTAINER_RUNNING:
      return 'running';
    case ContainerState.CONTAINER_EXITED:
      return 'exited';
    default:
      return 'unknown';
  }
}

/** An ObservedContainer from the list entry, refined by its status when there is one. */
export function toObservedContainer(listed: CriContainer, status: CriContainerStatus | undefined): ObservedContainer {
  const source = status ?? listed;
  return {
    id: listed.id,
    name: listed.labels[runtimeKeys.containerName] ?? listed.metadata?.name ?? '',
    attempt: listed.metadata?.attempt ?? 0,
    sandboxId: listed.podSandboxId,
    state: stateName(source.state),
    createdAt: nanosToMs(source.createdAt),
    startedAt: status === undefined ? 0 : nanosToMs(status.startedAt),
    finishedAt: status === undefined ? 0 : nanosToMs(status.finishedAt),
    exitCode: status?.exitCode ?? 0,
    reason: status?.reason ?? '',
    message: status?.message ?? '',
    image: status?.image?.image ?? listed.image?.image ?? '',
    imageRef: status?.imageRef ?? listed.imageRef,
    labels: { ...source.labels },
    annotations: { ...source.annotations },
  };
}

/** An ObservedSandbox from the list entry and, for a ready one, its status. */
export function toObservedSandbox(listed: PodSandbox, status: PodSandboxStatus | undefined): ObservedSandbox {
  const ip = status?.network?.ip;
  const ready = (status?.state ?? listed.state) === PodSandboxState.SANDBOX_READY;
  return {
    id: listed.id,
    attempt: listed.metadata?.attempt ?? 0,
    ready,
    ...(ip === undefined || ip === '' ? {} : { ip }),
    additionalIps: (status?.network?.additionalIps ?? []).map((entry) => entry.ip).filter((entry) => entry !== ''),
    createdAt: nanosToMs(listed.createdAt),
    labels: { ...listed.labels },
    annotations: { ...listed.annotations },
  };
}

/** NOT_FOUND means the object went away between the list and the status call: skip it. */
async function unlessGone<T>(call: Promise<T>): Promise<T | undefined> {
  try {
    return await call;
  } catch (error) {
    if (GrpcStatusError.from(error).code === 'NOT_FOUND') return undefined;
    throw error;
  }
}

/** Options for {@link observePods}. */
export interface ObservePodsOptions {
  /** Deadline of each call, in ms (default 10 s). */
  readonly callTimeoutMs?: number;
  /** Only this pod (label selector on io.kubernetes.pod.uid). */
  readonly uid?: string;
}

/**
 * Every pod this kubelet runs, by UID, as CRI reports it now; sandboxes and
 * containers newest first.
 */
export async function observePods(runtime: RuntimeServiceClient, options: ObservePodsOptions = {}): Promise<Map<string, ObservedPod>> {
  const timeoutMs = options.callTimeoutMs ?? 10_000;
  const deadline = (): { deadline: Date } => ({ deadline: new Date(Date.now() + timeoutMs) });
  const selector: Record<string, string> = { [runtimeKeys.managedBy]: managedByValue };
  if (options.uid !== undefined) selector[runtimeKeys.podUid] = options.uid;
  const [sandboxList, containerList] = await Promise.all([
    callUnary(runtime, runtime.listPodSandbox, { filter: { id: '', labelSelector: selector } }, deadline()),
    callUnary(runtime, runtime.listContainers, { filter: { id: '', podSandboxId: '', labelSelector: selector } }, deadline()),
  ]);
  const [sandboxes, containers] = await Promise.all([
    Promise.all(
      sandboxList.items.map(async (listed) => {
        // Only a ready sandbox has an IP worth asking for.
        const status =
          listed.state === PodSandboxState.SANDBOX_READY
            ? (await unlessGone(callUnary(runtime, runtime.podSandboxStatus, { podSandboxId: listed.id, verbose: false }, deadline())))?.status
            : undefined;
        return { listed, observed: toObservedSandbox(listed, status) };
      }),
    ),
    Promise.all(
      containerList.containers.map(async (listed) => {
        const response = await unlessGone(callUnary(runtime, runtime.containerStatus, { containerId: listed.id, verbose: false }, deadline()));
        return { listed, observed: toObservedContainer(listed, response?.status) };
      }),
    ),
  ]);

  const pods = new Map<string, { uid: string; name: string; namespace: string; sandboxes: ObservedSandbox[]; containers: ObservedContainer[] }>();
  const podOf = (labels: Readonly<Record<string, string>>) => {
    const identity = podIdentityOf(labels);
    if (identity === undefined) return undefined;
    let pod = pods.get(identity.uid);
    if (pod === undefined) {
      pod = { ...identity, sandboxes: [], containers: [] };
      pods.set(identity.uid, pod);
    }
    return pod;
  };
  for (const { listed, observed } of sandboxes) podOf(listed.labels)?.sandboxes.push(observed);
  for (const { listed, observed } of containers) podOf(listed.labels)?.containers.push(observed);

  const result = new Map<string, ObservedPod>();
  for (const [uid, pod] of pods) {
    pod.sandboxes.sort((a, b) => b.createdAt - a.createdAt || b.attempt - a.attempt);
    pod.containers.sort((a, b) => b.createdAt - a.createdAt || b.attempt - a.attempt);
    result.set(uid, pod);
  }
  return result;
}

/** One pod as CRI reports it now, or undefined when the runtime holds nothing of it. */
export async function observePod(runtime: RuntimeServiceClient, uid: string, options: Omit<ObservePodsOptions, 'uid'> = {}): Promise<ObservedPod | undefined> {
  return (await observePods(runtime, { ...options, uid })).get(uid);
}
