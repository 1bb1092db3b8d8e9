import type { DriverContext } from './driver-context.js';
import { listLoopDevices, loopOfMount, loopsBackedBy, type LoopDevice } from './loop-devices.js';
import { mountsAt, readMountTable, type MountEntry } from './mount-table.js';
import type { PublishRecord, StageRecord } from './state-store.js';

/** Where a volume is in use on this node: by the records and by the system. */
export interface VolumeUsage {
  readonly stage: StageRecord | undefined;
  readonly publishes: readonly PublishRecord[];
  /** Loop devices backed by the volume's image, whoever attached them. */
  readonly loops: readonly LoopDevice[];
}

/** Looks up a volume's stage and publications, and the loop devices its image backs. */
export async function volumeUsage(context: DriverContext, volumeId: string): Promise<VolumeUsage> {
  const loops = loopsBackedBy(await listLoopDevices(), context.store.layout.volumeImage(volumeId));
  return { stage: context.store.stage(volumeId), publishes: context.store.publishes(volumeId), loops };
}

/** True when anything on this node still uses the volume. */
export function isInUse(usage: VolumeUsage): boolean {
  return usage.stage !== undefined || usage.publishes.length > 0 || usage.loops.length > 0;
}

/** The mount at `mountPoint` that shows the image `image` (through a loop device), if any. */
export function mountOfImage(table: readonly MountEntry[], loops: readonly LoopDevice[], mountPoint: string, image: string): MountEntry | undefined {
  return mountsAt(table, mountPoint).find((mount) => loopOfMount(loops, mount)?.backingFile === image);
}

/**
 * The mount point of a volume's staged filesystem, when the kernel shows it
 * mounted there (so it can be frozen for a consistent copy).
 */
export async function stagedMountPoint(context: DriverContext, volumeId: string): Promise<string | undefined> {
  const stage = context.store.stage(volumeId);
  if (stage === undefined || stage.accessType !== 'mount') return undefined;
  const [table, loops] = await Promise.all([readMountTable(), listLoopDevices()]);
  return mountOfImage(table, loops, stage.stagingPath, context.store.layout.volumeImage(volumeId)) === undefined ? undefined : stage.stagingPath;
}
