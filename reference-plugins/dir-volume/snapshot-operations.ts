import fs from 'node:fs/promises';
import {
  GrpcStatusError,
  type CreateSnapshotRequest,
  type CreateSnapshotResponse,
  type DeleteSnapshotRequest,
  type DeleteSnapshotResponse,
  type GetSnapshotRequest,
  type GetSnapshotResponse,
  type ListSnapshotsRequest,
  type ListSnapshotsResponse,
  type Snapshot,
} from '../../specs/csi/index.js';
import { crashPoint } from './crash-points.js';
import { copyImage, whileFrozen } from './disk-image.js';
import type { DriverContext } from './driver-context.js';
import { tempPathIn } from './durable-files.js';
import { snapshotKey, volumeKey } from './operation-locks.js';
import { pageOf } from './pagination.js';
import { requireField, requireName } from './request-fields.js';
import type { SnapshotRecord } from './state-store.js';
import { checkParameters } from './volume-provisioning.js';
import { isSnapshotId, isVolumeId, snapshotIdFor } from './volume-ids.js';
import { stagedMountPoint } from './volume-usage.js';

/** The Snapshot message for a record; a snapshot is a finished copy, so always ready to use. */
export function snapshotMessage(record: SnapshotRecord): Snapshot {
  return {
    sizeBytes: BigInt(record.sizeBytes),
    snapshotId: record.id,
    sourceVolumeId: record.sourceVolumeId,
    creationTime: new Date(record.createdAt),
    readyToUse: true,
    groupSnapshotId: '',
  };
}

/**
 * CreateSnapshot: idempotent by name (the ID is derived from it); the same
 * name for another source volume is ALREADY_EXISTS. The snapshot is a sparse
 * copy of the volume's image, taken with the volume's filesystem frozen when
 * it is staged here, so it is consistent and independent of the volume.
 */
export async function createSnapshot(context: DriverContext, request: CreateSnapshotRequest): Promise<CreateSnapshotResponse> {
  const sourceVolumeId = requireField(request.sourceVolumeId, 'source_volume_id');
  const name = requireName(request.name, 'name');
  checkParameters(request.parameters, 'parameters');
  const id = snapshotIdFor(name);
  return context.locks.run([snapshotKey(id), volumeKey(sourceVolumeId)], async () => {
    const existing = context.store.snapshot(id);
    if (existing !== undefined) {
      if (existing.sourceVolumeId !== sourceVolumeId) {
        throw new GrpcStatusError({ code: 'ALREADY_EXISTS', message: `snapshot ${JSON.stringify(name)} exists as ${id} of volume ${existing.sourceVolumeId}, not of ${sourceVolumeId}` });
      }
      return { snapshot: snapshotMessage(existing) };
    }
    const volume = isVolumeId(sourceVolumeId) ? context.store.volume(sourceVolumeId) : undefined;
    if (volume === undefined) throw new GrpcStatusError({ code: 'NOT_FOUND', message: `source volume ${sourceVolumeId} does not exist` });
    const release = context.capacity.reserve(volume.capacityBytes, `snapshot ${JSON.stringify(name)}`);
    try {
      const temp = tempPathIn(context.store.layout.snapshotsDir, '.img');
      try {
        const createdAt = new Date().toISOString();
        await whileFrozen(context.system, await stagedMountPoint(context, volume.id), () => copyImage({ system: context.system, from: context.store.layout.volumeImage(volume.id), to: temp }));
        await fs.rename(temp, context.store.layout.snapshotImage(id));
        crashPoint(context.crashAt, 'create-snapshot:after-image');
        const record: SnapshotRecord = { id, name, sourceVolumeId, sizeBytes: volume.capacityBytes, formatted: volume.formatted, createdAt };
        await context.store.putSnapshot(record);
        return { snapshot: snapshotMessage(record) };
      } catch (error) {
        await fs.rm(temp, { force: true });
        throw error;
      }
    } finally {
      release();
    }
  });
}

/** DeleteSnapshot: idempotent; an unknown or malformed ID is already deleted. */
export async function deleteSnapshot(context: DriverContext, request: DeleteSnapshotRequest): Promise<DeleteSnapshotResponse> {
  const id = requireField(request.snapshotId, 'snapshot_id');
  if (!isSnapshotId(id)) return {};
  return context.locks.run([snapshotKey(id)], async () => {
    if (context.store.snapshot(id) === undefined) return {};
    await fs.rm(context.store.layout.snapshotImage(id), { force: true });
    crashPoint(context.crashAt, 'delete-snapshot:after-unlink');
    await context.store.removeSnapshot(id);
    return {};
  });
}

/**
 * ListSnapshots: in ID order, filtered by snapshot_id and source_volume_id
 * (an ID that names nothing gives an empty list), paged by max_entries; a
 * starting_token this driver did not hand out is ABORTED.
 */
export async function listSnapshots(context: DriverContext, request: ListSnapshotsRequest): Promise<ListSnapshotsResponse> {
  let records = context.store.snapshots();
  if (request.snapshotId !== '') records = records.filter((record) => record.id === request.snapshotId);
  if (request.sourceVolumeId !== '') records = records.filter((record) => record.sourceVolumeId === request.sourceVolumeId);
  const page = pageOf({ records, maxEntries: request.maxEntries, startingToken: request.startingToken, isToken: isSnapshotId });
  return { entries: page.records.map((record) => ({ snapshot: snapshotMessage(record) })), nextToken: page.nextToken };
}

/** GetSnapshot: NOT_FOUND when the snapshot does not exist. */
export async function getSnapshot(context: DriverContext, request: GetSnapshotRequest): Promise<GetSnapshotResponse> {
  const id = requireField(request.snapshotId, 'snapshot_id');
  const record = isSnapshotId(id) ? context.store.snapshot(id) : undefined;
  if (record === undefined) throw new GrpcStatusError({ code: 'NOT_FOUND', message: `snapshot ${id} does not exist` });
  return { snapshot: snapshotMessage(record) };
}
