import fs from 'node:fs/promises';
import path from 'node:path';
import type { JsonObject } from './types.js';

/** libcni's cache kind marker (containernetworking/cni v1.3.0, libcni/api.go `CNICacheV1`). */
export const cacheKind = 'cniCacheV1';

/** One cached attachment, in libcni's on-disk format so either can read the other's cache. */
export interface CachedAttachment {
  kind: typeof cacheKind;
  containerId: string;
  /** The configuration bytes, base64 (Go's encoding of []byte). */
  config: string;
  ifName: string;
  networkName: string;
  netns?: string;
  cniArgs?: [string, string][];
  capabilityArgs?: JsonObject;
  result?: JsonObject;
}

/** Where libcni keeps an attachment's result: `<cacheDir>/results/<network>-<container>-<ifname>`. */
export function cachePath(cacheDir: string, networkName: string, containerId: string, ifName: string): string {
  return path.join(cacheDir, 'results', `${networkName}-${containerId}-${ifName}`);
}

/** Writes an attachment's cache entry atomically (temp file, fsync, rename). */
export async function writeCache(cacheDir: string, entry: CachedAttachment): Promise<void> {
  const target = cachePath(cacheDir, entry.networkName, entry.containerId, entry.ifName);
  await fs.mkdir(path.dirname(target), { recursive: true, mode: 0o700 });
  const temporary = `${target}.tmp-${process.pid}`;
  const handle = await fs.open(temporary, 'w', 0o600);
  try {
    await handle.writeFile(JSON.stringify(entry));
    await handle.sync();
  } finally {
    await handle.close();
  }
  await fs.rename(temporary, target);
}

/** Reads an attachment's cache entry, or undefined when there is none. */
export async function readCache(cacheDir: string, networkName: string, containerId: string, ifName: string): Promise<CachedAttachment | undefined> {
  try {
    const entry = JSON.parse(await fs.readFile(cachePath(cacheDir, networkName, containerId, ifName), 'utf8')) as CachedAttachment;
    return entry.kind === cacheKind ? entry : undefined;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw error;
  }
}

/** Removes an attachment's cache entry; a missing one is fine. */
export async function deleteCache(cacheDir: string, networkName: string, containerId: string, ifName: string): Promise<void> {
  await fs.rm(cachePath(cacheDir, networkName, containerId, ifName), { force: true });
}

/** Every cached attachment of one network. */
export async function listCache(cacheDir: string, networkName: string): Promise<CachedAttachment[]> {
  let names: string[];
  try {
    names = await fs.readdir(path.join(cacheDir, 'results'));
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw error;
  }
  const entries: CachedAttachment[] = [];
  for (const name of names.filter((candidate) => candidate.startsWith(`${networkName}-`) && !candidate.includes('.tmp-'))) {
    try {
      const entry = JSON.parse(await fs.readFile(path.join(cacheDir, 'results', name), 'utf8')) as CachedAttachment;
      if (entry.kind === cacheKind && entry.networkName === networkName) entries.push(entry);
    } catch {
      // A torn or foreign file is not ours to judge; GC leaves it.
    }
  }
  return entries;
}
