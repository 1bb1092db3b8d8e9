import { execFile } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs/promises';
import path from 'node:path';
import { promisify } from 'node:util';
import { hexOfDigest, syncDirectory } from './content-store.js';
import { LayerExtractError } from './image-errors.js';
import { extractLayer, type ExtractLayerResult } from './layer-extract.js';

const execFileAsync = promisify(execFile);

/**
 * Chain IDs of a layer stack (OCI image-spec config.md "Layer ChainID"):
 * the first is its diff ID, each next one sha256("<previous> <diff ID>").
 */
export function chainIdsOf(diffIds: readonly string[]): string[] {
  const chainIds: string[] = [];
  for (const diffId of diffIds) {
    const previous = chainIds[chainIds.length - 1];
    chainIds.push(previous === undefined ? diffId : `sha256:${crypto.createHash('sha256').update(`${previous} ${diffId}`).digest('hex')}`);
  }
  return chainIds;
}

const tempPrefix = '.tmp-';

/**
 * Unpacked layers, one overlay lower dir per chain ID at `dir/<hex>`. A
 * folder appears there only complete: it is unpacked into a `.tmp-` sibling,
 * synced and renamed; leftovers of a crash are removed at {@link open}.
 * Concurrent unpacks of one chain ID share one extraction.
 */
export class LayerStore {
  readonly dir: string;
  readonly #unpacking = new Map<string, Promise<void>>();

  private constructor(dir: string) {
    this.dir = dir;
  }

  static async open(dir: string): Promise<LayerStore> {
    await fs.mkdir(dir, { recursive: true });
    for (const name of await fs.readdir(dir)) {
      if (name.startsWith(tempPrefix)) await fs.rm(path.join(dir, name), { recursive: true, force: true });
    }
    return new LayerStore(dir);
  }

  /** The lower dir of a chain ID (whether or not it exists yet). */
  dirOf(chainId: string): string {
    return path.join(this.dir, hexOfDigest(chainId));
  }

  async has(chainId: string): Promise<boolean> {
    try {
      return (await fs.lstat(this.dirOf(chainId))).isDirectory();
    } catch {
      return false;
    }
  }

  /** Chain IDs of every unpacked layer. */
  async list(): Promise<string[]> {
    const names = await fs.readdir(this.dir);
    return names.filter((name) => /^[a-f0-9]{64}$/.test(name)).map((name) => `sha256:${name}`);
  }

  /**
   * Unpacks a layer blob as the chain ID's folder, unless it is there
   * already; fails (keeping nothing) when the tar's digest is not `diffId`.
   */
  async unpack(options: { chainId: string; diffId: string; lowerChainIds: readonly string[]; open: () => Promise<AsyncIterable<Buffer>>; onNote?: (note: string) => void }): Promise<void> {
    const pending = this.#unpacking.get(options.chainId);
    if (pending !== undefined) return pending;
    const promise = this.#unpackOnce(options).finally(() => this.#unpacking.delete(options.chainId));
    this.#unpacking.set(options.chainId, promise);
    return promise;
  }

  async #unpackOnce(options: { chainId: string; diffId: string; lowerChainIds: readonly string[]; open: () => Promise<AsyncIterable<Buffer>>; onNote?: (note: string) => void }): Promise<void> {
    if (await this.has(options.chainId)) return;
    const target = this.dirOf(options.chainId);
    const temp = path.join(this.dir, `${tempPrefix}${hexOfDigest(options.chainId).slice(0, 16)}-${crypto.randomBytes(4).toString('hex')}`);
    await fs.mkdir(temp, { mode: 0o755 });
    try {
      let result: ExtractLayerResult;
      try {
        result = await extractLayer({ source: await options.open(), target: temp, lowerDirs: options.lowerChainIds.map((id) => this.dirOf(id)) });
      } catch (error) {
        if (error instanceof LayerExtractError) throw new LayerExtractError(`layer ${options.diffId}: ${error.message}`, { cause: error });
        throw error;
      }
      if (result.diffId !== options.diffId) {
        throw new LayerExtractError(`layer tar has digest ${result.diffId}, the image config says ${options.diffId}`);
      }
      for (const note of result.notes) options.onNote?.(`layer ${options.diffId}: ${note}`);
      // One syncfs for the whole tree instead of an fsync per file.
      await execFileAsync('sync', ['-f', temp]);
      await fs.rename(temp, target);
      await syncDirectory(this.dir);
    } catch (error) {
      await fs.rm(temp, { recursive: true, force: true });
      throw error;
    }
  }

  /** Removes a chain ID's folder; no error when it is gone. */
  async remove(chainId: string): Promise<void> {
    const target = this.dirOf(chainId);
    // Rename first so a crash mid-removal leaves a temp folder, never a half layer under its real name.
    const doomed = path.join(this.dir, `${tempPrefix}rm-${hexOfDigest(chainId).slice(0, 16)}-${crypto.randomBytes(4).toString('hex')}`);
    try {
      await fs.rename(target, doomed);
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') return;
      throw error;
    }
    await fs.rm(doomed, { recursive: true, force: true });
  }
}
