/**
 * The named places where a test may have the driver kill itself with
 * SIGKILL, to prove that every mutating RPC is crash-safe: after a restart
 * the driver must rebuild its view from disk and the mount table and lose or
 * leak nothing. Chosen by the environment variable KUBEPLUG_CSI_CRASH_AT
 * (read once by `kubeplug serve csi`, passed in as `crashAt`); for tests only.
 *
 * Each point sits between two steps whose order the recovery relies on.
 */
export const crashPoints = [
  /** The new image is formatted under its temp name, not yet renamed into place. */
  'create-volume:after-temp-image',
  /** The image is in place; its record is not written yet. */
  'create-volume:after-image',
  /** The image is unlinked; its record still exists. */
  'delete-volume:after-unlink',
  /** The record already holds the new capacity; the image is not grown yet. */
  'expand-volume:after-record',
  /** The image is grown; its filesystem is not resized yet. */
  'expand-volume:after-truncate',
  /** The snapshot image is in place; its record is not written yet. */
  'create-snapshot:after-image',
  /** The snapshot image is unlinked; its record still exists. */
  'delete-snapshot:after-unlink',
  /** The stage record is written; nothing is mounted or attached yet. */
  'node-stage:after-record',
  /** The volume is mounted (or its loop device attached); the CO has no answer yet. */
  'node-stage:after-mount',
  /** The staging mount is gone (or the loop device detached); the stage record still exists. */
  'node-unstage:after-unmount',
  /** The publish record is written and the target created; nothing is mounted on it yet. */
  'node-publish:after-record',
  /** The bind mount is in place; the CO has no answer yet. */
  'node-publish:after-mount',
  /** The bind mount is gone; the target and the publish record still exist. */
  'node-unpublish:after-unmount',
] as const;

/** One of {@link crashPoints}. */
export type CrashPoint = (typeof crashPoints)[number];

/** True when `name` is one of {@link crashPoints}. */
export function isCrashPoint(name: string): name is CrashPoint {
  return (crashPoints as readonly string[]).includes(name);
}

/** Kills the process here when `crashAt` names this point; does nothing otherwise. */
export function crashPoint(crashAt: CrashPoint | undefined, point: CrashPoint): void {
  if (crashAt === point) process.kill(process.pid, 'SIGKILL');
}
