import { createHash } from 'node:crypto';

// IDs are derived from the CO's name, so a retried CreateVolume finds its volume without a name index,
// and a name (which may hold '/', '..' or anything else) never becomes part of a path.
const volumeIdPattern = /^v-[0-9a-f]{32}$/;
const snapshotIdPattern = /^s-[0-9a-f]{32}$/;

function digestOf(kind: string, name: string): string {
  return createHash('sha256').update(kind).update('\0').update(name, 'utf8').digest('hex').slice(0, 32);
}

/** The volume ID for a CreateVolume name: `v-` and 32 hex digits of SHA-256. */
export function volumeIdFor(name: string): string {
  return `v-${digestOf('volume', name)}`;
}

/** The snapshot ID for a CreateSnapshot name: `s-` and 32 hex digits of SHA-256. */
export function snapshotIdFor(name: string): string {
  return `s-${digestOf('snapshot', name)}`;
}

/** True when `id` has the shape of a volume ID this driver hands out; only such IDs ever reach a path. */
export function isVolumeId(id: string): boolean {
  return volumeIdPattern.test(id);
}

/** True when `id` has the shape of a snapshot ID this driver hands out. */
export function isSnapshotId(id: string): boolean {
  return snapshotIdPattern.test(id);
}
