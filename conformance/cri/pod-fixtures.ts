import { randomUUID } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { Metadata } from '@grpc/grpc-js';
import {
  ContainerConfig,
  ContainerState,
  Mount,
  MountPropagation,
  NamespaceMode,
  PodSandboxConfig,
  type ContainerStatus,
  type DNSConfig,
  type Device,
  type KeyValue,
  type LinuxContainerResources,
  type LinuxContainerSecurityContext,
  type NamespaceOption,
  type PortMapping,
  type Signal,
} from '../../specs/cri/index.js';
import type { CaseContext } from '../framework/index.js';
import { callImage, callRuntime } from './cri-calls.js';
import type { CriSubject } from './cri-subject.js';
import { describeOutcome, requireOk } from './expect-status.js';
import { trapsReadyFile } from './suite-images.js';

export { trapsReadyFile };

type Ctx = CaseContext<CriSubject>;

/** The label every sandbox and container of the suite carries; its value finds one object again for cleanup. */
export const suiteKeyLabel = 'cri-suite.kubeplug.io/key';

/** The Kubernetes namespace the suite's pods claim. */
export const suiteNamespace = 'kubeplug-cri-suite';

/** A long-running command that stops at once on SIGTERM (a shell as PID 1 ignores signals it does not trap). */
export const sleepForever = ['sh', '-c', "trap 'exit 0' TERM; sleep 3600 & wait"];

/** What a case may set on the pod it runs. */
export interface PodOptions {
  readonly hostname?: string;
  readonly dnsConfig?: DNSConfig;
  readonly portMappings?: readonly PortMapping[];
  readonly labels?: Readonly<Record<string, string>>;
  readonly annotations?: Readonly<Record<string, string>>;
  /** Namespace modes; the default is a pod network, a pod IPC namespace and a PID namespace per container, as the kubelet sends. */
  readonly namespaces?: Partial<Pick<NamespaceOption, 'network' | 'pid' | 'ipc'>>;
  readonly sysctls?: Readonly<Record<string, string>>;
  /** A privileged sandbox, which privileged containers need. */
  readonly privileged?: boolean;
}

/** A sandbox the suite ran, with the config it was run with. */
export interface TestPod {
  readonly id: string;
  readonly config: PodSandboxConfig;
  /** The pod's log directory, on the runtime's machine. */
  readonly logDirectory: string;
}

/**
 * A PodSandboxConfig as the kubelet would send it: unique name and UID,
 * the suite's namespace and key label, a fresh log directory, the run's
 * cgroup parent. The log directory is made here, and removed by a cleanup
 * step registered now (so it runs after the sandbox is gone).
 */
export function podSandboxConfig(ctx: Ctx, options: PodOptions = {}): PodSandboxConfig {
  const name = ctx.uniqueName('kp-pod');
  const logDirectory = path.join(ctx.subject.run.workDir, 'pods', name);
  fs.mkdirSync(logDirectory, { recursive: true });
  ctx.defer(() => fs.rmSync(logDirectory, { recursive: true, force: true }), `remove log directory ${logDirectory}`);
  const namespaceOptions: NamespaceOption = {
    network: NamespaceMode.POD,
    pid: NamespaceMode.CONTAINER,
    ipc: NamespaceMode.POD,
    targetId: '',
    ...options.namespaces,
  };
  return PodSandboxConfig.fromPartial({
    metadata: { name, uid: randomUUID(), namespace: suiteNamespace, attempt: 0 },
    hostname: options.hostname ?? '',
    logDirectory,
    ...(options.dnsConfig === undefined ? {} : { dnsConfig: options.dnsConfig }),
    portMappings: [...(options.portMappings ?? [])],
    labels: { [suiteKeyLabel]: name, ...options.labels },
    annotations: { ...options.annotations },
    linux: {
      cgroupParent: ctx.subject.run.cgroupParent,
      sysctls: { ...options.sysctls },
      securityContext: { namespaceOptions, privileged: options.privileged ?? false },
    },
  });
}

/**
 * Runs a sandbox. Its removal is registered before the call, found by the
 * key label, so a sandbox made by a call that then failed or timed out is
 * removed too. Stops the case (citing `ids`) when RunPodSandbox fails.
 */
export async function runPodSandbox(ctx: Ctx, config: PodSandboxConfig, check: { ids?: readonly string[] } = {}): Promise<TestPod> {
  const key = config.labels[suiteKeyLabel] ?? '';
  let knownId: string | undefined;
  ctx.defer(() => removeSandboxes(ctx, key, knownId), `remove sandbox ${key}`);
  const ran = await callRuntime(ctx, 'runPodSandbox', { config, runtimeHandler: '' });
  requireOk(ctx, ran, { ...check, what: 'RunPodSandbox succeeds' });
  knownId = ran.response.podSandboxId;
  return { id: knownId, config, logDirectory: config.logDirectory };
}

/** Runs a sandbox with {@link podSandboxConfig}'s defaults and the options given. */
export async function runTestPod(ctx: Ctx, options: PodOptions = {}, check: { ids?: readonly string[] } = {}): Promise<TestPod> {
  return runPodSandbox(ctx, podSandboxConfig(ctx, options), check);
}

async function removeSandboxes(ctx: Ctx, key: string, knownId: string | undefined): Promise<void> {
  const listed = await callRuntime(ctx, 'listPodSandbox', { filter: { id: '', labelSelector: { [suiteKeyLabel]: key } } });
  const ids = new Set(listed.ok ? listed.response.items.map((item) => item.id) : []);
  if (knownId !== undefined) ids.add(knownId);
  const problems: string[] = [];
  for (const id of ids) {
    const stopped = await callRuntime(ctx, 'stopPodSandbox', { podSandboxId: id });
    const removed = await callRuntime(ctx, 'removePodSandbox', { podSandboxId: id });
    if (!removed.ok && removed.error.code !== 'NOT_FOUND') problems.push(`${id}: stop ${describeOutcome(stopped)}, remove ${describeOutcome(removed)}`);
  }
  if (problems.length > 0) throw new Error(`sandbox not removed: ${problems.join('; ')}`);
}

/** What a case may set on a container it creates. */
export interface ContainerOptions {
  /** Unique when unset. */
  readonly name?: string;
  /** The busybox test image when unset. */
  readonly image?: string;
  /** `command` (the entrypoint override); {@link sleepForever} when neither it nor args is set. */
  readonly command?: readonly string[];
  readonly args?: readonly string[];
  readonly workingDir?: string;
  readonly envs?: readonly KeyValue[];
  readonly mounts?: readonly Mount[];
  readonly devices?: readonly Device[];
  readonly labels?: Readonly<Record<string, string>>;
  readonly annotations?: Readonly<Record<string, string>>;
  readonly resources?: Partial<LinuxContainerResources>;
  readonly securityContext?: Partial<LinuxContainerSecurityContext>;
  readonly stopSignal?: Signal;
  /** Relative to the pod's log directory; `<name>.log` when unset. */
  readonly logPath?: string;
  /** Leave out the image's own entrypoint and cmd override entirely (both empty), to see the image's defaults. */
  readonly imageDefaults?: boolean;
}

/** A container the suite created, with the config it was created with. */
export interface TestContainer {
  readonly id: string;
  readonly pod: TestPod;
  readonly config: ContainerConfig;
}

/** A ContainerConfig as the kubelet would send it for `pod`, with the suite's key label. */
export function containerConfig(ctx: Ctx, pod: TestPod, options: ContainerOptions = {}): ContainerConfig {
  const name = options.name ?? ctx.uniqueName('kp-ctr');
  const useDefaults = options.imageDefaults === true;
  const command = useDefaults ? [] : (options.command ?? (options.args === undefined ? sleepForever : []));
  return ContainerConfig.fromPartial({
    metadata: { name, attempt: 0 },
    image: { image: options.image ?? ctx.subject.run.images.busybox },
    command: [...command],
    args: [...(options.args ?? [])],
    workingDir: options.workingDir ?? '',
    envs: [...(options.envs ?? [])],
    mounts: [...(options.mounts ?? [])],
    devices: [...(options.devices ?? [])],
    labels: { [suiteKeyLabel]: `${pod.config.metadata?.name ?? ''}/${name}`, ...options.labels },
    annotations: { ...options.annotations },
    logPath: options.logPath ?? `${name}.log`,
    linux: {
      ...(options.resources === undefined ? {} : { resources: options.resources }),
      securityContext: {
        namespaceOptions: pod.config.linux?.securityContext?.namespaceOptions,
        ...options.securityContext,
      },
    },
    ...(options.stopSignal === undefined ? {} : { stopSignal: options.stopSignal }),
  });
}

/**
 * Pulls the image (cached after the first case), then creates the container.
 * Its removal is registered before CreateContainer, found by the key label.
 */
export async function createContainer(ctx: Ctx, pod: TestPod, options: ContainerOptions = {}, check: { ids?: readonly string[] } = {}): Promise<TestContainer> {
  const config = containerConfig(ctx, pod, options);
  await pullImage(ctx, config.image?.image ?? '', check);
  return createContainerWith(ctx, pod, config, check);
}

/** Creates a container from a config the case built; removal registered first. */
export async function createContainerWith(ctx: Ctx, pod: TestPod, config: ContainerConfig, check: { ids?: readonly string[] } = {}): Promise<TestContainer> {
  const key = config.labels[suiteKeyLabel] ?? '';
  let knownId: string | undefined;
  ctx.defer(() => removeContainers(ctx, key, knownId), `remove container ${key}`);
  const created = await callRuntime(ctx, 'createContainer', { podSandboxId: pod.id, config, sandboxConfig: pod.config });
  requireOk(ctx, created, { ...check, what: 'CreateContainer succeeds' });
  knownId = created.response.containerId;
  return { id: knownId, pod, config };
}

async function removeContainers(ctx: Ctx, key: string, knownId: string | undefined): Promise<void> {
  const listed = await callRuntime(ctx, 'listContainers', { filter: { id: '', podSandboxId: '', labelSelector: { [suiteKeyLabel]: key } } });
  const ids = new Set(listed.ok ? listed.response.containers.map((item) => item.id) : []);
  if (knownId !== undefined) ids.add(knownId);
  for (const id of ids) {
    await callRuntime(ctx, 'stopContainer', { containerId: id, timeout: 0n });
    const removed = await callRuntime(ctx, 'removeContainer', { containerId: id });
    if (!removed.ok && removed.error.code !== 'NOT_FOUND') throw new Error(`container ${id} not removed: ${describeOutcome(removed)}`);
  }
}

/** Creates and starts a container; stops the case if either fails. */
export async function startTestContainer(ctx: Ctx, pod: TestPod, options: ContainerOptions = {}, check: { ids?: readonly string[] } = {}): Promise<TestContainer> {
  const container = await createContainer(ctx, pod, options, check);
  const started = await callRuntime(ctx, 'startContainer', { containerId: container.id });
  requireOk(ctx, started, { ...check, what: 'StartContainer succeeds' });
  return container;
}

/** Runs a pod and starts one container in it: the common start of a case. */
export async function podWithContainer(
  ctx: Ctx,
  options: { pod?: PodOptions; container?: ContainerOptions } = {},
  check: { ids?: readonly string[] } = {},
): Promise<TestContainer> {
  const pod = await runTestPod(ctx, options.pod, check);
  return startTestContainer(ctx, pod, options.container, check);
}

/** Pulls an image the run pushed; stops the case when the pull fails. */
export async function pullImage(ctx: Ctx, image: string, check: { ids?: readonly string[] } = {}): Promise<string> {
  const pulled = await callImage(ctx, 'pullImage', { image: { image, annotations: {}, userSpecifiedImage: '', runtimeHandler: '', imageRef: '' }, sandboxConfig: undefined, auth: undefined }, { extraMs: 60_000 });
  requireOk(ctx, pulled, { ...check, what: `PullImage ${image} succeeds` });
  return pulled.response.imageRef;
}

/** What ExecSync gave back, as text. */
export interface ExecResult {
  readonly stdout: string;
  readonly stderr: string;
  readonly exitCode: number;
}

/** Runs a command in a container with ExecSync; stops the case when the call fails (a non-zero exit is a result, not a failure). */
export async function execSync(
  ctx: Ctx,
  containerId: string,
  cmd: readonly string[],
  options: { timeoutSeconds?: number; ids?: readonly string[] } = {},
): Promise<ExecResult> {
  const timeout = options.timeoutSeconds ?? 10;
  const ran = await callRuntime(ctx, 'execSync', { containerId, cmd: [...cmd], timeout: BigInt(timeout) }, { extraMs: timeout * 1000 });
  requireOk(ctx, ran, { ...(options.ids === undefined ? {} : { ids: options.ids }), what: `ExecSync ${cmd.join(' ')} succeeds` });
  return {
    stdout: Buffer.from(ran.response.stdout).toString('utf8'),
    stderr: Buffer.from(ran.response.stderr).toString('utf8'),
    exitCode: ran.response.exitCode,
  };
}

/** Runs `sh -c script` in the container and returns its stdout, requiring exit 0. */
export async function shellOutput(ctx: Ctx, containerId: string, script: string, check: { ids?: readonly string[] } = {}): Promise<string> {
  const result = await execSync(ctx, containerId, ['sh', '-c', script], check);
  ctx.require(result.exitCode === 0, {
    ids: check.ids ?? [],
    what: `the command "${script}" runs in the container`,
    expected: 'exit 0',
    got: result,
  });
  return result.stdout;
}

/** ContainerStatus of one container; stops the case when the call fails. */
export async function containerStatus(ctx: Ctx, containerId: string, check: { ids?: readonly string[] } = {}): Promise<ContainerStatus> {
  const answer = await callRuntime(ctx, 'containerStatus', { containerId, verbose: false });
  requireOk(ctx, answer, { ...check, what: 'ContainerStatus succeeds' });
  ctx.require(answer.response.status !== undefined, { ids: check.ids ?? [], what: 'ContainerStatus carries a status', expected: 'status', got: answer.response });
  return answer.response.status;
}

/**
 * Polls ContainerStatus (every 200 ms, quietly: only the last answer is
 * evidence) until the container is EXITED, and returns that status; stops
 * the case after `timeoutMs`.
 */
export async function waitForExit(ctx: Ctx, containerId: string, options: { timeoutMs?: number; ids?: readonly string[] } = {}): Promise<ContainerStatus> {
  const deadline = Date.now() + (options.timeoutMs ?? 15_000);
  for (;;) {
    const answer = await quietContainerStatus(ctx, containerId);
    if (answer?.state === ContainerState.CONTAINER_EXITED || Date.now() > deadline) {
      const status = await containerStatus(ctx, containerId, options);
      ctx.require(status.state === ContainerState.CONTAINER_EXITED, {
        ids: options.ids ?? [],
        what: `the container exits within ${(options.timeoutMs ?? 15_000) / 1000} s`,
        expected: 'CONTAINER_EXITED',
        got: ContainerState[status.state] ?? status.state,
      });
      return status;
    }
    await sleep(200);
  }
}

/** ContainerStatus without evidence, for polling loops (the final answer is recorded by the caller). */
async function quietContainerStatus(ctx: Ctx, containerId: string): Promise<ContainerStatus | undefined> {
  return new Promise((resolve) => {
    ctx.subject.runtime.containerStatus(
      { containerId, verbose: false },
      new Metadata(),
      { deadline: new Date(Date.now() + ctx.subject.callTimeoutMs) },
      (error, response) => resolve(error === null ? response.status : undefined),
    );
  });
}

/** A Mount of `hostPath` at `containerPath`, private and writable unless told otherwise. */
export function bindMount(hostPath: string, containerPath: string, options: { readonly?: boolean; propagation?: MountPropagation } = {}): Mount {
  return Mount.fromPartial({ hostPath, containerPath, readonly: options.readonly ?? false, propagation: options.propagation ?? MountPropagation.PROPAGATION_PRIVATE });
}

/**
 * Waits (up to 10 s) until the container's command has touched
 * {@link trapsReadyFile}: a shell as PID 1 ignores signals that come before
 * its trap, so cases that measure signal handling wait for it.
 */
export async function waitForTraps(ctx: Ctx, containerId: string): Promise<void> {
  const deadline = Date.now() + 10_000;
  for (;;) {
    const probe = await callRuntime(ctx, 'execSync', { containerId, cmd: ['test', '-e', trapsReadyFile], timeout: 5n }, { extraMs: 5000 });
    if (probe.ok && probe.response.exitCode === 0) return;
    ctx.require(Date.now() < deadline, { ids: [], what: "the container's command sets its signal traps within 10 s", expected: `${trapsReadyFile} exists`, got: describeOutcome(probe) });
    await sleep(200);
  }
}

/** A host folder of the suite's, for mounts; removed by a cleanup step registered now. */
export function hostFolder(ctx: Ctx, name: string): string {
  const dir = path.join(ctx.subject.run.workDir, 'host', ctx.uniqueName(name));
  fs.mkdirSync(dir, { recursive: true });
  ctx.defer(() => fs.rmSync(dir, { recursive: true, force: true }), `remove ${dir}`);
  return dir;
}
