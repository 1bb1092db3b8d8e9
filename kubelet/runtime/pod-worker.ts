/**
 * The pod workers: for one pod at a time, decide (the replaceable part
 * computePodActions) and act through CRI and CSI: kill with preStop and
 * grace, stop and remove sandboxes, set up volumes, create the sandbox, pull
 * images, create and start containers, run postStart. Modelled on
 * kubernetes/kubernetes pkg/kubelet/kuberuntime/kuberuntime_manager.go SyncPod,
 * kuberuntime_container.go startContainer/killContainer/executePreStopHook and
 * kuberuntime_sandbox.go; our own code.
 *
 * Syncs of one pod never overlap: a sync asked for while one runs waits, and
 * several waiting ones fold into one that observes the runtime afresh.
 */
import fs from 'node:fs/promises';
import path from 'node:path';
import { callUnary, GrpcStatusError, type ImageServiceClient, type PodSandboxConfig, type RuntimeServiceClient } from '../../specs/cri/index.js';
import type { Container, Pod } from '../api/pod-types.js';
import type { EventSink } from '../events/event-sink.js';
import type { ContainerToKill, ContainerToStart, KubeletParts, ObservedContainer, ObservedPod, PodActions } from '../kubelet-parts.js';
import type { ProbeManager } from '../prober/probe-manager-contract.js';
import type { CsiClients } from '../volumes/csi-clients.js';
import { PodVolumes } from '../volumes/pod-volumes.js';
import { podLogDirectory } from '../volumes/volume-paths.js';
import { isSidecar } from './compute-pod-actions.js';
import { restartGate } from './container-backoff.js';
import { ImagePuller } from './image-puller.js';
import { describeHandler, runLifecycleHandler } from './lifecycle-hooks.js';
import { observePod } from './observe-pods.js';
import { buildContainerConfig, buildSandboxConfig } from './runtime-configs.js';
import { decodeContainerAnnotations, type ContainerKind } from './runtime-labels.js';

/** What the pod workers act through. */
export interface PodWorkerDeps {
  readonly runtime: RuntimeServiceClient;
  readonly images: ImageServiceClient;
  /** CSI drivers by name. */
  readonly csi: ReadonlyMap<string, CsiClients>;
  readonly parts: KubeletParts;
  readonly probes: ProbeManager;
  readonly events: EventSink;
  readonly rootDir: string;
  readonly nodeName: string;
  readonly maxRestartPeriodMs: number;
  readonly now?: () => number;
  /** linux.cgroup_parent for every sandbox (e.g. a CriNode's cgroupParent); none when unset. */
  readonly cgroupParent?: string;
  /** Deadline of each CRI call other than PullImage and StopContainer, in ms (default 30 s). */
  readonly callTimeoutMs?: number;
}

/** A container's waiting reason as the kubelet knows it. */
export interface WaitingReason {
  readonly reason: string;
  readonly message?: string;
}

/** What one sync found, for the status. */
export interface PodSyncResult {
  /** Waiting reasons by container name (CrashLoopBackOff, ErrImagePull, ImagePullBackOff, ErrImageNeverPull, CreateContainerError…). */
  readonly waiting: Map<string, WaitingReason>;
  readonly podFailed?: { readonly reason: string; readonly message: string };
  readonly deadlineExceeded: boolean;
  /** When the pod should be synced again at the latest (ms since the epoch), e.g. the end of a back-off. */
  readonly nextSyncAt?: number;
}

/** Event reasons the workers record (upstream pkg/kubelet/events/event.go). */
export const workerEventReasons = {
  pulling: 'Pulling',
  pulled: 'Pulled',
  created: 'Created',
  started: 'Started',
  killing: 'Killing',
  backOff: 'BackOff',
  failed: 'Failed',
  failedPostStartHook: 'FailedPostStartHook',
  failedPreStopHook: 'FailedPreStopHook',
  sandboxChanged: 'SandboxChanged',
  failedCreatePodSandBox: 'FailedCreatePodSandBox',
  failedMount: 'FailedMount',
} as const;

/** How soon to look again while init containers or sidecars are on their way. */
const initPollMs = 200;

/** The fieldPath of a container's events, as upstream names it. */
export function containerFieldPath(kind: ContainerKind, name: string): string {
  return kind === 'app' ? `spec.containers{${name}}` : `spec.initContainers{${name}}`;
}

/** When activeDeadlineSeconds ends the pod, counted from its first sandbox (ms), or undefined. @see KUBELET-HOOK-007 */
export function podDeadline(pod: Pod | undefined, observed: ObservedPod | undefined): number | undefined {
  const seconds = pod?.spec.activeDeadlineSeconds;
  if (seconds === undefined || observed === undefined || observed.sandboxes.length === 0) return undefined;
  const first = Math.min(...observed.sandboxes.map((sandbox) => sandbox.createdAt).filter((created) => created > 0));
  return Number.isFinite(first) ? first + seconds * 1000 : undefined;
}

function specOf(pod: Pod, name: string): { container: Container; kind: ContainerKind } | undefined {
  const init = (pod.spec.initContainers ?? []).find((container) => container.name === name);
  if (init !== undefined) return { container: init, kind: isSidecar(init) ? 'sidecar' : 'init' };
  const app = pod.spec.containers.find((container) => container.name === name);
  return app === undefined ? undefined : { container: app, kind: 'app' };
}

/** A stand-in Pod for events about a pod whose manifest is gone. */
function podFromObserved(uid: string, observed: ObservedPod | undefined): Pod {
  return { metadata: { name: observed?.name ?? uid, namespace: observed?.namespace ?? 'default', uid }, spec: { containers: [] } };
}

function isActive(container: ObservedContainer): boolean {
  return container.state === 'running' || container.state === 'created' || container.state === 'unknown';
}

function messageOf(error: unknown): string {
  return error instanceof GrpcStatusError ? `${error.code}: ${error.message}` : error instanceof Error ? error.message : String(error);
}

interface PendingSync {
  desired: Pod | undefined;
  readonly promise: Promise<PodSyncResult>;
  resolve(result: PodSyncResult): void;
  reject(error: unknown): void;
}

interface SyncContext {
  readonly uid: string;
  readonly pod: Pod;
  readonly waiting: Map<string, WaitingReason>;
  nextSyncAt: number | undefined;
}

/** Runs pod syncs: never two at once for one UID; different pods concurrently. */
export class PodWorkers {
  readonly #deps: PodWorkerDeps;
  readonly #now: () => number;
  readonly #volumes: PodVolumes;
  readonly #puller: ImagePuller;
  readonly #running = new Map<string, Promise<PodSyncResult>>();
  readonly #pending = new Map<string, PendingSync>();
  /** Back-off events already recorded, by pod UID and container name, so one back-off is told once. */
  readonly #backOffTold = new Map<string, number>();

  constructor(deps: PodWorkerDeps) {
    this.#deps = deps;
    this.#now = deps.now ?? Date.now;
    this.#volumes = new PodVolumes({ rootDir: deps.rootDir, csi: deps.csi });
    this.#puller = new ImagePuller({
      images: deps.images,
      shouldPullImage: deps.parts.shouldPullImage,
      events: deps.events,
      maxBackoffMs: deps.maxRestartPeriodMs,
      now: this.#now,
    });
  }

  /** The volumes the workers set up (for tearing down pods a previous kubelet left on disk). */
  get volumes(): PodVolumes {
    return this.#volumes;
  }

  /**
   * Brings the pod `uid` towards `desired` (undefined: the pod is gone) from
   * `observed`; resolves with what the status needs.
   */
  sync(uid: string, desired: Pod | undefined, observed: ObservedPod | undefined): Promise<PodSyncResult> {
    if (!this.#running.has(uid)) return this.#start(uid, desired, observed);
    const pending = this.#pending.get(uid);
    if (pending !== undefined) {
      pending.desired = desired;
      return pending.promise;
    }
    let resolve!: (result: PodSyncResult) => void;
    let reject!: (error: unknown) => void;
    const promise = new Promise<PodSyncResult>((ok, fail) => {
      resolve = ok;
      reject = fail;
    });
    this.#pending.set(uid, { desired, promise, resolve, reject });
    return promise;
  }

  #start(uid: string, desired: Pod | undefined, observed: ObservedPod | undefined): Promise<PodSyncResult> {
    const run = this.#syncOnce(uid, desired, observed);
    this.#running.set(uid, run);
    const next = (): void => {
      this.#running.delete(uid);
      const pending = this.#pending.get(uid);
      if (pending === undefined) return;
      this.#pending.delete(uid);
      // The observation handed to the waiting call is stale by now: look again.
      const fresh = observePod(this.#deps.runtime, uid, { callTimeoutMs: this.#callTimeoutMs() }).then((again) => this.#start(uid, pending.desired, again));
      fresh.then(pending.resolve, pending.reject);
    };
    run.then(next, next);
    return run;
  }

  /** Whether a sync of the pod is running or waiting. */
  busy(uid: string): boolean {
    return this.#running.has(uid) || this.#pending.has(uid);
  }

  #callTimeoutMs(): number {
    return this.#deps.callTimeoutMs ?? 30_000;
  }

  #deadline(): { deadline: Date } {
    return { deadline: new Date(Date.now() + this.#callTimeoutMs()) };
  }

  async #syncOnce(uid: string, desired: Pod | undefined, observed: ObservedPod | undefined): Promise<PodSyncResult> {
    const { parts, probes } = this.#deps;
    const now = this.#now();
    const deadlineAt = podDeadline(desired, observed);
    const deadlineExceeded = deadlineAt !== undefined && now >= deadlineAt;
    const actions = parts.computePodActions({
      pod: desired,
      observed,
      probes: probes.lookup,
      now,
      maxRestartPeriodMs: this.#deps.maxRestartPeriodMs,
      restartBackoff: parts.restartBackoff,
      deadlineExceeded,
    });
    const pod = desired ?? podFromObserved(uid, observed);
    const context: SyncContext = { uid, pod, waiting: new Map(), nextSyncAt: deadlineExceeded ? undefined : deadlineAt };
    const result = (): PodSyncResult => ({
      waiting: context.waiting,
      ...(actions.podFailed === undefined ? {} : { podFailed: actions.podFailed }),
      deadlineExceeded,
      ...(context.nextSyncAt === undefined ? {} : { nextSyncAt: context.nextSyncAt }),
    });

    if (desired !== undefined && !actions.killPod) {
      const sandbox = observed?.sandboxes.find((entry) => entry.id === actions.sandboxId);
      probes.syncPod(desired, sandbox?.ip, (observed?.containers ?? []).filter((container) => container.state === 'running' && container.sandboxId === actions.sandboxId));
    }

    const containers = observed?.containers ?? [];
    const killed = new Set<string>();
    await this.#killContainers(context, containers, actions.containersToKill, killed);

    if (actions.killPod) {
      const rest = containers
        .filter((container) => isActive(container) && !killed.has(container.id))
        .map((container) => ({ containerId: container.id, name: container.name, reason: 'Killing', message: `Stopping container ${container.name}` }));
      await this.#killContainers(context, containers, rest, killed);
      for (const sandbox of observed?.sandboxes ?? []) {
        if (sandbox.ready || desired === undefined) await this.#stopSandbox(sandbox.id);
      }
      if (desired === undefined) probes.removePod(uid);
    }

    if (desired === undefined) {
      await this.#removePod(context, observed);
      return result();
    }

    await this.#removeContainers(actions.containersToRemove);
    this.#noteBackOff(context, actions);
    if (actions.podFailed !== undefined || (!actions.createSandbox && actions.containersToStart.length === 0)) return result();

    let volumePaths: Map<string, string>;
    try {
      volumePaths = await this.#volumes.setUp(desired);
    } catch (error) {
      const message = `MountVolume.SetUp failed: ${messageOf(error)}`;
      this.#deps.events.record(desired, undefined, 'Warning', workerEventReasons.failedMount, message);
      for (const start of actions.containersToStart) context.waiting.set(start.name, { reason: 'ContainerCreating', message });
      this.#syncAgainAt(context, now + 1000);
      return result();
    }

    const sandbox = await this.#ensureSandbox(context, actions, observed);
    if (sandbox === undefined) return result();
    for (const start of actions.containersToStart) {
      const started = await this.#startContainer(context, sandbox, start, containers, volumePaths);
      if (start.kind !== 'app') this.#syncAgainAt(context, this.#now() + initPollMs);
      // An init container or sidecar that did not start holds back the ones after it.
      if (!started && start.kind !== 'app') break;
    }
    return result();
  }

  #syncAgainAt(context: SyncContext, at: number): void {
    context.nextSyncAt = context.nextSyncAt === undefined ? at : Math.min(context.nextSyncAt, at);
  }

  /** CrashLoopBackOff for the containers held back; the BackOff event once per back-off. @see KUBELET-RESTART-004 */
  #noteBackOff(context: SyncContext, actions: PodActions): void {
    for (const held of actions.backingOff) {
      context.waiting.set(held.name, { reason: 'CrashLoopBackOff', message: held.message });
      this.#syncAgainAt(context, held.until);
      const key = `${context.uid}/${held.name}`;
      if (this.#backOffTold.get(key) === held.until) continue;
      this.#backOffTold.set(key, held.until);
      const spec = specOf(context.pod, held.name);
      this.#deps.events.record(
        context.pod,
        containerFieldPath(spec?.kind ?? 'app', held.name),
        'Warning',
        workerEventReasons.backOff,
        `Back-off restarting failed container ${held.name} in pod ${context.pod.metadata.name}_${context.pod.metadata.namespace ?? 'default'}(${context.uid})`,
      );
    }
  }

  /** The sandbox to start containers in: the current one, or a new one (SandboxChanged). */
  async #ensureSandbox(
    context: SyncContext,
    actions: PodActions,
    observed: ObservedPod | undefined,
  ): Promise<{ id: string; config: PodSandboxConfig; ip: string | undefined } | undefined> {
    const { runtime, events } = this.#deps;
    const pod = context.pod;
    const config = buildSandboxConfig(pod, actions.sandboxAttempt, {
      rootDir: this.#deps.rootDir,
      ...(this.#deps.cgroupParent === undefined ? {} : { cgroupParent: this.#deps.cgroupParent }),
    });
    if (!actions.createSandbox) {
      const current = observed?.sandboxes.find((sandbox) => sandbox.id === actions.sandboxId);
      if (actions.sandboxId === undefined) return undefined;
      return { id: actions.sandboxId, config, ip: current?.ip };
    }
    if ((observed?.sandboxes.length ?? 0) > 0) events.record(pod, undefined, 'Normal', workerEventReasons.sandboxChanged, 'Pod sandbox changed, it will be killed and re-created.');
    try {
      await fs.mkdir(config.logDirectory, { recursive: true });
      const { podSandboxId } = await callUnary(runtime, runtime.runPodSandbox, { config, runtimeHandler: '' }, { deadline: new Date(Date.now() + Math.max(this.#callTimeoutMs(), 120_000)) });
      const status = await callUnary(runtime, runtime.podSandboxStatus, { podSandboxId, verbose: false }, this.#deadline());
      const ip = status.status?.network?.ip;
      return { id: podSandboxId, config, ip: ip === '' ? undefined : ip };
    } catch (error) {
      const message = `Failed to create pod sandbox: ${messageOf(error)}`;
      events.record(pod, undefined, 'Warning', workerEventReasons.failedCreatePodSandBox, message);
      for (const start of actions.containersToStart) context.waiting.set(start.name, { reason: 'ContainerCreating', message });
      this.#syncAgainAt(context, this.#now() + 1000);
      return undefined;
    }
  }

  /** Pull, create, start, postStart; false when the container did not get running. @see KUBELET-HOOK-003 */
  async #startContainer(
    context: SyncContext,
    sandbox: { id: string; config: PodSandboxConfig; ip: string | undefined },
    start: ContainerToStart,
    observed: readonly ObservedContainer[],
    volumePaths: ReadonlyMap<string, string>,
  ): Promise<boolean> {
    const { runtime, events, parts } = this.#deps;
    const pod = context.pod;
    const spec = specOf(pod, start.name);
    if (spec === undefined) return false;
    const { container } = spec;
    const fieldPath = containerFieldPath(start.kind, start.name);
    const fail = (reason: string, message: string): false => {
      context.waiting.set(start.name, { reason, message });
      return false;
    };

    const image = await this.#puller.ensure(pod, container, fieldPath, sandbox.config);
    if (!image.ok) {
      if (image.retryAt !== undefined) this.#syncAgainAt(context, image.retryAt);
      return fail(image.reason, image.message);
    }

    const config = buildContainerConfig(pod, container, { kind: start.kind, attempt: start.attempt, crashStreak: this.#crashStreakFor(start.name, observed), volumePaths });
    let containerId: string;
    try {
      await fs.mkdir(path.join(sandbox.config.logDirectory, container.name), { recursive: true });
      for (const mount of container.volumeMounts ?? []) {
        const base = volumePaths.get(mount.name);
        // A subPath folder is made inside the volume, as upstream does.
        if (base !== undefined && mount.subPath !== undefined && mount.subPath !== '' && !mount.subPath.split('/').includes('..')) {
          await fs.mkdir(path.join(base, mount.subPath), { recursive: true });
        }
      }
      containerId = (await callUnary(runtime, runtime.createContainer, { podSandboxId: sandbox.id, config, sandboxConfig: sandbox.config }, this.#deadline())).containerId;
    } catch (error) {
      const message = messageOf(error);
      events.record(pod, fieldPath, 'Warning', workerEventReasons.failed, `Error: ${message}`);
      this.#syncAgainAt(context, this.#now() + 1000);
      return fail('CreateContainerError', message);
    }
    events.record(pod, fieldPath, 'Normal', workerEventReasons.created, `Created container: ${container.name}`);
    try {
      await callUnary(runtime, runtime.startContainer, { containerId }, this.#deadline());
    } catch (error) {
      const message = messageOf(error);
      events.record(pod, fieldPath, 'Warning', workerEventReasons.failed, `Error: ${message}`);
      // A container left CREATED would hold the pod forever: remove it, the next sync creates it again.
      await this.#removeContainers([containerId]);
      this.#syncAgainAt(context, this.#now() + 1000);
      return fail('RunContainerError', message);
    }
    events.record(pod, fieldPath, 'Normal', workerEventReasons.started, `Started container ${container.name}`);

    const postStart = container.lifecycle?.postStart;
    if (postStart !== undefined) {
      try {
        await parts.runLifecycleHook('postStart', () =>
          runLifecycleHandler(postStart, { runtime, containerId, container, podIp: sandbox.ip, timeoutSeconds: 0 }),
        );
      } catch (error) {
        // @see KUBELET-HOOK-004
        const handler = describeHandler(postStart);
        const message = `${handler.kind} lifecycle hook (${handler.detail}) for Container "${container.name}" in Pod "${pod.metadata.name}_${pod.metadata.namespace ?? 'default'}(${context.uid})" failed - error: ${messageOf(error)}`;
        events.record(pod, fieldPath, 'Warning', workerEventReasons.failedPostStartHook, message);
        const running: ObservedContainer = {
          id: containerId,
          name: container.name,
          attempt: start.attempt,
          sandboxId: sandbox.id,
          state: 'running',
          createdAt: this.#now(),
          startedAt: this.#now(),
          finishedAt: 0,
          exitCode: 0,
          reason: '',
          message: '',
          image: container.image,
          imageRef: '',
          labels: config.labels,
          annotations: config.annotations,
        };
        await this.#killContainers(context, [running], [{ containerId, name: container.name, reason: 'FailedPostStartHook', message: 'FailedPostStartHook' }], new Set());
        this.#syncAgainAt(context, this.#now() + initPollMs);
        return fail('PostStartHookError', message);
      }
    }
    return true;
  }

  /** The crash streak a new container of `name` carries, from its newest predecessor. */
  #crashStreakFor(name: string, observed: readonly ObservedContainer[]): number {
    let previous: ObservedContainer | undefined;
    for (const container of observed) {
      if (container.name !== name) continue;
      if (previous === undefined || container.attempt > previous.attempt || (container.attempt === previous.attempt && container.createdAt > previous.createdAt)) previous = container;
    }
    if (previous === undefined) return 0;
    return restartGate(previous, this.#now(), this.#deps.parts.restartBackoff, this.#deps.maxRestartPeriodMs).nextStreak;
  }

  /** Kills the listed containers: every one but sidecars in parallel, then the sidecars. @see KUBELET-PLUGIN-005 */
  async #killContainers(context: SyncContext, observed: readonly ObservedContainer[], kills: readonly ContainerToKill[], killed: Set<string>): Promise<void> {
    const byId = new Map(observed.map((container) => [container.id, container]));
    const kindOf = (kill: ContainerToKill): ContainerKind => {
      const found = byId.get(kill.containerId);
      const fromSpec = specOf(context.pod, kill.name)?.kind;
      return fromSpec ?? (found === undefined ? 'app' : decodeContainerAnnotations(found.annotations).kind);
    };
    const first = kills.filter((kill) => kindOf(kill) !== 'sidecar');
    const sidecars = kills.filter((kill) => kindOf(kill) === 'sidecar');
    for (const group of [first, sidecars]) {
      await Promise.all(
        group.map(async (kill) => {
          if (killed.has(kill.containerId)) return;
          killed.add(kill.containerId);
          await this.#killContainer(context, byId.get(kill.containerId), kill, kindOf(kill));
        }),
      );
    }
  }

  /**
   * preStop (bounded by the grace period), then StopContainer with the rest
   * of it. @see KUBELET-HOOK-005 @see KUBELET-HOOK-006 @see KUBELET-HOOK-008
   */
  async #killContainer(context: SyncContext, observed: ObservedContainer | undefined, kill: ContainerToKill, kind: ContainerKind): Promise<void> {
    const { runtime, events, parts } = this.#deps;
    const pod = context.pod;
    const remembered = observed === undefined ? undefined : decodeContainerAnnotations(observed.annotations);
    const spec = specOf(pod, kill.name)?.container;
    // A deletion's grace period (an eviction's) wins over the pod's own, as upstream's killContainer does.
    let grace = pod.metadata.deletionGracePeriodSeconds ?? pod.spec.terminationGracePeriodSeconds ?? remembered?.terminationGracePeriodSeconds ?? 30;
    // A probe's own terminationGracePeriodSeconds wins for kills it caused (upstream killContainer).
    const probe = kill.reason === 'LivenessProbeFailed' ? spec?.livenessProbe : kill.reason === 'StartupProbeFailed' ? spec?.startupProbe : undefined;
    if (probe?.terminationGracePeriodSeconds !== undefined) grace = probe.terminationGracePeriodSeconds;
    const fieldPath = containerFieldPath(kind, kill.name);
    events.record(pod, fieldPath, 'Normal', workerEventReasons.killing, kill.message);

    const preStop = spec?.lifecycle?.preStop ?? remembered?.preStop;
    const started = Date.now();
    if (preStop !== undefined && (observed === undefined || observed.state === 'running')) {
      const abort = new AbortController();
      let timer: NodeJS.Timeout | undefined;
      const overdue = new Promise<void>((resolve) => {
        timer = setTimeout(() => {
          abort.abort();
          resolve();
        }, grace * 1000);
      });
      try {
        await Promise.race([
          parts.runLifecycleHook('preStop', () =>
            runLifecycleHandler(preStop, {
              runtime,
              containerId: kill.containerId,
              container: spec ?? { name: kill.name, image: '' },
              podIp: undefined,
              timeoutSeconds: grace,
              signal: abort.signal,
            }),
          ),
          overdue,
        ]);
      } catch (error) {
        const handler = describeHandler(preStop);
        events.record(
          pod,
          fieldPath,
          'Warning',
          workerEventReasons.failedPreStopHook,
          `PreStopHook failed: ${handler.kind} lifecycle hook (${handler.detail}) for Container "${kill.name}" in Pod "${pod.metadata.name}_${pod.metadata.namespace ?? 'default'}(${context.uid})" failed - error: ${messageOf(error)}`,
        );
      } finally {
        clearTimeout(timer);
      }
    }
    const elapsedSeconds = (Date.now() - started) / 1000;
    const timeout = Math.max(0, Math.ceil(parts.stopTimeoutSeconds(grace, elapsedSeconds)));
    try {
      await callUnary(runtime, runtime.stopContainer, { containerId: kill.containerId, timeout: BigInt(timeout) }, { deadline: new Date(Date.now() + (timeout + 30) * 1000) });
    } catch (error) {
      if (GrpcStatusError.from(error).code !== 'NOT_FOUND') {
        events.record(pod, fieldPath, 'Warning', workerEventReasons.failed, `Error: failed to stop container ${kill.name}: ${messageOf(error)}`);
        this.#syncAgainAt(context, this.#now() + 1000);
      }
    }
  }

  async #stopSandbox(podSandboxId: string): Promise<void> {
    const { runtime } = this.#deps;
    try {
      await callUnary(runtime, runtime.stopPodSandbox, { podSandboxId }, { deadline: new Date(Date.now() + Math.max(this.#callTimeoutMs(), 60_000)) });
    } catch (error) {
      if (GrpcStatusError.from(error).code !== 'NOT_FOUND') throw error;
    }
  }

  async #removeContainers(ids: readonly string[]): Promise<void> {
    const { runtime } = this.#deps;
    await Promise.all(
      ids.map(async (containerId) => {
        try {
          await callUnary(runtime, runtime.removeContainer, { containerId }, this.#deadline());
        } catch {
          // Garbage collection is best effort: the next sync tries again.
        }
      }),
    );
  }

  /**
   * The manifest is gone and every container stopped: tear the volumes down,
   * then remove the sandboxes; a volume that will not go keeps the sandboxes
   * (so the pod is observed, and retried, next sync). @see KUBELET-MANIFEST-009
   */
  async #removePod(context: SyncContext, observed: ObservedPod | undefined): Promise<void> {
    const { runtime, events } = this.#deps;
    try {
      await this.#volumes.tearDown(context.uid);
    } catch (error) {
      events.record(context.pod, undefined, 'Warning', 'FailedUnmount', `UnmountVolume.TearDown failed: ${messageOf(error)}`);
      this.#syncAgainAt(context, this.#now() + 1000);
      if ((observed?.sandboxes.length ?? 0) > 0) return;
    }
    for (const sandbox of observed?.sandboxes ?? []) {
      try {
        await callUnary(runtime, runtime.removePodSandbox, { podSandboxId: sandbox.id }, { deadline: new Date(Date.now() + Math.max(this.#callTimeoutMs(), 60_000)) });
      } catch (error) {
        if (GrpcStatusError.from(error).code !== 'NOT_FOUND') {
          this.#syncAgainAt(context, this.#now() + 1000);
          continue;
        }
      }
    }
    const namespace = observed?.namespace ?? context.pod.metadata.namespace ?? 'default';
    const name = observed?.name ?? context.pod.metadata.name;
    await fs.rm(podLogDirectory(this.#deps.rootDir, namespace, name, context.uid), { recursive: true, force: true });
    this.#puller.forget(context.uid);
    for (const key of this.#backOffTold.keys()) if (key.startsWith(`${context.uid}/`)) this.#backOffTold.delete(key);
  }

  /**
   * Tears down volumes left on disk for pods that are neither desired nor
   * in the runtime (e.g. removed while the kubelet was down).
   */
  async collectOrphanedVolumes(keep: ReadonlySet<string>): Promise<void> {
    for (const uid of await this.#volumes.podsOnDisk()) {
      if (keep.has(uid) || this.busy(uid)) continue;
      try {
        await this.#volumes.tearDown(uid);
      } catch {
        // Retried on the next call.
      }
    }
  }
}
