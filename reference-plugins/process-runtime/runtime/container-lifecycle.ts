import fs from 'node:fs/promises';
import path from 'node:path';
import {
  ContainerEventType,
  ContainerState,
  GrpcStatusError,
  Signal,
  type ContainerConfig,
  type LinuxContainerResources,
  type PodSandboxConfig,
} from '../../../specs/cri/index.js';
import { readCgroupStats } from '../oci/cgroups.js';
import type { ExitRecord } from '../oci/exit-record.js';
import { mountOverlay, unmountIfMounted } from '../oci/rootfs.js';
import { reopenShimLog } from '../oci/shim-process.js';
import { writeContainerRecord, type ContainerRecord } from './container-store.js';
import { containerStateOf, containerStatusOf, sandboxStatusOf } from './cri-views.js';
import { removeFolderSafely } from './folder-removal.js';
import { newObjectId, nowNs } from './ids.js';
import { ociResourcesOf, readBundleProcess, writeContainerBundle } from './oci-bundles.js';
import { RollbackStack } from './rollback-stack.js';
import { containerPaths } from './root-layout.js';
import type { RuntimeContext } from './runtime-context.js';
import { containerNameKey, type ContainerEntry } from './runtime-state.js';
import { refuseInvalidUserSettings } from './user-settings.js';

/** How long a SIGKILLed container may take to be reaped before the call fails. */
const killWaitMs = 10_000;

function unknownContainer(id: string): GrpcStatusError {
  return new GrpcStatusError({ code: 'NOT_FOUND', message: `container ${JSON.stringify(id)} not found` });
}

/** The container, or NOT_FOUND naming the ID. */
export function requireContainer(ctx: RuntimeContext, idOrPrefix: string): ContainerEntry {
  const entry = ctx.state.findContainer(idOrPrefix);
  if (entry === undefined) throw unknownContainer(idOrPrefix);
  return entry;
}

/** The signal StopContainer sends first: the config's, else the image's STOPSIGNAL, else SIGTERM. */
export function stopSignalOf(config: ContainerConfig, imageStopSignal: string | undefined): string {
  if (config.stopSignal !== Signal.RUNTIME_DEFAULT && config.stopSignal !== Signal.UNRECOGNIZED) {
    const name = Signal[config.stopSignal];
    if (name !== undefined) return name;
  }
  if (imageStopSignal !== undefined && imageStopSignal !== '') {
    const upper = imageStopSignal.toUpperCase();
    return /^\d+$/.test(upper) || upper.startsWith('SIG') ? upper : `SIG${upper}`;
  }
  return 'SIGTERM';
}

/** Publishes a container event with its sandbox's status and every container status of that sandbox. */
export function publishContainerEvent(ctx: RuntimeContext, entry: ContainerEntry, type: ContainerEventType): void {
  const sandbox = ctx.state.sandboxes.get(entry.record.sandboxId);
  ctx.events.publish({
    containerId: entry.record.id,
    containerEventType: type,
    createdAt: nowNs(),
    podSandboxStatus: sandbox === undefined ? undefined : sandboxStatusOf(sandbox),
    containersStatuses:
      type === ContainerEventType.CONTAINER_DELETED_EVENT
        ? ctx.state.containersOf(entry.record.sandboxId).filter((c) => c !== entry).map(containerStatusOf)
        : ctx.state.containersOf(entry.record.sandboxId).map(containerStatusOf),
  });
}

/**
 * CreateContainer: rootfs (overlay of the image's layers), bundle, shim +
 * `runc create`. The container is CREATED, its process waiting to be started.
 */
export async function createContainer(
  ctx: RuntimeContext,
  sandboxIdOrPrefix: string,
  config: ContainerConfig,
  _sandboxConfig: PodSandboxConfig | undefined,
): Promise<string> {
  refuseInvalidUserSettings('config.linux.security_context', config.linux?.securityContext);
  const sandbox = ctx.state.findSandbox(sandboxIdOrPrefix);
  if (sandbox === undefined) throw new GrpcStatusError({ code: 'NOT_FOUND', message: `pod sandbox ${JSON.stringify(sandboxIdOrPrefix)} not found` });
  const sandboxId = sandbox.record.id;
  const id = newObjectId();
  return ctx.locks.run([sandboxId], async () => {
    if (sandbox.record.phase !== 'ready') {
      throw new GrpcStatusError({ code: 'FAILED_PRECONDITION', message: `pod sandbox ${sandboxId} is not ready (state ${sandbox.record.phase})` });
    }
    const reference = config.image?.image ?? '';
    const image = await ctx.images.find(reference);
    if (image === undefined) throw new GrpcStatusError({ code: 'NOT_FOUND', message: `image ${JSON.stringify(reference)} not found; pull it first` });
    const nameKey = containerNameKey({ config }, sandbox.record);
    ctx.state.reserveName(nameKey, id, `container name "${config.metadata?.name ?? ''}" (attempt ${config.metadata?.attempt ?? 0}) in pod sandbox ${sandboxId}`);
    const rollback = new RollbackStack(ctx.log);
    rollback.push('name reservation', async () => ctx.state.releaseName(nameKey, id));
    return rollback.run(async () => {
      const paths = containerPaths(ctx.layout, id);
      const logDirectory = sandbox.record.config.logDirectory;
      const logPath = logDirectory !== '' && config.logPath !== '' ? path.join(logDirectory, config.logPath) : '';
      let record: ContainerRecord = {
        id,
        sandboxId,
        phase: 'creating',
        config,
        createdAtNs: nowNs(),
        startedAtNs: 0n,
        imageId: image.id,
        imageRef: image.repoDigests[0] ?? image.id,
        logPath,
        stopSignal: stopSignalOf(config, image.config.stopSignal),
        cgroupsPath: `${sandbox.record.podCgroup}/${id}`,
        resources: config.linux?.resources,
        user: { uid: 0, gid: 0, additionalGids: [] },
        layerDirs: image.layerDirs,
      };
      await fs.mkdir(paths.dir, { recursive: true, mode: 0o711 });
      rollback.push('container folder', () => removeFolderSafely(paths.dir));
      await writeContainerRecord(ctx.layout, record);
      await Promise.all([fs.mkdir(paths.upper), fs.mkdir(paths.work), fs.mkdir(paths.rootfs, { recursive: true })]);
      await mountOverlay({ lowerDirs: [...image.layerDirs], upperDir: paths.upper, workDir: paths.work, target: paths.rootfs });
      rollback.push('rootfs mount', () => unmountIfMounted(paths.rootfs));
      const { user } = await writeContainerBundle(ctx, { record, sandbox: sandbox.record, image });
      record = { ...record, user };
      if (logPath !== '') await fs.mkdir(path.dirname(logPath), { recursive: true });
      await ctx.oci.create({ id, bundle: paths.bundle, exitFile: paths.exitFile, shimPidFile: paths.shimPidFile, ...(logPath === '' ? {} : { logPath }) });
      rollback.push('OCI container', () => ctx.oci.delete(id, true));
      record = { ...record, phase: 'created' };
      await writeContainerRecord(ctx.layout, record);
      const entry: ContainerEntry = { record, pid: undefined, exit: undefined };
      ctx.state.containers.set(id, entry);
      watchContainer(ctx, entry);
      publishContainerEvent(ctx, entry, ContainerEventType.CONTAINER_CREATED_EVENT);
      return id;
    });
  });
}

/** Follows a container's init: its exit file makes it EXITED, wherever the exit came from. */
export function watchContainer(ctx: RuntimeContext, entry: ContainerEntry): void {
  const paths = containerPaths(ctx.layout, entry.record.id);
  ctx.exits.watch({
    id: entry.record.id,
    dir: paths.dir,
    exitFile: paths.exitFile,
    shimPidFile: paths.shimPidFile,
    onExit: (exit) => onContainerExit(ctx, entry, exit),
  });
}

/** What happens once when a container's exit is first seen: OOM check, OCI delete (frees its cgroup), STOPPED event. */
async function onContainerExit(ctx: RuntimeContext, entry: ContainerEntry, exit: ExitRecord): Promise<void> {
  const stats = await readCgroupStats(entry.record.cgroupsPath).catch(() => undefined);
  if (stats !== undefined && stats.oomKills > 0 && entry.record.oomKilled !== true) {
    entry.record = { ...entry.record, oomKilled: true };
    await writeContainerRecord(ctx.layout, entry.record);
  }
  entry.exit = exit;
  entry.pid = undefined;
  await ctx.oci.delete(entry.record.id, true).catch((error: unknown) => ctx.log(`process-runtime: deleting exited container ${entry.record.id}: ${error instanceof Error ? error.message : String(error)}`));
  if (ctx.state.containers.get(entry.record.id) === entry) publishContainerEvent(ctx, entry, ContainerEventType.CONTAINER_STOPPED_EVENT);
}

/** StartContainer: runs a CREATED container's process. */
export async function startContainer(ctx: RuntimeContext, idOrPrefix: string): Promise<void> {
  const entry = requireContainer(ctx, idOrPrefix);
  const id = entry.record.id;
  await ctx.locks.run([id], async () => {
    await ctx.exits.check(id);
    const state = containerStateOf(entry);
    if (state !== ContainerState.CONTAINER_CREATED) {
      throw new GrpcStatusError({ code: 'FAILED_PRECONDITION', message: `container ${id} is in state ${ContainerState[state]}, not CONTAINER_CREATED` });
    }
    // Recorded before the start: a crash in between leaves recovery to compare with the OCI state.
    entry.record = { ...entry.record, phase: 'started', startedAtNs: nowNs() };
    await writeContainerRecord(ctx.layout, entry.record);
    try {
      await ctx.oci.start(id);
    } catch (error) {
      const message = error instanceof Error ? error.message : String(error);
      entry.record = { ...entry.record, phase: 'start-failed', startError: message };
      await writeContainerRecord(ctx.layout, entry.record);
      await ctx.oci.delete(id, true).catch(() => {});
      throw new GrpcStatusError({ code: 'UNKNOWN', message: `starting container ${id} failed: ${message}`, cause: error });
    }
    entry.pid = (await ctx.oci.state(id))?.pid;
    publishContainerEvent(ctx, entry, ContainerEventType.CONTAINER_STARTED_EVENT);
  });
}

/**
 * StopContainer: the stop signal, up to `timeoutSeconds` for the exit,
 * then SIGKILL to every process of the container. A container that is not
 * running (created, exited, unknown ID) is left as it is: OK.
 */
export async function stopContainer(ctx: RuntimeContext, idOrPrefix: string, timeoutSeconds: bigint): Promise<void> {
  const entry = ctx.state.findContainer(idOrPrefix);
  if (entry === undefined) return;
  const id = entry.record.id;
  await ctx.locks.run([id], async () => {
    await ctx.exits.check(id);
    if (containerStateOf(entry) !== ContainerState.CONTAINER_RUNNING) return;
    if (timeoutSeconds > 0n) {
      await ctx.oci.kill(id, entry.record.stopSignal);
      const graceMs = Number(timeoutSeconds > 86_400n ? 86_400n : timeoutSeconds) * 1000;
      if (await ctx.exits.waitForExit(id, graceMs)) return;
    }
    await killAndWait(ctx, entry);
  });
}

async function killAndWait(ctx: RuntimeContext, entry: ContainerEntry): Promise<void> {
  const id = entry.record.id;
  await ctx.oci.kill(id, 'SIGKILL', true);
  if (!(await ctx.exits.waitForExit(id, killWaitMs))) {
    throw new GrpcStatusError({ code: 'DEADLINE_EXCEEDED', message: `container ${id} did not exit within ${killWaitMs} ms of SIGKILL` });
  }
}

/** RemoveContainer: kills it if it runs, deletes it from the OCI runtime, unmounts and removes its files. OK when unknown. */
export async function removeContainer(ctx: RuntimeContext, idOrPrefix: string): Promise<void> {
  const entry = ctx.state.findContainer(idOrPrefix);
  if (entry === undefined) return;
  const id = entry.record.id;
  await ctx.locks.run([id], async () => {
    if (ctx.state.containers.get(id) !== entry) return;
    await ctx.exits.check(id);
    const state = containerStateOf(entry);
    if (state === ContainerState.CONTAINER_RUNNING || state === ContainerState.CONTAINER_CREATED) await killAndWait(ctx, entry);
    await ctx.oci.delete(id, true);
    const paths = containerPaths(ctx.layout, id);
    await unmountIfMounted(paths.rootfs);
    ctx.exits.unwatch(id);
    await removeFolderSafely(paths.dir);
    ctx.state.containers.delete(id);
    const sandbox = ctx.state.sandboxes.get(entry.record.sandboxId);
    if (sandbox !== undefined) ctx.state.releaseName(containerNameKey(entry.record, sandbox.record), id);
    publishContainerEvent(ctx, entry, ContainerEventType.CONTAINER_DELETED_EVENT);
  });
}

/** The container must be running for exec, log reopening and the like. @throws FAILED_PRECONDITION otherwise */
export async function requireRunning(ctx: RuntimeContext, idOrPrefix: string, what: string): Promise<ContainerEntry> {
  const entry = requireContainer(ctx, idOrPrefix);
  await ctx.exits.check(entry.record.id);
  const state = containerStateOf(entry);
  if (state !== ContainerState.CONTAINER_RUNNING) {
    throw new GrpcStatusError({ code: 'FAILED_PRECONDITION', message: `cannot ${what}: container ${entry.record.id} is in state ${ContainerState[state]}, not CONTAINER_RUNNING` });
  }
  return entry;
}

/** ExecSync: runs a command in the running container and collects its output, killed after `timeoutSeconds` (0: no limit). */
export async function execSync(
  ctx: RuntimeContext,
  idOrPrefix: string,
  cmd: readonly string[],
  timeoutSeconds: bigint,
): Promise<{ stdout: Buffer; stderr: Buffer; exitCode: number }> {
  const entry = await requireRunning(ctx, idOrPrefix, 'exec');
  const base = await readBundleProcess(containerPaths(ctx.layout, entry.record.id).bundle);
  const timeoutMs = timeoutSeconds > 0n ? Number(timeoutSeconds) * 1000 : undefined;
  const result = await ctx.oci.exec(entry.record.id, { ...base, terminal: false, args: [...cmd] }, timeoutMs === undefined ? {} : { timeoutMs });
  if (result.timedOut) {
    throw new GrpcStatusError({ code: 'DEADLINE_EXCEEDED', message: `command ${JSON.stringify(cmd)} in container ${entry.record.id} timed out after ${timeoutSeconds} s` });
  }
  return { stdout: result.stdout, stderr: result.stderr, exitCode: result.exitCode };
}

/** UpdateContainerResources: applies the limits to the container's cgroup (when it has processes) and records them. */
export async function updateContainerResources(ctx: RuntimeContext, idOrPrefix: string, resources: LinuxContainerResources | undefined): Promise<void> {
  const entry = requireContainer(ctx, idOrPrefix);
  const id = entry.record.id;
  if (resources === undefined) return;
  await ctx.locks.run([id], async () => {
    await ctx.exits.check(id);
    const state = containerStateOf(entry);
    if (state === ContainerState.CONTAINER_RUNNING || state === ContainerState.CONTAINER_CREATED) {
      await ctx.oci.update(id, ociResourcesOf(resources));
    }
    entry.record = { ...entry.record, resources };
    await writeContainerRecord(ctx.layout, entry.record);
  });
}

/** ReopenContainerLog: the shim reopens the log file (after the kubelet rotated it). */
export async function reopenContainerLog(ctx: RuntimeContext, idOrPrefix: string): Promise<void> {
  const entry = await requireRunning(ctx, idOrPrefix, 'reopen the log');
  if (entry.record.logPath === '') return;
  await reopenShimLog(containerPaths(ctx.layout, entry.record.id).shimPidFile, entry.record.logPath);
}
