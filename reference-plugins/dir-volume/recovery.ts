import fs from 'node:fs/promises';
import path from 'node:path';
import type { DriverContext } from './driver-context.js';
import { tempPrefix } from './durable-files.js';
import { listLoopDevices, loopOfMount, type LoopDevice } from './loop-devices.js';
import { readMountTable } from './mount-table.js';
import { removeTarget } from './node-publishing.js';
import { isStageLive, stageLoopOf } from './node-staging.js';
import { isSnapshotId, isVolumeId } from './volume-ids.js';
import { finishExpansion } from './volume-provisioning.js';
import { mountOfImage } from './volume-usage.js';

/** What a start-up reconciliation changed, for the log and for tests. */
export interface RecoveryReport {
  readonly removedFiles: string[];
  readonly removedRecords: string[];
  readonly finishedExpansions: string[];
  readonly unmounted: string[];
  readonly detached: string[];
}

async function removeFile(file: string, report: RecoveryReport): Promise<void> {
  await fs.rm(file, { force: true });
  report.removedFiles.push(file);
}

/** Controller side: temp files, images without records (a create cut short), records without images (a delete cut short). */
async function reconcileImages(context: DriverContext, report: RecoveryReport): Promise<void> {
  const { store } = context;
  const { layout } = store;
  for (const dir of [layout.volumesDir, layout.snapshotsDir, layout.nodeDir]) {
    for (const name of await fs.readdir(dir)) if (name.startsWith(tempPrefix)) await removeFile(path.join(dir, name), report);
  }
  for (const name of await fs.readdir(layout.volumesDir)) {
    const id = name.slice(0, -'.img'.length);
    if (name.endsWith('.img') && (!isVolumeId(id) || store.volume(id) === undefined)) await removeFile(path.join(layout.volumesDir, name), report);
  }
  for (const name of await fs.readdir(layout.snapshotsDir)) {
    const id = name.slice(0, -'.img'.length);
    if (name.endsWith('.img') && (!isSnapshotId(id) || store.snapshot(id) === undefined)) await removeFile(path.join(layout.snapshotsDir, name), report);
  }
  const images = new Set([...(await fs.readdir(layout.volumesDir)), ...(await fs.readdir(layout.snapshotsDir))]);
  for (const volume of store.volumes()) {
    if (!images.has(`${volume.id}.img`)) {
      await store.removeVolume(volume.id);
      report.removedRecords.push(`volume ${volume.id}`);
    } else if (volume.resizePending === true) {
      await finishExpansion(context, volume);
      report.finishedExpansions.push(volume.id);
    }
  }
  for (const snapshot of store.snapshots()) {
    if (!images.has(`${snapshot.id}.img`)) {
      await store.removeSnapshot(snapshot.id);
      report.removedRecords.push(`snapshot ${snapshot.id}`);
    }
  }
}

/** True for a loop device backed by one of this driver's images (also one unlinked while attached). */
function isOurs(loop: LoopDevice | undefined, volumesDir: string): loop is LoopDevice {
  return loop !== undefined && loop.backingFile.startsWith(`${volumesDir}/`);
}

/**
 * Node side, against the mount table: records whose mounts are gone are
 * undone (a target the driver created is removed); mounts and loop devices
 * of this driver's images that no record accounts for (an operation cut
 * short) are unmounted and detached; a staged filesystem left frozen by a
 * snapshot cut short is thawed.
 */
async function reconcileNode(context: DriverContext, report: RecoveryReport): Promise<void> {
  const { store } = context;
  const { layout } = store;
  let [table, loops] = await Promise.all([readMountTable(), listLoopDevices()]);
  for (const publication of store.publishes()) {
    if (mountOfImage(table, loops, publication.targetPath, layout.volumeImage(publication.volumeId)) !== undefined) continue;
    if (publication.createdTarget) await removeTarget(publication.targetPath, publication.accessType);
    await store.removePublish(publication.targetPath);
    report.removedRecords.push(`publication of ${publication.volumeId} at ${publication.targetPath}`);
  }
  for (const stage of store.stages()) {
    const image = layout.volumeImage(stage.volumeId);
    if (isStageLive(stage, image, table, loops)) {
      // fsfreeze fails on a filesystem that is not frozen; that is the usual case.
      if (stage.accessType === 'mount') await context.system.run(['fsfreeze', '--unfreeze', stage.stagingPath]).catch(() => undefined);
      continue;
    }
    await store.removeStage(stage.volumeId);
    report.removedRecords.push(`stage of ${stage.volumeId} at ${stage.stagingPath}`);
  }
  const recordedMountPoints = new Set([...store.publishes().map((record) => record.targetPath), ...store.stages().filter((stage) => stage.accessType === 'mount').map((stage) => stage.stagingPath)]);
  const orphans = table.filter((mount) => isOurs(loopOfMount(loops, mount), layout.volumesDir) && !recordedMountPoints.has(mount.mountPoint)).sort((a, b) => b.mountId - a.mountId);
  for (const mount of orphans) {
    await context.system.unmount(mount.mountPoint);
    report.unmounted.push(mount.mountPoint);
  }
  [table, loops] = await Promise.all([readMountTable(), listLoopDevices()]);
  const inUse = new Set(table.map((mount) => loopOfMount(loops, mount)?.name).filter((name) => name !== undefined));
  for (const stage of store.stages()) {
    if (stage.accessType === 'block') {
      const loop = stageLoopOf(loops, layout.volumeImage(stage.volumeId));
      if (loop !== undefined) inUse.add(loop.name);
    }
  }
  for (const loop of loops) {
    if (!isOurs(loop, layout.volumesDir) || inUse.has(loop.name)) continue;
    await context.system.detachLoop(loop.path);
    report.detached.push(loop.path);
  }
}

/**
 * Rebuilds a consistent state at start, before any call is served, from the
 * records, the images on disk, the mount table and the loop devices: what a
 * crash cut short is finished or undone, and nothing is left behind.
 */
export async function recoverState(context: DriverContext): Promise<RecoveryReport> {
  const report: RecoveryReport = { removedFiles: [], removedRecords: [], finishedExpansions: [], unmounted: [], detached: [] };
  await reconcileImages(context, report);
  await reconcileNode(context, report);
  return report;
}
