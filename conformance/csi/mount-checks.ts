import fs from 'node:fs/promises';
import path from 'node:path';
import { readMountTable, type MountEntry } from './mount-table.js';

/**
 * The mounts at a path or anywhere under it, as the kernel lists them. The
 * path is resolved first (as far as it exists) because mountinfo names real
 * paths and the temp folder may be reached through a link.
 */
export async function mountsUnder(target: string): Promise<MountEntry[]> {
  const resolved = await resolveExisting(target);
  return (await readMountTable()).filter(
    (entry) => entry.mountPoint === resolved || entry.mountPoint.startsWith(`${resolved}${path.sep}`),
  );
}

/** The mounts exactly at a path, last mounted last. */
export async function mountsAtPath(target: string): Promise<MountEntry[]> {
  const resolved = await resolveExisting(target);
  return (await readMountTable()).filter((entry) => entry.mountPoint === resolved);
}

/** Resolves the longest existing prefix of a path and appends the rest unchanged. */
async function resolveExisting(target: string): Promise<string> {
  const absolute = path.resolve(target);
  const real = await fs.realpath(absolute).catch(() => undefined);
  if (real !== undefined) return real;
  const parent = path.dirname(absolute);
  if (parent === absolute) return absolute;
  return path.join(await resolveExisting(parent), path.basename(absolute));
}
