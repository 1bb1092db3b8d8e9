import fs from 'node:fs/promises';
import type { NetConfList } from '../../../specs/cni/index.js';
import { GrpcStatusError, NamespaceMode, type PodSandboxConfig } from '../../../specs/cri/index.js';
import { removeCgroup } from '../oci/cgroups.js';
import type { ExitRecord } from '../oci/exit-record.js';
import { removeContainer, stopContainer } from './container-lifecycle.js';
import { removeFolderSafely } from './folder-removal.js';
import { newObjectId, nowNs } from './ids.js';
import { createNetworkNamespace, releaseNetworkNamespace } from './network-namespace.js';
import { writeSandboxBundle } from './oci-bundles.js';
import { writePodFiles } from './pod-files.js';
import { mountPodShm, unmountPodShm, usesPodShm } from './pod-shm.js';
import { attachPodNetwork, detachPodNetwork, loadPodNetwork } from './pod-network.js';
import { RollbackStack } from './rollback-stack.js';
import { sandboxPaths } from './root-layout.js';
import type { RuntimeContext } from './runtime-context.js';
import { sandboxNameKey, type SandboxEntry } from './runtime-state.js';
import { refuseInvalidUserSettings } from './user-settings.js';
import { writeSandboxRecord, type SandboxRecord } from './sandbox-store.js';

/** How long stopping waits for a SIGKILLed pause or container to be reaped. */
const killWaitMs = 10_000;

/** The cgroup parent when the config names none: a pod cgroup of the runtime's own. */
export const defaultCgroupRoot = '/kubeplug';

/** True when the pod uses the node's network namespace. */
export function isHostNetwork(config: PodSandboxConfig): boolean {
  return config.linux?.securityContext?.namespaceOptions?.network === NamespaceMode.NODE;
}

function describeSandbox(config: PodSandboxConfig): string {
  const m = config.metadata;
  return `pod sandbox name "${m?.name ?? ''}" (namespace "${m?.namespace ?? ''}", uid "${m?.uid ?? ''}", attempt ${m?.attempt ?? 0})`;
}

/**
 * RunPodSandbox: record first, then netns, CNI ADD, pod files, pause
 * container; any failure undoes the steps already done, newest first.
 * A crash part-way leaves a `creating` record that recovery rolls back.
 */
export async function runPodSandbox(ctx: RuntimeContext, config: PodSandboxConfig, runtimeHandler: string): Promise<string> {
  refuseInvalidUserSettings('config.linux.security_context', config.linux?.securityContext);
  const id = newObjectId();
  const nameKey = sandboxNameKey({ config });
  return ctx.locks.run([nameKey], async () => {
    ctx.state.reserveName(nameKey, id, describeSandbox(config));
    const rollback = new RollbackStack(ctx.log);
    rollback.push('name reservation', async () => ctx.state.releaseName(nameKey, id));
    return rollback.run(async () => {
      const paths = sandboxPaths(ctx.layout, id);
      const hostNetwork = isHostNetwork(config);
      const cgroupParent = config.linux?.cgroupParent ?? '';
      let record: SandboxRecord = {
        id,
        phase: 'creating',
        config,
        runtimeHandler,
        createdAtNs: nowNs(),
        hostNetwork,
        podCgroup: cgroupParent === '' ? `${defaultCgroupRoot}/${id}` : cgroupParent,
        ownsPodCgroup: cgroupParent === '',
        additionalIps: [],
      };
      await fs.mkdir(paths.dir, { recursive: true, mode: 0o711 });
      rollback.push('sandbox folder', () => removeFolderSafely(paths.dir));
      await writeSandboxRecord(ctx.layout, record);
      if (record.ownsPodCgroup) rollback.push('pod cgroup', () => removeCgroup(record.podCgroup));

      if (!hostNetwork) {
        let network: NetConfList;
        try {
          network = await loadPodNetwork(ctx.cniConfDir);
        } catch (error) {
          throw new GrpcStatusError({ code: 'FAILED_PRECONDITION', message: `cannot set up the pod network: ${error instanceof Error ? error.message : String(error)}`, cause: error });
        }
        await createNetworkNamespace(paths.netns);
        rollback.push('network namespace', () => releaseNetworkNamespace(paths.netns));
        // Recorded before ADD so that a crash during ADD still leads recovery to DEL.
        record = { ...record, cniNetwork: JSON.stringify(network) };
        await writeSandboxRecord(ctx.layout, record);
        const networkCall = { invoker: ctx.cni, network, sandboxId: id, netnsPath: paths.netns, config };
        let addresses;
        try {
          addresses = await attachPodNetwork(networkCall);
        } catch (error) {
          // A failed ADD may have done half its work; DEL cleans what it left.
          rollback.push('CNI ADD', () => detachPodNetwork(networkCall));
          throw new GrpcStatusError({ code: 'UNKNOWN', message: `CNI ADD for ${describeSandbox(config)} failed: ${error instanceof Error ? error.message : String(error)}`, cause: error });
        }
        rollback.push('CNI ADD', () => detachPodNetwork(networkCall));
        record = { ...record, ...addresses };
      }
      await writePodFiles(paths, config, hostNetwork, record.ip);
      if (usesPodShm(config)) {
        await mountPodShm(paths.shm);
        rollback.push('pod /dev/shm', () => unmountPodShm(paths.shm));
      }
      await writeSandboxBundle(ctx, record);
      const { pid } = await ctx.oci.create({ id, bundle: paths.bundle, exitFile: paths.exitFile, shimPidFile: paths.shimPidFile });
      rollback.push('pause container', () => ctx.oci.delete(id, true));
      await ctx.oci.start(id);
      record = { ...record, phase: 'ready' };
      await writeSandboxRecord(ctx.layout, record);
      const entry: SandboxEntry = { record, pausePid: pid };
      ctx.state.sandboxes.set(id, entry);
      watchPause(ctx, entry);
      return id;
    });
  });
}

/** Follows a sandbox's pause process: when it exits the sandbox is NOTREADY (its network stays until StopPodSandbox). */
export function watchPause(ctx: RuntimeContext, entry: SandboxEntry): void {
  const paths = sandboxPaths(ctx.layout, entry.record.id);
  ctx.exits.watch({
    id: entry.record.id,
    dir: paths.dir,
    exitFile: paths.exitFile,
    shimPidFile: paths.shimPidFile,
    onExit: (exit) => onPauseExit(ctx, entry, exit),
  });
}

async function onPauseExit(ctx: RuntimeContext, entry: SandboxEntry, exit: ExitRecord): Promise<void> {
  entry.pausePid = undefined;
  if (entry.record.phase !== 'ready') return;
  entry.record = { ...entry.record, phase: 'stopped', stopReason: `the pause process exited with status ${exit.exitCode}` };
  await writeSandboxRecord(ctx.layout, entry.record);
}

/**
 * StopPodSandbox: kills every container of the pod (no grace, as
 * containerd), the pause process, detaches the network (CNI DEL) and
 * releases the netns. The record stays (NOTREADY). Idempotent: each step
 * checks what is left to do.
 */
export async function stopPodSandbox(ctx: RuntimeContext, idOrPrefix: string): Promise<void> {
  const found = ctx.state.findSandbox(idOrPrefix);
  if (found === undefined) return;
  const entry = found;
  const id = entry.record.id;
  await ctx.locks.run([id], async () => {
    await Promise.all(ctx.state.containersOf(id).map((container) => stopContainer(ctx, container.record.id, 0n)));
    await stopPause(ctx, entry);
    const paths = sandboxPaths(ctx.layout, id);
    let record = entry.record;
    if (record.cniNetwork !== undefined) {
      const network = JSON.parse(record.cniNetwork) as NetConfList;
      await detachPodNetwork({ invoker: ctx.cni, network, sandboxId: id, netnsPath: paths.netns, config: record.config });
      const { cniNetwork: _detached, ...rest } = record;
      record = rest;
    }
    await releaseNetworkNamespace(paths.netns);
    if (record !== entry.record || record.phase !== 'stopped') {
      // One write at the end: a crash before it only makes the next stop repeat CNI DEL, which plugins make idempotent.
      entry.record = { ...record, phase: 'stopped' };
      await writeSandboxRecord(ctx.layout, entry.record);
    }
  });
}

async function stopPause(ctx: RuntimeContext, entry: SandboxEntry): Promise<void> {
  const id = entry.record.id;
  if (entry.pausePid !== undefined) {
    await ctx.oci.kill(id, 'SIGKILL', true);
    if (!(await ctx.exits.waitForExit(id, killWaitMs))) {
      throw new GrpcStatusError({ code: 'DEADLINE_EXCEEDED', message: `the pause process of sandbox ${id} did not exit within ${killWaitMs} ms of SIGKILL` });
    }
  }
  await ctx.oci.delete(id, true);
  entry.pausePid = undefined;
}

/**
 * RemovePodSandbox: stops the sandbox if needed, removes every container
 * (forced), its cgroup, folder and name. OK when the sandbox is unknown.
 */
export async function removePodSandbox(ctx: RuntimeContext, idOrPrefix: string): Promise<void> {
  const entry = ctx.state.findSandbox(idOrPrefix);
  if (entry === undefined) return;
  const id = entry.record.id;
  await stopPodSandbox(ctx, id);
  for (const container of ctx.state.containersOf(id)) await removeContainer(ctx, container.record.id);
  await ctx.locks.run([id], async () => {
    if (!ctx.state.sandboxes.has(id)) return;
    if (entry.record.ownsPodCgroup) await removeCgroup(entry.record.podCgroup);
    await unmountPodShm(sandboxPaths(ctx.layout, id).shm);
    ctx.exits.unwatch(id);
    await removeFolderSafely(sandboxPaths(ctx.layout, id).dir);
    ctx.state.sandboxes.delete(id);
    ctx.state.releaseName(sandboxNameKey(entry.record), id);
  });
}
