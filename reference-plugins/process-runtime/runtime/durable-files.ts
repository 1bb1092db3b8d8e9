import fs from 'node:fs/promises';
import path from 'node:path';

/** The prefix of every temp file the runtime writes; recovery removes the ones a crash left. */
export const tempPrefix = '.tmp-';

let tempCounter = 0;

function tempPathIn(dir: string): string {
  // Only keeps names distinct within this process; the pid and clock keep them distinct across processes.
  tempCounter += 1;
  return path.join(dir, `${tempPrefix}${process.pid}-${process.hrtime.bigint()}-${tempCounter}`);
}

/** fsyncs a directory so the renames and unlinks inside it survive a crash. */
export async function syncDirectory(dir: string): Promise<void> {
  const handle = await fs.open(dir, 'r');
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
}

/**
 * Replaces `file` with `content` so that a crash leaves the old or the new
 * content, never a torn file: temp file, fsync, rename, fsync of the folder.
 */
export async function writeFileDurably(file: string, content: string, mode = 0o600): Promise<void> {
  const dir = path.dirname(file);
  const temp = tempPathIn(dir);
  try {
    const handle = await fs.open(temp, 'wx', mode);
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
  await syncDirectory(dir);
}

/** Reads a JSON file; `undefined` when it does not exist. */
export async function readJsonFile(file: string): Promise<unknown> {
  let text: string;
  try {
    text = await fs.readFile(file, 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw error;
  }
  return JSON.parse(text) as unknown;
}

/** Removes temp files a crash left in `dir` (not recursive). */
export async function removeStaleTempFiles(dir: string): Promise<void> {
  let names: string[];
  try {
    names = await fs.readdir(dir);
  } catch {
    return;
  }
  await Promise.all(names.filter((name) => name.startsWith(tempPrefix)).map((name) => fs.rm(path.join(dir, name), { force: true })));
}
