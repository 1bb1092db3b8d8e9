import {
  ContainerState,
  PodSandboxState,
  type Container,
  type ContainerStatus,
  type PodSandbox,
  type PodSandboxStatus,
} from '../../../specs/cri/index.js';
import type { ContainerEntry, SandboxEntry } from './runtime-state.js';

/** The CRI state of a container, from what the runtime last did and the exit file (never from memory alone). */
export function containerStateOf(entry: ContainerEntry): ContainerState {
  if (entry.exit !== undefined || entry.record.phase === 'start-failed') return ContainerState.CONTAINER_EXITED;
  if (entry.record.phase === 'started') return ContainerState.CONTAINER_RUNNING;
  if (entry.record.phase === 'created') return ContainerState.CONTAINER_CREATED;
  return ContainerState.CONTAINER_UNKNOWN;
}

/** The exit code, reason and message of a container. @see CRI container status reasons Completed / Error / OOMKilled */
export function terminationOf(entry: ContainerEntry): { exitCode: number; reason: string; message: string; finishedAt: bigint } {
  const { record, exit } = entry;
  if (record.phase === 'start-failed') {
    return { exitCode: 128, reason: 'StartError', message: record.startError ?? 'the OCI runtime could not start the container', finishedAt: exit?.finishedAtNs ?? record.createdAtNs };
  }
  if (exit === undefined) return { exitCode: 0, reason: '', message: '', finishedAt: 0n };
  const reason = record.oomKilled === true ? 'OOMKilled' : exit.exitCode === 0 ? 'Completed' : 'Error';
  return { exitCode: exit.exitCode, reason, message: '', finishedAt: exit.finishedAtNs };
}

/** ContainerStatus as the CRI reports it. */
export function containerStatusOf(entry: ContainerEntry): ContainerStatus {
  const { record } = entry;
  const termination = terminationOf(entry);
  return {
    id: record.id,
    metadata: record.config.metadata,
    state: containerStateOf(entry),
    createdAt: record.createdAtNs,
    startedAt: record.startedAtNs,
    finishedAt: termination.finishedAt,
    exitCode: termination.exitCode,
    image: record.config.image,
    imageRef: record.imageRef,
    reason: termination.reason,
    message: termination.message,
    labels: record.config.labels,
    annotations: record.config.annotations,
    mounts: record.config.mounts,
    logPath: record.logPath,
    resources: record.resources === undefined ? undefined : { linux: record.resources, windows: undefined },
    imageId: record.imageId,
    user: { linux: { uid: BigInt(record.user.uid), gid: BigInt(record.user.gid), supplementalGroups: record.user.additionalGids.map(BigInt) } },
    stopSignal: record.config.stopSignal,
  };
}

/** One entry of ListContainers. */
export function containerOf(entry: ContainerEntry): Container {
  const { record } = entry;
  return {
    id: record.id,
    podSandboxId: record.sandboxId,
    metadata: record.config.metadata,
    image: record.config.image,
    imageRef: record.imageRef,
    state: containerStateOf(entry),
    createdAt: record.createdAtNs,
    labels: record.config.labels,
    annotations: record.config.annotations,
    imageId: record.imageId,
  };
}

/** The CRI state of a sandbox. */
export function sandboxStateOf(entry: SandboxEntry): PodSandboxState {
  return entry.record.phase === 'ready' ? PodSandboxState.SANDBOX_READY : PodSandboxState.SANDBOX_NOTREADY;
}

/** PodSandboxStatus as the CRI reports it. */
export function sandboxStatusOf(entry: SandboxEntry): PodSandboxStatus {
  const { record } = entry;
  return {
    id: record.id,
    metadata: record.config.metadata,
    state: sandboxStateOf(entry),
    createdAt: record.createdAtNs,
    network: { ip: record.ip ?? '', additionalIps: record.additionalIps.map((ip) => ({ ip })) },
    linux: { namespaces: { options: record.config.linux?.securityContext?.namespaceOptions } },
    labels: record.config.labels,
    annotations: record.config.annotations,
    runtimeHandler: record.runtimeHandler,
  };
}

/** One entry of ListPodSandbox. */
export function sandboxOf(entry: SandboxEntry): PodSandbox {
  const { record } = entry;
  return {
    id: record.id,
    metadata: record.config.metadata,
    state: sandboxStateOf(entry),
    createdAt: record.createdAtNs,
    labels: record.config.labels,
    annotations: record.config.annotations,
    runtimeHandler: record.runtimeHandler,
  };
}
