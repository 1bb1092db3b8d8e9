import crypto from 'node:crypto';
import fs from 'node:fs/promises';
import path from 'node:path';
import { RegistryError } from './image-errors.js';

/** One layer of a stored image. */
export interface LayerRecord {
  /** Digest of the blob as the registry serves it (compressed). */
  readonly digest: string;
  readonly size: number;
  readonly mediaType: string;
  /** Digest of the uncompressed tar (config rootfs.diff_ids). */
  readonly diffId: string;
  /** Chain ID (OCI image-spec config.md "Layer ChainID"): names the unpacked layer folder. */
  readonly chainId: string;
}

/** Summary of an image config the runtime needs to create containers. */
export interface ImageConfigSummary {
  env: string[];
  entrypoint: string[];
  cmd: string[];
  workingDir: string;
  user: string;
  stopSignal?: string;
  labels: Record<string, string>;
}

/** What is kept on disk for one image, keyed by its ID. */
export interface ImageRecord {
  /** `sha256:<config digest hex>`. */
  readonly id: string;
  repoTags: string[];
  repoDigests: string[];
  /** Every manifest digest the image was reached through (index, then image manifest), for garbage collection. */
  readonly manifestDigests: string[];
  readonly configDigest: string;
  readonly layers: readonly LayerRecord[];
  /** Bytes of config and layer blobs, as decimal text (JSON has no bigint). */
  readonly size: string;
  readonly config: ImageConfigSummary;
  /** The image manifest's annotations (absent in records written before they were kept). */
  readonly annotations?: Readonly<Record<string, string>>;
}

/** A blob digest as a path-safe hex string; throws on anything that is not sha256. */
export function hexOfDigest(digest: string): string {
  const match = /^sha256:([a-f0-9]{64})$/.exec(digest);
  if (match === null) throw new RangeError(`not a sha256 digest: ${JSON.stringify(digest)}`);
  return match[1]!;
}

/**
 * Content-addressed blobs (`root/blobs/sha256/<hex>`) and image records
 * (`root/records/<hex>.json`). Every file is written to `root/tmp`, synced
 * and renamed into place, so a reader sees a whole file or none; whatever a
 * crash left in `root/tmp` is removed at {@link ContentStore.open}.
 */
export class ContentStore {
  readonly root: string;
  readonly blobsDir: string;
  readonly recordsDir: string;
  readonly tmpDir: string;

  private constructor(root: string) {
    this.root = root;
    this.blobsDir = path.join(root, 'blobs', 'sha256');
    this.recordsDir = path.join(root, 'records');
    this.tmpDir = path.join(root, 'tmp');
  }

  /** Opens (creating) the store and drops half-written files. */
  static async open(root: string): Promise<ContentStore> {
    const store = new ContentStore(root);
    await fs.rm(store.tmpDir, { recursive: true, force: true });
    for (const dir of [store.blobsDir, store.recordsDir, store.tmpDir]) await fs.mkdir(dir, { recursive: true });
    return store;
  }

  /** A fresh temp path inside the store's filesystem. */
  tempPath(label: string): string {
    return path.join(this.tmpDir, `${label}-${crypto.randomBytes(6).toString('hex')}`);
  }

  blobPath(digest: string): string {
    return path.join(this.blobsDir, hexOfDigest(digest));
  }

  async hasBlob(digest: string): Promise<boolean> {
    try {
      await fs.access(this.blobPath(digest));
      return true;
    } catch {
      return false;
    }
  }

  /**
   * Streams `source` into the blob for `expected.digest`, hashing and counting
   * as it goes; fails with a digest-mismatch RegistryError (and keeps nothing)
   * when the bytes are not the ones asked for.
   */
  async ingest(source: AsyncIterable<Buffer> | Iterable<Buffer>, expected: { digest: string; size: number; url?: string }): Promise<void> {
    const target = this.blobPath(expected.digest);
    const temp = this.tempPath('blob');
    const hash = crypto.createHash('sha256');
    let size = 0;
    const handle = await fs.open(temp, 'wx', 0o644);
    try {
      for await (const chunk of source) {
        size += chunk.length;
        if (size > expected.size) {
          throw new RegistryError({ kind: 'digest-mismatch', message: `${describe(expected)}: more than the ${expected.size} bytes the descriptor promises`, url: expected.url });
        }
        hash.update(chunk);
        await handle.write(chunk);
      }
      if (size !== expected.size) {
        throw new RegistryError({ kind: 'digest-mismatch', message: `${describe(expected)}: ${size} bytes, the descriptor promises ${expected.size}`, url: expected.url });
      }
      const digest = `sha256:${hash.digest('hex')}`;
      if (digest !== expected.digest) {
        throw new RegistryError({ kind: 'digest-mismatch', message: `${describe(expected)}: content has digest ${digest}`, url: expected.url });
      }
      await handle.sync();
      await handle.close();
      await fs.rename(temp, target);
      await syncDirectory(this.blobsDir);
    } catch (error) {
      await handle.close().catch(() => undefined);
      await fs.rm(temp, { force: true });
      throw error;
    }
  }

  /** Stores bytes already in memory (manifests, configs) under their digest, verified. */
  async writeBlob(digest: string, bytes: Buffer): Promise<void> {
    if (await this.hasBlob(digest)) return;
    await this.ingest([bytes], { digest, size: bytes.length });
  }

  async readBlob(digest: string): Promise<Buffer> {
    return fs.readFile(this.blobPath(digest));
  }

  /** Removes a blob; no error when it is already gone. */
  async removeBlob(digest: string): Promise<void> {
    await fs.rm(this.blobPath(digest), { force: true });
  }

  /** Digests of every stored blob. */
  async listBlobs(): Promise<string[]> {
    const names = await fs.readdir(this.blobsDir);
    return names.filter((name) => /^[a-f0-9]{64}$/.test(name)).map((name) => `sha256:${name}`);
  }

  /** Writes an image record atomically. */
  async writeRecord(record: ImageRecord): Promise<void> {
    const target = path.join(this.recordsDir, `${hexOfDigest(record.id)}.json`);
    await writeFileAtomic(target, this.tempPath('record'), `${JSON.stringify(record, null, 2)}\n`);
    await syncDirectory(this.recordsDir);
  }

  /** Removes an image record; no error when it is already gone. */
  async removeRecord(id: string): Promise<void> {
    await fs.rm(path.join(this.recordsDir, `${hexOfDigest(id)}.json`), { force: true });
    await syncDirectory(this.recordsDir);
  }

  /** Every readable image record; a record that does not parse is reported and skipped. */
  async readRecords(onUnreadable: (file: string, error: unknown) => void = () => {}): Promise<ImageRecord[]> {
    const records: ImageRecord[] = [];
    for (const name of await fs.readdir(this.recordsDir)) {
      if (!/^[a-f0-9]{64}\.json$/.test(name)) continue;
      const file = path.join(this.recordsDir, name);
      try {
        const record = JSON.parse(await fs.readFile(file, 'utf8')) as ImageRecord;
        if (record.id !== `sha256:${name.slice(0, 64)}`) throw new Error('record id does not match its file name');
        records.push(record);
      } catch (error) {
        onUnreadable(file, error);
      }
    }
    return records;
  }
}

function describe(expected: { digest: string; url?: string }): string {
  return expected.url === undefined ? `blob ${expected.digest}` : `GET ${expected.url}`;
}

/** Writes `data` to `temp`, syncs it and renames it onto `target`. */
export async function writeFileAtomic(target: string, temp: string, data: string | Buffer): Promise<void> {
  const handle = await fs.open(temp, 'wx', 0o644);
  try {
    await handle.writeFile(data);
    await handle.sync();
  } finally {
    await handle.close();
  }
  try {
    await fs.rename(temp, target);
  } catch (error) {
    await fs.rm(temp, { force: true });
    throw error;
  }
}

/** fsyncs a directory so a rename into it survives a crash. */
export async function syncDirectory(dir: string): Promise<void> {
  const handle = await fs.open(dir, 'r');
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
}
