import fs from 'node:fs/promises';
import type { NetConfList } from '../../../specs/cni/index.js';
import { removeCgroup } from '../oci/cgroups.js';
import { readExitRecord } from '../oci/exit-record.js';
import { unmountIfMounted } from '../oci/rootfs.js';
import { watchContainer } from './container-lifecycle.js';
import { listContainerIds, readContainerRecord, writeContainerRecord } from './container-store.js';
import { removeStaleTempFiles } from './durable-files.js';
import { removeFolderSafely } from './folder-removal.js';
import { releaseNetworkNamespace } from './network-namespace.js';
import { unmountPodShm } from './pod-shm.js';
import { detachPodNetwork } from './pod-network.js';
import { containerPaths, idPattern, sandboxPaths } from './root-layout.js';
import type { RuntimeContext } from './runtime-context.js';
import { containerNameKey, sandboxNameKey, type ContainerEntry, type SandboxEntry } from './runtime-state.js';
import { watchPause } from './sandbox-lifecycle.js';
import { listSandboxIds, readSandboxRecord } from './sandbox-store.js';

/** What start-up found and repaired, by kind; each list holds IDs. */
export interface RecoveryReport {
  sandboxes: string[];
  containers: string[];
  /** Sandboxes whose RunPodSandbox a crash cut short: undone. */
  rolledBackSandboxes: string[];
  /** Containers whose CreateContainer a crash cut short, or whose sandbox is gone: undone. */
  rolledBackContainers: string[];
  /** Containers recorded as starting whose OCI state showed they never started: back to CREATED. */
  unstartedContainers: string[];
  /** OCI runtime containers no record knows: deleted. */
  strayOciContainers: string[];
}

/**
 * Rebuilds the runtime's view from its root and the system after a start
 * (clean or after SIGKILL): every sandbox and container record, the OCI
 * runtime's state, the exit files and the mount table. Operations a crash
 * cut short are rolled back; running shims and containers are adopted
 * untouched.
 */
export async function recoverState(ctx: RuntimeContext): Promise<RecoveryReport> {
  const report: RecoveryReport = { sandboxes: [], containers: [], rolledBackSandboxes: [], rolledBackContainers: [], unstartedContainers: [], strayOciContainers: [] };
  const { layout } = ctx;
  await Promise.all([layout.sandboxesDir, layout.containersDir, layout.ociStateDir, layout.cniCacheDir].map((dir) => fs.mkdir(dir, { recursive: true })));

  for (const id of await listSandboxIds(layout)) {
    if (!idPattern.test(id)) continue;
    await removeStaleTempFiles(sandboxPaths(layout, id).dir);
    const record = await readSandboxRecord(layout, id).catch(() => undefined);
    if (record === undefined || record.phase === 'creating') {
      await rollBackSandbox(ctx, id, record?.cniNetwork, record);
      report.rolledBackSandboxes.push(id);
      continue;
    }
    const state = await ctx.oci.state(id).catch(() => undefined);
    const entry: SandboxEntry = { record, pausePid: state !== undefined && state.status === 'running' ? state.pid : undefined };
    ctx.state.sandboxes.set(id, entry);
    ctx.state.reserveName(sandboxNameKey(record), id, 'sandbox name');
    if (record.phase === 'ready') watchPause(ctx, entry);
    report.sandboxes.push(id);
  }

  for (const id of await listContainerIds(layout)) {
    if (!idPattern.test(id)) continue;
    const paths = containerPaths(layout, id);
    await removeStaleTempFiles(paths.dir);
    let record = await readContainerRecord(layout, id).catch(() => undefined);
    const sandbox = record === undefined ? undefined : ctx.state.sandboxes.get(record.sandboxId);
    if (record === undefined || record.phase === 'creating' || sandbox === undefined) {
      await ctx.oci.delete(id, true).catch(() => {});
      await unmountIfMounted(paths.rootfs);
      await removeFolderSafely(paths.dir);
      report.rolledBackContainers.push(id);
      continue;
    }
    const state = await ctx.oci.state(id).catch(() => undefined);
    const exit = await readExitRecord(paths.exitFile).catch(() => undefined);
    if (record.phase === 'started' && exit === undefined && state?.status === 'created') {
      // The record was written, the start never ran.
      record = { ...record, phase: 'created', startedAtNs: 0n };
      await writeContainerRecord(layout, record);
      report.unstartedContainers.push(id);
    }
    const entry: ContainerEntry = { record, pid: state !== undefined && state.status !== 'stopped' ? state.pid : undefined, exit };
    ctx.state.containers.set(id, entry);
    ctx.state.reserveName(containerNameKey(record, sandbox.record), id, 'container name');
    watchContainer(ctx, entry);
    report.containers.push(id);
  }

  for (const stray of await ctx.oci.list().catch(() => [])) {
    if (ctx.state.sandboxes.has(stray.id) || ctx.state.containers.has(stray.id)) continue;
    await ctx.oci.delete(stray.id, true).catch(() => {});
    report.strayOciContainers.push(stray.id);
  }
  return report;
}

async function rollBackSandbox(
  ctx: RuntimeContext,
  id: string,
  cniNetwork: string | undefined,
  record: Awaited<ReturnType<typeof readSandboxRecord>>,
): Promise<void> {
  const paths = sandboxPaths(ctx.layout, id);
  await ctx.oci.delete(id, true).catch(() => {});
  if (cniNetwork !== undefined && record !== undefined) {
    const network = JSON.parse(cniNetwork) as NetConfList;
    await detachPodNetwork({ invoker: ctx.cni, network, sandboxId: id, netnsPath: paths.netns, config: record.config }).catch((error: unknown) =>
      ctx.log(`process-runtime: recovery: CNI DEL of half-created sandbox ${id} failed: ${error instanceof Error ? error.message : String(error)}`),
    );
  }
  await releaseNetworkNamespace(paths.netns);
  await unmountPodShm(paths.shm);
  if (record?.ownsPodCgroup === true) await removeCgroup(record.podCgroup).catch(() => {});
  await removeFolderSafely(paths.dir);
}
