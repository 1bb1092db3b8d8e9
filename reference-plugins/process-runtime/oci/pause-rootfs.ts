import fs from 'node:fs/promises';
import path from 'node:path';
import { pauseBinary } from './binaries.js';

/**
 * Makes `dir` the rootfs of pause containers: the static kubeplug-pause at
 * `/pause` and the folders the runtime mounts on. Idempotent; the copy is
 * written to a temp name and renamed, so a concurrent reader never sees half
 * a binary. Every sandbox may share one such folder (it is mounted read-only).
 */
export async function preparePauseRootfs(dir: string, binary: string = pauseBinary): Promise<void> {
  await fs.mkdir(dir, { recursive: true });
  for (const folder of ['proc', 'dev', 'sys', 'etc']) await fs.mkdir(path.join(dir, folder), { recursive: true });
  const target = path.join(dir, 'pause');
  const temp = `${target}.tmp-${process.pid}`;
  await fs.copyFile(binary, temp);
  await fs.chmod(temp, 0o755);
  await fs.rename(temp, target);
}
