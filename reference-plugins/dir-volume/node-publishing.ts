import fs from 'node:fs/promises';
import {
  GrpcStatusError,
  type NodePublishVolumeRequest,
  type NodePublishVolumeResponse,
  type NodeUnpublishVolumeRequest,
  type NodeUnpublishVolumeResponse,
} from '../../specs/csi/index.js';
import { crashPoint } from './crash-points.js';
import type { DriverContext } from './driver-context.js';
import { listLoopDevices, loopOfMount } from './loop-devices.js';
import { mountsAt, readMountTable } from './mount-table.js';
import { isStageLive, stageLoopOf } from './node-staging.js';
import { nodeCapability, requireNodeVolume, sameFlags } from './node-requests.js';
import { volumeKey } from './operation-locks.js';
import { invalidArgument, requireField, requireNodePath, requirePresent } from './request-fields.js';
import type { AccessType, PublishRecord } from './state-store.js';
import type { VolumeSystem } from './volume-system.js';
import { accessModeName, allowsSeveralTargets, isReadOnlyMode } from './volume-capabilities.js';
import { mountOfImage } from './volume-usage.js';

function failedPrecondition(message: string): GrpcStatusError {
  return new GrpcStatusError({ code: 'FAILED_PRECONDITION', message });
}

function samePublish(a: PublishRecord, b: PublishRecord): boolean {
  return (
    a.stagingPath === b.stagingPath && a.accessType === b.accessType && a.accessMode === b.accessMode && a.readonly === b.readonly && sameFlags(a.mountFlags, b.mountFlags)
  );
}

async function pathKind(target: string): Promise<'missing' | 'directory' | 'file' | 'other'> {
  try {
    const stat = await fs.lstat(target);
    return stat.isDirectory() ? 'directory' : stat.isFile() ? 'file' : 'other';
  } catch {
    return 'missing';
  }
}

/** Creates the target CSI makes the plugin responsible for: a directory for a mount, an empty file for a block device. */
async function createTarget(target: string, accessType: AccessType): Promise<void> {
  try {
    if (accessType === 'mount') await fs.mkdir(target, { mode: 0o750 });
    else await (await fs.open(target, 'wx', 0o600)).close();
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === 'EEXIST') return;
    if (code === 'ENOENT') throw failedPrecondition(`the parent directory of target_path ${target} does not exist; the CO creates it`);
    throw error;
  }
}

/** Removes a target the driver created, only while it is still the empty directory or empty file it made. */
export async function removeTarget(target: string, accessType: AccessType): Promise<void> {
  try {
    if (accessType === 'mount') await fs.rmdir(target);
    else {
      const stat = await fs.lstat(target);
      if (stat.isFile() && stat.size === 0) await fs.unlink(target);
    }
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
  }
}

/**
 * NodePublishVolume: bind-mounts the staged filesystem (or the block
 * volume's loop device, onto a file) at the target, read-only when asked or
 * when the access mode is SINGLE_NODE_READER_ONLY; a read-only block volume
 * gets its own read-only loop device, since a read-only bind of a device
 * node does not stop writes to the device. The record is written before the
 * target is created and mounted. Repeats follow CSI's table: same target and
 * arguments OK, same target with other arguments ALREADY_EXISTS, a second
 * target FAILED_PRECONDITION unless the mode is SINGLE_NODE_MULTI_WRITER.
 */
export async function publishVolume(context: DriverContext, request: NodePublishVolumeRequest): Promise<NodePublishVolumeResponse> {
  const volumeId = requireField(request.volumeId, 'volume_id');
  const targetPath = requireNodePath(request.targetPath, 'target_path', context.root);
  const capability = requirePresent(request.volumeCapability, 'volume_capability');
  if (request.stagingTargetPath === '') throw failedPrecondition('staging_target_path is required: this driver stages volumes (STAGE_UNSTAGE_VOLUME)');
  const stagingPath = requireNodePath(request.stagingTargetPath, 'staging_target_path', context.root);
  if (stagingPath === targetPath) throw invalidArgument('target_path must differ from staging_target_path');
  const record = requireNodeVolume(context, volumeId);
  const parsed = nodeCapability(capability, 'volume_capability', record);
  const wanted: PublishRecord = {
    volumeId,
    targetPath,
    stagingPath,
    accessType: parsed.accessType,
    accessMode: parsed.accessMode,
    readonly: request.readonly || isReadOnlyMode(parsed.accessMode),
    mountFlags: parsed.mountFlags,
    createdTarget: false,
  };

  return context.locks.run([volumeKey(volumeId)], async () => {
    const stage = context.store.stage(volumeId);
    if (stage === undefined || stage.stagingPath !== stagingPath) throw failedPrecondition(`volume ${volumeId} is not staged at ${stagingPath}; call NodeStageVolume first`);
    if (stage.accessType !== wanted.accessType) throw failedPrecondition(`volume ${volumeId} is staged for ${stage.accessType} access, not ${wanted.accessType}`);
    const existing = context.store.publish(targetPath);
    if (existing !== undefined && existing.volumeId !== volumeId) throw failedPrecondition(`target_path ${targetPath} already holds volume ${existing.volumeId}`);
    if (existing !== undefined && !samePublish(existing, wanted)) {
      throw new GrpcStatusError({ code: 'ALREADY_EXISTS', message: `volume ${volumeId} is published at ${targetPath} with a different volume_capability or readonly flag` });
    }
    const others = context.store.publishes(volumeId).filter((other) => other.targetPath !== targetPath);
    if (others.length > 0 && !(allowsSeveralTargets(wanted.accessMode) && others.every((other) => allowsSeveralTargets(other.accessMode)))) {
      throw failedPrecondition(`volume ${volumeId} is already published at ${others[0]!.targetPath}; access mode ${accessModeName(wanted.accessMode)} allows one target`);
    }

    const image = context.store.layout.volumeImage(volumeId);
    const [table, loops] = await Promise.all([readMountTable(), listLoopDevices()]);
    if (!isStageLive(stage, image, table, loops)) throw failedPrecondition(`volume ${volumeId} is no longer staged at ${stagingPath} (not in the mount table); stage it again`);
    const live = mountOfImage(table, loops, targetPath, image);
    if (existing !== undefined && live !== undefined) return {};
    if (mountsAt(table, targetPath).length > 0) throw failedPrecondition(`target_path ${targetPath} is a mount point of something else`);

    const kind = await pathKind(targetPath);
    const fitting = wanted.accessType === 'mount' ? 'directory' : 'file';
    if (kind !== 'missing' && kind !== fitting) throw failedPrecondition(`target_path ${targetPath} exists and is not a ${fitting}`);
    const publication = existing ?? { ...wanted, createdTarget: kind === 'missing' };
    if (existing === undefined) await context.store.putPublish(publication);
    let readOnlyLoop: string | undefined;
    try {
      if (publication.createdTarget) await createTarget(targetPath, publication.accessType);
      crashPoint(context.crashAt, 'node-publish:after-record');
      if (publication.accessType === 'mount') {
        await context.system.mount({ source: stagingPath, target: targetPath, bind: true, options: publication.readonly ? ['ro'] : [] });
      } else {
        const stageLoop = stageLoopOf(loops, image);
        if (stageLoop === undefined) throw failedPrecondition(`volume ${volumeId} has no loop device attached; stage it again`);
        if (publication.readonly) readOnlyLoop = await context.system.attachLoop(image, { readOnly: true });
        await context.system.mount({ source: readOnlyLoop ?? stageLoop.path, target: targetPath, bind: true });
      }
    } catch (error) {
      if (readOnlyLoop !== undefined) await context.system.detachLoop(readOnlyLoop);
      if (publication.createdTarget) await removeTarget(targetPath, publication.accessType);
      await context.store.removePublish(targetPath);
      throw error;
    }
    crashPoint(context.crashAt, 'node-publish:after-mount');
    return {};
  });
}

/**
 * NodeUnpublishVolume: unmounts the target when the mount table shows this
 * volume there (never anything else's mount), detaches a read-only block
 * publication's own loop device, removes the target if the driver created
 * it, and forgets the publication. Idempotent.
 */
export async function unpublishVolume(context: DriverContext, request: NodeUnpublishVolumeRequest): Promise<NodeUnpublishVolumeResponse> {
  const volumeId = requireField(request.volumeId, 'volume_id');
  const targetPath = requireNodePath(request.targetPath, 'target_path', context.root);
  requireNodeVolume(context, volumeId);
  return context.locks.run([volumeKey(volumeId)], async () => {
    const publication = context.store.publish(targetPath);
    if (publication !== undefined && publication.volumeId !== volumeId) throw failedPrecondition(`target_path ${targetPath} holds volume ${publication.volumeId}, not ${volumeId}`);
    const image = context.store.layout.volumeImage(volumeId);
    await unmountPublication({ system: context.system, targetPath, image });
    crashPoint(context.crashAt, 'node-unpublish:after-unmount');
    if (publication !== undefined) {
      if (publication.createdTarget) await removeTarget(targetPath, publication.accessType);
      await context.store.removePublish(targetPath);
    }
    return {};
  });
}

/**
 * Unmounts every mount of `image` at `targetPath` and detaches read-only
 * loop devices that served them; refuses to touch a mount of anything else.
 * Recovery uses it too.
 */
export async function unmountPublication(options: { system: VolumeSystem; targetPath: string; image: string }): Promise<void> {
  // Bounded: stacked mounts are few, and a mount that survives umount must not spin the driver.
  for (let attempt = 0; attempt < 16; attempt += 1) {
    const [table, loops] = await Promise.all([readMountTable(), listLoopDevices()]);
    const mounts = mountsAt(table, options.targetPath);
    const top = mounts[mounts.length - 1];
    if (top === undefined) return;
    const loop = loopOfMount(loops, top);
    if (loop?.backingFile !== options.image) throw failedPrecondition(`target_path ${options.targetPath} is a mount point of something else; left alone`);
    await options.system.unmount(options.targetPath);
    if (loop.readOnly && /^\/loop\d+$/.test(top.root)) await options.system.detachLoop(loop.path);
  }
  throw new Error(`${options.targetPath} is still mounted after 16 unmounts`);
}
