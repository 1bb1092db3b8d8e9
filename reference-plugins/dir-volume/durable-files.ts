import fs from 'node:fs/promises';
import path from 'node:path';

/** The prefix of every temp file the driver writes; a restart removes the ones a crash left. */
export const tempPrefix = '.tmp-';

let tempCounter = 0;

/** A fresh temp file name inside `dir`, unique within this process and across restarts. */
export function tempPathIn(dir: string, suffix = ''): string {
  // Module-level counter, not state: it only keeps names distinct, and the pid plus clock keep them distinct across processes.
  tempCounter += 1;
  return path.join(dir, `${tempPrefix}${process.pid}-${process.hrtime.bigint()}-${tempCounter}${suffix}`);
}

/** fsyncs a directory, making the renames and unlinks inside it durable. */
export async function syncDirectory(dir: string): Promise<void> {
  const handle = await fs.open(dir, 'r');
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
}

/** fsyncs an existing file's data and size. */
export async function syncFile(file: string): Promise<void> {
  const handle = await fs.open(file, 'r+');
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
}

/**
 * Replaces `file` with `content` so that a crash leaves either the old or the
 * new content, never a torn file: write a temp file, fsync it, rename it over
 * the target, fsync the directory. Idempotent.
 */
export async function writeFileDurably(file: string, content: string, sync: (dir: string) => Promise<void> = syncDirectory): Promise<void> {
  const dir = path.dirname(file);
  const temp = tempPathIn(dir);
  try {
    const handle = await fs.open(temp, 'wx', 0o600);
    try {
      await handle.writeFile(content);
      await handle.sync();
    } finally {
      await handle.close();
    }
    await fs.rename(temp, file);
  } catch (error) {
    await fs.rm(temp, { force: true });
    throw error;
  }
  await sync(dir);
}

/** Removes `file` durably; a file already gone is success (idempotent). */
export async function removeFileDurably(file: string, sync: (dir: string) => Promise<void> = syncDirectory): Promise<void> {
  await fs.rm(file, { force: true });
  await sync(path.dirname(file));
}
