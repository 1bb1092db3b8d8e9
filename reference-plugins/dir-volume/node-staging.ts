import fs from 'node:fs/promises';
import {
  GrpcStatusError,
  type NodeStageVolumeRequest,
  type NodeStageVolumeResponse,
  type NodeUnstageVolumeRequest,
  type NodeUnstageVolumeResponse,
} from '../../specs/csi/index.js';
import { crashPoint } from './crash-points.js';
import type { DriverContext } from './driver-context.js';
import { listLoopDevices, loopsBackedBy, type LoopDevice } from './loop-devices.js';
import { mountsAt, readMountTable, type MountEntry } from './mount-table.js';
import { nodeCapability, requireNodeVolume, sameFlags } from './node-requests.js';
import { volumeKey } from './operation-locks.js';
import { requireField, requireNodePath, requirePresent } from './request-fields.js';
import type { StageRecord } from './state-store.js';
import { filesystemType, isReadOnlyMode } from './volume-capabilities.js';
import { mountOfImage } from './volume-usage.js';

function failedPrecondition(message: string): GrpcStatusError {
  return new GrpcStatusError({ code: 'FAILED_PRECONDITION', message });
}

/** Throws FAILED_PRECONDITION unless `dir` is an existing directory (the CO creates staging directories). */
async function requireDirectory(dir: string, field: string): Promise<void> {
  let isDirectory = false;
  try {
    isDirectory = (await fs.stat(dir)).isDirectory();
  } catch {
    throw failedPrecondition(`${field} ${dir} does not exist; the CO creates it`);
  }
  if (!isDirectory) throw failedPrecondition(`${field} ${dir} is not a directory`);
}

/** The loop device a block stage attached: a read-write one backed by the image (read-only ones serve read-only publications). */
export function stageLoopOf(loops: readonly LoopDevice[], image: string): LoopDevice | undefined {
  return loopsBackedBy(loops, image).find((loop) => !loop.readOnly);
}

/** Whether the system shows the stage in place: the filesystem mounted, or the loop device attached. */
export function isStageLive(stage: StageRecord, image: string, table: readonly MountEntry[], loops: readonly LoopDevice[]): boolean {
  return stage.accessType === 'mount' ? mountOfImage(table, loops, stage.stagingPath, image) !== undefined : stageLoopOf(loops, image) !== undefined;
}

function sameStage(a: StageRecord, b: StageRecord): boolean {
  return a.accessType === b.accessType && a.accessMode === b.accessMode && a.fsType === b.fsType && sameFlags(a.mountFlags, b.mountFlags);
}

/**
 * NodeStageVolume: a mount volume's image is mounted through a loop device
 * at the staging path (read-only for SINGLE_NODE_READER_ONLY); a block
 * volume's image is attached to a loop device. The stage record is written
 * first, so a crash never leaves a mount the driver does not know of.
 * Idempotent: a live stage with the same capability is OK.
 */
export async function stageVolume(context: DriverContext, request: NodeStageVolumeRequest): Promise<NodeStageVolumeResponse> {
  const volumeId = requireField(request.volumeId, 'volume_id');
  const stagingPath = requireNodePath(request.stagingTargetPath, 'staging_target_path', context.root);
  const capability = requirePresent(request.volumeCapability, 'volume_capability');
  const record = requireNodeVolume(context, volumeId);
  const parsed = nodeCapability(capability, 'volume_capability', record);
  const wanted: StageRecord = { volumeId, stagingPath, accessType: parsed.accessType, accessMode: parsed.accessMode, fsType: parsed.fsType, mountFlags: parsed.mountFlags };

  return context.locks.run([volumeKey(volumeId)], async () => {
    const existing = context.store.stage(volumeId);
    if (existing !== undefined && existing.stagingPath !== stagingPath) throw failedPrecondition(`volume ${volumeId} is already staged at ${existing.stagingPath}`);
    if (existing !== undefined && !sameStage(existing, wanted)) {
      throw new GrpcStatusError({ code: 'ALREADY_EXISTS', message: `volume ${volumeId} is staged at ${stagingPath} with a different volume_capability` });
    }
    if (existing === undefined && context.maxVolumesPerNode > 0 && context.store.stages().length >= context.maxVolumesPerNode) {
      throw new GrpcStatusError({ code: 'RESOURCE_EXHAUSTED', message: `node ${context.nodeId} has ${context.maxVolumesPerNode} volumes staged, its maximum` });
    }
    await requireDirectory(stagingPath, 'staging_target_path');
    const image = context.store.layout.volumeImage(volumeId);
    const [table, loops] = await Promise.all([readMountTable(), listLoopDevices()]);
    if (isStageLive(wanted, image, table, loops)) {
      if (existing === undefined) await context.store.putStage(wanted);
      return {};
    }
    if (mountsAt(table, stagingPath).length > 0) throw failedPrecondition(`staging_target_path ${stagingPath} is a mount point of something else`);
    if (existing === undefined) await context.store.putStage(wanted);
    crashPoint(context.crashAt, 'node-stage:after-record');
    try {
      if (wanted.accessType === 'mount') {
        const readOnly = isReadOnlyMode(wanted.accessMode);
        const device = await context.system.attachLoop(image, { readOnly });
        try {
          await context.system.mount({ source: device, target: stagingPath, fsType: filesystemType, options: [...(readOnly ? ['ro'] : []), ...wanted.mountFlags] });
        } catch (error) {
          await context.system.detachLoop(device);
          throw error;
        }
      } else {
        await context.system.attachLoop(image, { readOnly: false });
      }
    } catch (error) {
      await context.store.removeStage(volumeId);
      throw error;
    }
    crashPoint(context.crashAt, 'node-stage:after-mount');
    return {};
  });
}

/**
 * NodeUnstageVolume: unmounts the staging mount and detaches every loop
 * device the image still backs, then forgets the stage. Idempotent: a
 * volume not staged at the path is OK. Refused with FAILED_PRECONDITION
 * while the volume is still published.
 */
export async function unstageVolume(context: DriverContext, request: NodeUnstageVolumeRequest): Promise<NodeUnstageVolumeResponse> {
  const volumeId = requireField(request.volumeId, 'volume_id');
  const stagingPath = requireNodePath(request.stagingTargetPath, 'staging_target_path', context.root);
  requireNodeVolume(context, volumeId);
  return context.locks.run([volumeKey(volumeId)], async () => {
    const stage = context.store.stage(volumeId);
    if (stage !== undefined && stage.stagingPath !== stagingPath) return {};
    const published = context.store.publishes(volumeId);
    if (published.length > 0) throw failedPrecondition(`volume ${volumeId} is still published at ${published[0]!.targetPath}; unpublish it first`);
    const image = context.store.layout.volumeImage(volumeId);
    const [table, loops] = await Promise.all([readMountTable(), listLoopDevices()]);
    const mount = mountOfImage(table, loops, stagingPath, image);
    if (mount !== undefined) await context.system.unmount(stagingPath);
    if (mount !== undefined || stage !== undefined) {
      // The staging mount's loop device, and any other the image still backs: nothing may keep it attached.
      for (const loop of loopsBackedBy(await listLoopDevices(), image)) await context.system.detachLoop(loop.path);
    }
    crashPoint(context.crashAt, 'node-unstage:after-unmount');
    if (stage !== undefined) await context.store.removeStage(volumeId);
    return {};
  });
}
