import fs from 'node:fs/promises';
import {
  GrpcStatusError,
  type ControllerExpandVolumeRequest,
  type ControllerExpandVolumeResponse,
  type CreateVolumeRequest,
  type CreateVolumeResponse,
  type DeleteVolumeRequest,
  type DeleteVolumeResponse,
  type Volume,
  type VolumeContentSource,
} from '../../specs/csi/index.js';
import { chooseSize, readCapacityRange, sizeSatisfies } from './capacity-range.js';
import { crashPoint } from './crash-points.js';
import { copyImage, createImage, growImageFile, resizeFilesystem, whileFrozen } from './disk-image.js';
import type { DriverContext } from './driver-context.js';
import { tempPathIn } from './durable-files.js';
import { snapshotKey, volumeKey, type LockKey } from './operation-locks.js';
import { invalidArgument, requireField, requireName, requirePresent } from './request-fields.js';
import type { AccessType, VolumeRecord } from './state-store.js';
import { acceptsThisNode, nodeTopology } from './topology.js';
import { isProblem, parseCapability } from './volume-capabilities.js';
import { isSnapshotId, isVolumeId, volumeIdFor } from './volume-ids.js';
import { isInUse, stagedMountPoint, volumeUsage } from './volume-usage.js';

/**
 * Parameter keys under this prefix are the CO's own metadata (Kubernetes'
 * external-provisioner adds `csi.storage.k8s.io/pvc/name` and the like):
 * accepted and ignored. The driver defines no parameters of its own, so any
 * other key is refused, naming it, instead of being silently ignored.
 */
const coMetadataPrefix = 'csi.storage.k8s.io/';

/** Refuses parameter keys the driver does not define. @throws GrpcStatusError INVALID_ARGUMENT */
export function checkParameters(parameters: Readonly<Record<string, string>>, field: string): void {
  const unknown = Object.keys(parameters).find((key) => !key.startsWith(coMetadataPrefix));
  if (unknown !== undefined) throw invalidArgument(`${field} holds unknown key ${JSON.stringify(unknown)}; this driver defines no parameters`);
}

/** The Volume message for a record. */
export function volumeMessage(context: DriverContext, record: VolumeRecord): Volume {
  const source = record.contentSource;
  const contentSource: VolumeContentSource | undefined =
    source === undefined
      ? undefined
      : source.kind === 'snapshot'
        ? { type: { $case: 'snapshot', value: { snapshotId: source.id } } }
        : { type: { $case: 'volume', value: { volumeId: source.id } } };
  return {
    capacityBytes: BigInt(record.capacityBytes),
    volumeId: record.id,
    volumeContext: {},
    ...(contentSource === undefined ? {} : { contentSource }),
    accessibleTopology: [nodeTopology(context.nodeId)],
  };
}

function readContentSource(source: VolumeContentSource | undefined): VolumeRecord['contentSource'] {
  if (source === undefined) return undefined;
  if (source.type === undefined) throw invalidArgument('volume_content_source must name a snapshot or a volume');
  return source.type.$case === 'snapshot'
    ? { kind: 'snapshot', id: requireField(source.type.value.snapshotId, 'volume_content_source.snapshot.snapshot_id') }
    : { kind: 'volume', id: requireField(source.type.value.volumeId, 'volume_content_source.volume.volume_id') };
}

function sameParameters(a: Readonly<Record<string, string>>, b: Readonly<Record<string, string>>): boolean {
  const keys = Object.keys(a);
  return keys.length === Object.keys(b).length && keys.every((key) => a[key] === b[key]);
}

/** What a source volume or snapshot offers a new volume. */
interface ResolvedSource {
  readonly image: string;
  readonly sizeBytes: number;
  readonly formatted: boolean;
  readonly frozenMountPoint: string | undefined;
}

async function resolveSource(context: DriverContext, source: NonNullable<VolumeRecord['contentSource']>): Promise<ResolvedSource> {
  if (source.kind === 'snapshot') {
    const snapshot = isSnapshotId(source.id) ? context.store.snapshot(source.id) : undefined;
    if (snapshot === undefined) throw new GrpcStatusError({ code: 'NOT_FOUND', message: `source snapshot ${source.id} does not exist` });
    return { image: context.store.layout.snapshotImage(snapshot.id), sizeBytes: snapshot.sizeBytes, formatted: snapshot.formatted, frozenMountPoint: undefined };
  }
  const volume = isVolumeId(source.id) ? context.store.volume(source.id) : undefined;
  if (volume === undefined) throw new GrpcStatusError({ code: 'NOT_FOUND', message: `source volume ${source.id} does not exist` });
  return {
    image: context.store.layout.volumeImage(volume.id),
    sizeBytes: volume.capacityBytes,
    formatted: volume.formatted,
    frozenMountPoint: await stagedMountPoint(context, volume.id),
  };
}

/**
 * CreateVolume: idempotent by name (the ID is derived from it). The image is
 * built under a temp name, fsynced and renamed into place, and only then
 * recorded; a crash in between leaves an image without a record, which the
 * next start removes.
 * @see CSI spec.md CreateVolume and its error table
 */
export async function createVolume(context: DriverContext, request: CreateVolumeRequest): Promise<CreateVolumeResponse> {
  const name = requireName(request.name, 'name');
  if (request.volumeCapabilities.length === 0) throw invalidArgument('volume_capabilities is required');
  const accessTypes = new Set<AccessType>();
  request.volumeCapabilities.forEach((capability, index) => {
    const parsed = parseCapability(capability, `volume_capabilities[${index}]`);
    if (isProblem(parsed)) throw invalidArgument(`${parsed.field} ${parsed.reason}`);
    accessTypes.add(parsed.accessType);
  });
  checkParameters(request.parameters, 'parameters');
  if (Object.keys(request.mutableParameters).length > 0) throw invalidArgument('mutable_parameters is not supported: the driver has no MODIFY_VOLUME capability');
  const range = readCapacityRange(request.capacityRange, 'capacity_range');
  const source = readContentSource(request.volumeContentSource);
  if (!acceptsThisNode(request.accessibilityRequirements, context.nodeId, 'accessibility_requirements')) {
    throw new GrpcStatusError({ code: 'RESOURCE_EXHAUSTED', message: `accessibility_requirements.requisite excludes node ${context.nodeId}, the only node this driver provisions on` });
  }
  const id = volumeIdFor(name);
  const keys: LockKey[] = [volumeKey(id)];
  if (source !== undefined) keys.push(source.kind === 'volume' ? volumeKey(source.id) : snapshotKey(source.id));
  if (source?.kind === 'volume' && source.id === id) throw invalidArgument('volume_content_source names the volume being created');

  return context.locks.run(keys, async () => {
    const existing = context.store.volume(id);
    if (existing !== undefined) {
      const conflict = incompatibility(existing, { range, accessTypes, parameters: request.parameters, source });
      if (conflict !== undefined) throw new GrpcStatusError({ code: 'ALREADY_EXISTS', message: `volume ${JSON.stringify(name)} exists as ${id} with ${conflict}` });
      return { volume: volumeMessage(context, existing) };
    }
    const resolved = source === undefined ? undefined : await resolveSource(context, source);
    const format = accessTypes.has('mount');
    if (resolved !== undefined && format && !resolved.formatted) {
      throw invalidArgument('volume_content_source holds a raw block image; it cannot back a volume with mount access');
    }
    const sizeBytes = chooseSize(range, { floorBytes: resolved?.sizeBytes ?? 0, ...(resolved === undefined ? {} : { preferredBytes: resolved.sizeBytes }), field: 'capacity_range' });
    const release = context.capacity.reserve(sizeBytes, `volume ${JSON.stringify(name)}`);
    try {
      const image = context.store.layout.volumeImage(id);
      const temp = tempPathIn(context.store.layout.volumesDir, '.img');
      try {
        if (resolved === undefined) await createImage({ system: context.system, file: temp, sizeBytes, format });
        else {
          await whileFrozen(context.system, resolved.frozenMountPoint, () => copyImage({ system: context.system, from: resolved.image, to: temp }));
          if (sizeBytes > resolved.sizeBytes) {
            await growImageFile({ file: temp, sizeBytes });
            if (resolved.formatted) await resizeFilesystem(context.system, temp);
          }
        }
        crashPoint(context.crashAt, 'create-volume:after-temp-image');
        await fs.rename(temp, image);
      } catch (error) {
        await fs.rm(temp, { force: true });
        throw error;
      }
      crashPoint(context.crashAt, 'create-volume:after-image');
      const record: VolumeRecord = {
        id,
        name,
        capacityBytes: sizeBytes,
        accessTypes: [...accessTypes].sort(),
        formatted: format || (resolved?.formatted ?? false),
        parameters: { ...request.parameters },
        ...(source === undefined ? {} : { contentSource: source }),
        createdAt: new Date().toISOString(),
      };
      // Writing the record fsyncs the folder, which also makes the image's rename durable.
      await context.store.putVolume(record);
      return { volume: volumeMessage(context, record) };
    } finally {
      release();
    }
  });
}

function incompatibility(
  existing: VolumeRecord,
  wanted: { range: { requiredBytes: number; limitBytes: number }; accessTypes: ReadonlySet<AccessType>; parameters: Readonly<Record<string, string>>; source: VolumeRecord['contentSource'] },
): string | undefined {
  if (!sizeSatisfies(existing.capacityBytes, wanted.range)) return `capacity ${existing.capacityBytes} bytes, outside the requested capacity_range`;
  const missing = [...wanted.accessTypes].find((type) => !existing.accessTypes.includes(type));
  if (missing !== undefined) return `access types ${existing.accessTypes.join(', ')}, not ${missing}`;
  if (!sameParameters(existing.parameters, wanted.parameters)) return 'different parameters';
  const a = existing.contentSource;
  const b = wanted.source;
  if (a?.kind !== b?.kind || a?.id !== b?.id) return 'a different volume_content_source';
  return undefined;
}

/**
 * DeleteVolume: idempotent; an unknown or malformed ID is already deleted.
 * Refused with FAILED_PRECONDITION while the volume is staged or published
 * on this node. Snapshots are copies, so they outlive the volume.
 */
export async function deleteVolume(context: DriverContext, request: DeleteVolumeRequest): Promise<DeleteVolumeResponse> {
  const id = requireField(request.volumeId, 'volume_id');
  // Not an ID this driver hands out: no such volume, and nothing on disk to look at.
  if (!isVolumeId(id)) return {};
  return context.locks.run([volumeKey(id)], async () => {
    if (context.store.volume(id) === undefined) return {};
    const usage = await volumeUsage(context, id);
    if (isInUse(usage)) {
      const where = usage.stage?.stagingPath ?? usage.publishes[0]?.targetPath ?? usage.loops[0]?.path ?? '';
      throw new GrpcStatusError({ code: 'FAILED_PRECONDITION', message: `volume ${id} is in use on this node (${where}); unpublish and unstage it first` });
    }
    await fs.rm(context.store.layout.volumeImage(id), { force: true });
    crashPoint(context.crashAt, 'delete-volume:after-unlink');
    await context.store.removeVolume(id);
    return {};
  });
}

/**
 * ControllerExpandVolume, offline: refused with FAILED_PRECONDITION while
 * the volume is staged. The record takes the new size first (marked
 * resizePending), then the image grows and its filesystem is resized; the
 * next start finishes an expansion a crash cut short. The node has nothing
 * left to do, so node_expansion_required is false.
 */
export async function expandVolume(context: DriverContext, request: ControllerExpandVolumeRequest): Promise<ControllerExpandVolumeResponse> {
  const id = requireField(request.volumeId, 'volume_id');
  const range = readCapacityRange(requirePresent(request.capacityRange, 'capacity_range'), 'capacity_range');
  if (range.requiredBytes === 0 && range.limitBytes === 0) throw invalidArgument('capacity_range must set required_bytes or limit_bytes');
  if (!isVolumeId(id)) throw new GrpcStatusError({ code: 'NOT_FOUND', message: `volume ${id} does not exist` });
  return context.locks.run([volumeKey(id)], async () => {
    const record = context.store.volume(id);
    if (record === undefined) throw new GrpcStatusError({ code: 'NOT_FOUND', message: `volume ${id} does not exist` });
    if (request.volumeCapability !== undefined) {
      const parsed = parseCapability(request.volumeCapability, 'volume_capability');
      if (isProblem(parsed)) throw invalidArgument(`${parsed.field} ${parsed.reason}`);
      if (!record.accessTypes.includes(parsed.accessType)) throw invalidArgument(`volume_capability asks for ${parsed.accessType} access; volume ${id} has ${record.accessTypes.join(', ')}`);
    }
    if (range.requiredBytes <= record.capacityBytes && record.resizePending !== true) {
      return { capacityBytes: BigInt(record.capacityBytes), nodeExpansionRequired: false };
    }
    const sizeBytes = Math.max(chooseSize(range, { floorBytes: record.capacityBytes, preferredBytes: record.capacityBytes, field: 'capacity_range' }), record.capacityBytes);
    const usage = await volumeUsage(context, id);
    if (isInUse(usage)) {
      throw new GrpcStatusError({ code: 'FAILED_PRECONDITION', message: `volume ${id} is staged on this node; this driver expands volumes offline only (unstage it first)` });
    }
    const release = context.capacity.reserve(sizeBytes - record.capacityBytes, `expanding volume ${id}`);
    try {
      await context.store.putVolume({ ...record, capacityBytes: sizeBytes, resizePending: true });
    } finally {
      release();
    }
    crashPoint(context.crashAt, 'expand-volume:after-record');
    await finishExpansion(context, context.store.volume(id) ?? record);
    return { capacityBytes: BigInt(sizeBytes), nodeExpansionRequired: false };
  });
}

/** Grows the image and its filesystem to the recorded capacity and clears resizePending. Idempotent; recovery calls it too. */
export async function finishExpansion(context: DriverContext, record: VolumeRecord): Promise<void> {
  const image = context.store.layout.volumeImage(record.id);
  await growImageFile({ file: image, sizeBytes: record.capacityBytes });
  crashPoint(context.crashAt, 'expand-volume:after-truncate');
  if (record.formatted) await resizeFilesystem(context.system, image);
  const { resizePending: _, ...done } = record;
  await context.store.putVolume(done);
}
