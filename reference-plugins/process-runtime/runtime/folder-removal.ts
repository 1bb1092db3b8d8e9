import fs from 'node:fs/promises';
import path from 'node:path';

/** Mount points at or under `dir`, from this process's mount table. */
export async function mountsUnder(dir: string): Promise<string[]> {
  const prefix = `${path.resolve(dir)}/`;
  const mountinfo = await fs.readFile('/proc/self/mountinfo', 'utf8');
  return mountinfo
    .split('\n')
    .map((line) => line.split(' ')[4])
    .filter((point): point is string => point !== undefined)
    .map((point) => point.replace(/\\([0-7]{3})/g, (_m, octal: string) => String.fromCharCode(Number.parseInt(octal, 8))))
    .filter((point) => point === path.resolve(dir) || point.startsWith(prefix));
}

/**
 * Removes a sandbox's or container's folder, refusing while anything is
 * mounted inside it: a recursive delete through a live overlay or bind
 * mount would delete the files it shows. Idempotent.
 */
export async function removeFolderSafely(dir: string): Promise<void> {
  const mounted = await mountsUnder(dir);
  if (mounted.length > 0) throw new Error(`refusing to remove ${dir}: still mounted at ${mounted.join(', ')}`);
  await fs.rm(dir, { recursive: true, force: true });
}
