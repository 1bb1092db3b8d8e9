import { GrpcStatusError, type VolumeCapability } from '../../specs/csi/index.js';
import type { DriverContext } from './driver-context.js';
import type { VolumeRecord } from './state-store.js';
import { isProblem, parseCapability, type ParsedCapability } from './volume-capabilities.js';
import { isVolumeId } from './volume-ids.js';

/**
 * The record of the volume a node request names.
 * @throws GrpcStatusError NOT_FOUND for an unknown ID, or one that is not of this driver's shape (checked before any file is looked at)
 */
export function requireNodeVolume(context: DriverContext, volumeId: string): VolumeRecord {
  const record = isVolumeId(volumeId) ? context.store.volume(volumeId) : undefined;
  if (record === undefined) throw new GrpcStatusError({ code: 'NOT_FOUND', message: `volume ${volumeId} does not exist` });
  return record;
}

/**
 * Reads a node request's volume_capability against the volume: a malformed
 * one is INVALID_ARGUMENT; one the volume cannot serve (a multi-node mode,
 * another filesystem, an access type it was not created for) is
 * FAILED_PRECONDITION, CSI's "exceeds capabilities".
 */
export function nodeCapability(capability: VolumeCapability, field: string, record: VolumeRecord): ParsedCapability {
  const parsed = parseCapability(capability, field);
  if (isProblem(parsed)) {
    throw new GrpcStatusError({ code: parsed.kind === 'unsupported' ? 'FAILED_PRECONDITION' : 'INVALID_ARGUMENT', message: `${parsed.field} ${parsed.reason}` });
  }
  if (!record.accessTypes.includes(parsed.accessType)) {
    throw new GrpcStatusError({
      code: 'FAILED_PRECONDITION',
      message: `${field} asks for ${parsed.accessType} access; volume ${record.id} was created for ${record.accessTypes.join(', ')}`,
    });
  }
  return parsed;
}

/** True when two lists of mount flags hold the same flags in the same order. */
export function sameFlags(a: readonly string[], b: readonly string[]): boolean {
  return a.length === b.length && a.every((flag, index) => flag === b[index]);
}
