import fs from 'node:fs/promises';
import { syncFile } from './durable-files.js';
import type { VolumeSystem } from './volume-system.js';

/**
 * mkfs.ext4 options, measured on this project's CI machine (about 25 ms for
 * 64 MiB): no journal (a volume is one file on a host filesystem that has
 * its own, and ext4 without one still enforces the size), no discard pass
 * over a file that is sparse already, lazy inode tables so only metadata is
 * written, and no blocks reserved for root (a CSI volume's workload should
 * get the whole capacity it asked for).
 */
const mkfsOptions = ['-q', '-F', '-E', 'nodiscard,lazy_itable_init=1,lazy_journal_init=1', '-O', '^has_journal', '-m', '0'];

/**
 * Creates a sparse image file of `sizeBytes` at `file` (which must not
 * exist), formats it ext4 when asked, and fsyncs it, so a later rename
 * publishes a complete image.
 */
export async function createImage(options: { system: VolumeSystem; file: string; sizeBytes: number; format: boolean }): Promise<void> {
  const handle = await fs.open(options.file, 'wx', 0o600);
  try {
    await handle.truncate(options.sizeBytes);
  } finally {
    await handle.close();
  }
  if (options.format) await options.system.run(['mkfs.ext4', ...mkfsOptions, options.file]);
  await syncFile(options.file);
}

/**
 * Copies an image keeping its holes (`cp --sparse=always`: coreutils seeks
 * over holes, about 10 ms for a 64 MiB image holding 8 MiB, where a plain
 * copy writes every zero) and fsyncs the copy.
 */
export async function copyImage(options: { system: VolumeSystem; from: string; to: string }): Promise<void> {
  await options.system.run(['cp', '--sparse=always', '--no-preserve=all', options.from, options.to]);
  await syncFile(options.to);
}

/**
 * Grows an image file to `sizeBytes` (never shrinks it) and fsyncs it.
 * Idempotent, so recovery can simply run it again.
 */
export async function growImageFile(options: { file: string; sizeBytes: number }): Promise<void> {
  const handle = await fs.open(options.file, 'r+');
  try {
    const { size } = await handle.stat();
    if (size < options.sizeBytes) await handle.truncate(options.sizeBytes);
    await handle.sync();
  } finally {
    await handle.close();
  }
}

/**
 * Grows the ext4 filesystem of an image that is not in use to fill the
 * image, offline. Online growth (EXT4_IOC_RESIZE_FS) needs CAP_SYS_RESOURCE,
 * which the measured CI root lacks, so the driver expands offline only.
 * Idempotent.
 */
export async function resizeFilesystem(system: VolumeSystem, file: string): Promise<void> {
  // -f: the driver unmounted the filesystem cleanly; resize2fs would otherwise demand a fresh e2fsck first.
  await system.run(['resize2fs', '-f', file]);
}

/** The size of an image file in bytes, or undefined when it is missing. */
export async function imageSize(file: string): Promise<number | undefined> {
  try {
    return (await fs.stat(file)).size;
  } catch {
    return undefined;
  }
}

/**
 * Runs `action` with the filesystem mounted at `mountPoint` frozen
 * (FIFREEZE through fsfreeze(8)), so a copy of its image taken meanwhile is
 * consistent; thaws it however the action ends.
 */
export async function whileFrozen<T>(system: VolumeSystem, mountPoint: string | undefined, action: () => Promise<T>): Promise<T> {
  if (mountPoint === undefined) return action();
  await system.run(['fsfreeze', '--freeze', mountPoint]);
  try {
    return await action();
  } finally {
    await system.run(['fsfreeze', '--unfreeze', mountPoint]);
  }
}
