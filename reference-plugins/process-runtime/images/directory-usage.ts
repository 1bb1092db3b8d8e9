import type { BigIntStats } from 'node:fs';
import fs from 'node:fs/promises';
import path from 'node:path';

/**
 * Bytes allocated (blocks × 512, each inode counted once, so hard links are
 * not counted twice) and inodes under a folder, in one walk that never
 * follows symlinks; entries removed during the walk are skipped.
 */
export async function directoryUsage(root: string): Promise<{ usedBytes: bigint; inodes: bigint }> {
  const seen = new Set<string>();
  let usedBytes = 0n;
  const stack = [root];
  while (stack.length > 0) {
    const entry = stack.pop()!;
    let stat: BigIntStats;
    try {
      stat = await fs.lstat(entry, { bigint: true });
    } catch {
      continue; // removed while we walked
    }
    const key = `${stat.dev}:${stat.ino}`;
    if (!seen.has(key)) {
      seen.add(key);
      usedBytes += stat.blocks * 512n;
    }
    if (!stat.isDirectory()) continue;
    let names: string[];
    try {
      names = await fs.readdir(entry);
    } catch {
      continue;
    }
    for (const name of names) stack.push(path.join(entry, name));
  }
  return { usedBytes, inodes: BigInt(seen.size) };
}
