import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { ContentStore, hexOfDigest, type ImageConfigSummary, type ImageRecord, type LayerRecord } from './content-store.js';
import { directoryUsage } from './directory-usage.js';
import { parseImageConfig } from './image-config.js';
import { InvalidImageContentError, RegistryError } from './image-errors.js';
import { PinSet, Semaphore, SerialLock } from './pull-coordination.js';
import { formatImageReference, parseImageReference, repoDigestOf, repoTagOf, type ImageReference } from './image-reference.js';
import { chainIdsOf, LayerStore } from './layer-store.js';
import type { RegistryAuth } from './registry-auth.js';
import { RegistryClient, type Descriptor } from './registry-client.js';
import { readBody } from './registry-http.js';
import type { Platform } from './platform-match.js';

export type { RegistryAuth } from './registry-auth.js';
export type { ImageConfigSummary } from './content-store.js';
export { parseImageConfig } from './image-config.js';

/** Options for {@link ImageStore.open}. */
export interface ImageStoreOptions {
  /** `DIR/images`: blobs, image records and unpacked layers live under it. */
  root: string;
  /** Registry host → base URL tried first (`docker.io` → `http://127.0.0.1:5000`). */
  registryMirrors?: Readonly<Record<string, string>>;
  /** Hosts pulled over plain http (loopback hosts always are). */
  insecureRegistries?: readonly string[];
  /** Layer dirs (paths, or chain IDs) mounted by containers: never removed. */
  layersInUse?: () => ReadonlySet<string>;
  /** Per registry request: until headers, then between body chunks. Default 30 s. */
  timeoutMs?: number;
  /** Layer blobs fetched at once per pull. Default 3. */
  concurrentDownloads?: number;
  /** The platform picked from image indexes; this host's by default. */
  platform?: Platform;
  /** Where notes go (skipped device nodes, unreadable records); never secrets. */
  log?: (line: string) => void;
}

/** An image as the runtime sees it. */
export interface StoredImage {
  /** `sha256:<config digest hex>`. */
  id: string;
  /** Fully qualified, `docker.io/library/busybox:latest`. */
  repoTags: string[];
  /** `docker.io/library/busybox@sha256:…`: the digest the reference resolved to (an index for multi-platform images). */
  repoDigests: string[];
  /** Bytes of config and layer blobs (compressed), as containerd reports. */
  size: bigint;
  config: ImageConfigSummary;
  /** Overlay lower dirs, lowest first. */
  layerDirs: string[];
  /** Chain IDs of the layers, lowest first (addition to the plan's interface). */
  chainIds: string[];
  /** The image manifest's annotations (addition to the plan's interface). */
  annotations: Record<string, string>;
}

/**
 * The runtime's image store: pulls images from registries into a
 * content-addressed store, unpacks their layers as overlay lower dirs, and
 * finds, lists and removes them. State is only what is on disk under the
 * root; {@link open} rebuilds everything from it.
 *
 * Concurrency: pulls of the same reference (and credentials) share one pull;
 * blobs and layers are fetched and unpacked once however many pulls need
 * them; record changes and garbage collection run one at a time.
 */
export class ImageStore {
  readonly #options: ImageStoreOptions;
  readonly #content: ContentStore;
  readonly #layers: LayerStore;
  readonly #registry: RegistryClient;
  readonly #records = new Map<string, ImageRecord>();
  readonly #pulls = new Map<string, Promise<StoredImage>>();
  readonly #blobFetches = new Map<string, Promise<void>>();
  readonly #lock = new SerialLock();
  readonly #pins = new PinSet();

  private constructor(options: ImageStoreOptions, content: ContentStore, layers: LayerStore) {
    this.#options = options;
    this.#content = content;
    this.#layers = layers;
    this.#registry = new RegistryClient({
      registryMirrors: options.registryMirrors,
      insecureRegistries: options.insecureRegistries,
      timeoutMs: options.timeoutMs,
      platform: options.platform,
    });
  }

  /**
   * Opens the store under `options.root`, dropping half-written blobs,
   * records and layer folders a crash left behind. Image records are only
   * written once every layer is unpacked, so each record found is whole.
   */
  static async open(options: ImageStoreOptions): Promise<ImageStore> {
    const content = await ContentStore.open(options.root);
    const layers = await LayerStore.open(path.join(options.root, 'layers'));
    const store = new ImageStore(options, content, layers);
    for (const record of await content.readRecords((file, error) => store.#log(`image record ${file} unreadable, ignored: ${(error as Error).message}`))) {
      store.#records.set(record.id, record);
    }
    return store;
  }

  /** The folder holding the unpacked layers (`root/layers`). */
  get layersDir(): string {
    return this.#layers.dir;
  }

  /**
   * Pulls an image: manifest (resolved to this platform), config, then
   * layers, fetched concurrently and unpacked in order; resolves once every
   * layer is unpacked and the image is recorded. The reference's tag moves
   * to the pulled image.
   */
  pull(reference: string, auth?: RegistryAuth): Promise<StoredImage> {
    let parsed: ImageReference;
    try {
      parsed = parseImageReference(reference);
    } catch (error) {
      return Promise.reject(error);
    }
    const key = `${formatImageReference(parsed)}\n${auth === undefined ? '' : crypto.createHash('sha256').update(JSON.stringify(auth)).digest('hex')}`;
    const pending = this.#pulls.get(key);
    if (pending !== undefined) return pending;
    const promise = this.#pullOnce(parsed, auth).finally(() => this.#pulls.delete(key));
    this.#pulls.set(key, promise);
    return promise;
  }

  async #pullOnce(reference: ImageReference, auth: RegistryAuth | undefined): Promise<StoredImage> {
    const resolved = await this.#registry.resolve(reference, auth);
    const { manifest } = resolved;
    const configDigest = manifest.config.digest;
    const configBytes = await this.#fetchSmallBlob(reference, manifest.config, auth);
    const config = parseImageConfig(configBytes, `${reference.name}@${configDigest}`);
    if (config.diffIds.length !== manifest.layers.length) {
      throw new InvalidImageContentError(`${reference.name}@${resolved.manifestDigest}: ${manifest.layers.length} layers but ${config.diffIds.length} diff IDs in the config`);
    }
    const chainIds = chainIdsOf(config.diffIds);
    const pinned = [...resolved.manifests.map((m) => m.digest), configDigest, ...manifest.layers.map((layer) => layer.digest), ...chainIds];
    await this.#lock.run(async () => this.#pins.add(pinned));
    try {
      for (const fetched of resolved.manifests) await this.#content.writeBlob(fetched.digest, fetched.body);
      await this.#content.writeBlob(configDigest, configBytes);
      await this.#fetchAndUnpackLayers(reference, manifest.layers, config.diffIds, chainIds, auth);
      const layers: LayerRecord[] = manifest.layers.map((layer, index) => ({
        digest: layer.digest,
        size: layer.size,
        mediaType: layer.mediaType,
        diffId: config.diffIds[index]!,
        chainId: chainIds[index]!,
      }));
      const size = manifest.layers.reduce((sum, layer) => sum + BigInt(layer.size), BigInt(manifest.config.size));
      const id = configDigest;
      return await this.#lock.run(async () => {
        const repoTag = repoTagOf(reference);
        const repoDigest = repoDigestOf(reference, resolved.targetDigest);
        // A tag names one image: it leaves whichever image had it before.
        if (repoTag !== undefined) {
          for (const other of this.#records.values()) {
            if (other.id !== id && other.repoTags.includes(repoTag)) {
              other.repoTags = other.repoTags.filter((tag) => tag !== repoTag);
              await this.#content.writeRecord(other);
            }
          }
        }
        const existing = this.#records.get(id);
        const record: ImageRecord = {
          id,
          repoTags: unique([...(existing?.repoTags ?? []), ...(repoTag === undefined ? [] : [repoTag])]),
          repoDigests: unique([...(existing?.repoDigests ?? []), repoDigest]),
          manifestDigests: unique([...(existing?.manifestDigests ?? []), ...resolved.manifests.map((m) => m.digest)]),
          configDigest,
          layers: existing?.layers ?? layers,
          size: (existing === undefined ? size : BigInt(existing.size)).toString(),
          config: config.summary,
          annotations: { ...manifest.annotations },
        };
        await this.#content.writeRecord(record);
        this.#records.set(id, record);
        return this.#storedImageOf(record);
      });
    } finally {
      this.#pins.release(pinned);
    }
  }

  async #fetchSmallBlob(reference: ImageReference, descriptor: Descriptor, auth: RegistryAuth | undefined): Promise<Buffer> {
    if (await this.#content.hasBlob(descriptor.digest)) return this.#content.readBlob(descriptor.digest);
    const response = await this.#registry.fetchBlob(reference, descriptor.digest, auth);
    const body = await readBody(response, 64 << 20);
    const digest = `sha256:${crypto.createHash('sha256').update(body).digest('hex')}`;
    if (digest !== descriptor.digest || body.length !== descriptor.size) {
      throw new RegistryError({ kind: 'digest-mismatch', message: `GET ${response.url}: content has digest ${digest} and ${body.length} bytes, expected ${descriptor.digest} and ${descriptor.size}`, url: response.url });
    }
    return body;
  }

  async #fetchAndUnpackLayers(
    reference: ImageReference,
    layers: readonly Descriptor[],
    diffIds: readonly string[],
    chainIds: readonly string[],
    auth: RegistryAuth | undefined,
  ): Promise<void> {
    // Every missing blob starts downloading at once, a bounded number at a time in layer order;
    // unpacking follows in layer order as each blob arrives.
    const slots = new Semaphore(Math.max(1, this.#options.concurrentDownloads ?? 3));
    const present = await Promise.all(chainIds.map(async (chainId, index) => (await this.#layers.has(chainId)) && (await this.#content.hasBlob(layers[index]!.digest))));
    const downloads = layers.map((layer, index) => (present[index] === true ? Promise.resolve() : slots.run(() => this.#ensureBlob(reference, layer, auth))));
    for (const download of downloads) download.catch(() => undefined);
    for (let index = 0; index < layers.length; index += 1) {
      if (present[index] === true) continue;
      const layer = layers[index]!;
      await downloads[index];
      await this.#layers.unpack({
        chainId: chainIds[index]!,
        diffId: diffIds[index]!,
        lowerChainIds: chainIds.slice(0, index),
        open: async () => fs.createReadStream(this.#content.blobPath(layer.digest)),
        onNote: (note) => this.#log(note),
      });
    }
    await Promise.all(downloads);
  }

  /** Fetches a blob into the content store unless it is there; concurrent callers share one fetch. */
  #ensureBlob(reference: ImageReference, descriptor: Descriptor, auth: RegistryAuth | undefined): Promise<void> {
    const pending = this.#blobFetches.get(descriptor.digest);
    if (pending !== undefined) return pending;
    const promise = (async () => {
      if (await this.#content.hasBlob(descriptor.digest)) return;
      const response = await this.#registry.fetchBlob(reference, descriptor.digest, auth);
      try {
        await this.#content.ingest(response.body as AsyncIterable<Buffer>, { digest: descriptor.digest, size: descriptor.size, url: response.url });
      } catch (error) {
        response.body.destroy();
        if (error instanceof RegistryError) throw error;
        throw new RegistryError({ kind: 'unreachable', message: `GET ${response.url}: ${(error as Error).message}`, url: response.url, cause: error });
      }
    })().finally(() => this.#blobFetches.delete(descriptor.digest));
    this.#blobFetches.set(descriptor.digest, promise);
    return promise;
  }

  /**
   * Finds an image by ID (`sha256:<hex>` or bare hex, or a unique prefix),
   * by tag (`busybox`, `docker.io/library/busybox:1.36`) or by
   * `name@digest`. Throws InvalidImageReferenceError for a string that
   * is neither a reference nor an ID.
   */
  async find(reference: string): Promise<StoredImage | undefined> {
    const record = this.#findRecord(reference);
    return record === undefined ? undefined : this.#storedImageOf(record.record);
  }

  #findRecord(reference: string): { record: ImageRecord } | undefined {
    const idMatch = /^(?:sha256:)?([a-f0-9]{64})$/.exec(reference);
    if (idMatch !== null) {
      const record = this.#records.get(`sha256:${idMatch[1]!}`);
      if (record !== undefined) return { record };
    }
    let parsed: ImageReference | undefined;
    let parseError: unknown;
    try {
      parsed = parseImageReference(reference);
    } catch (error) {
      parseError = error;
    }
    if (parsed !== undefined) {
      if (parsed.digest !== undefined) {
        const repoDigest = repoDigestOf(parsed, parsed.digest);
        for (const record of this.#records.values()) {
          if (record.repoDigests.includes(repoDigest)) return { record };
        }
        for (const record of this.#records.values()) {
          const sameRepository = [...record.repoTags, ...record.repoDigests].some((ref) => ref.startsWith(`${parsed.name}:`) || ref.startsWith(`${parsed.name}@`));
          if (sameRepository && record.manifestDigests.includes(parsed.digest)) return { record };
        }
      } else {
        const repoTag = repoTagOf(parsed)!;
        for (const record of this.#records.values()) {
          if (record.repoTags.includes(repoTag)) return { record };
        }
      }
    }
    const prefix = /^(?:sha256:)?([a-f0-9]{1,64})$/.exec(reference);
    if (prefix !== null) {
      const matches = [...this.#records.values()].filter((record) => hexOfDigest(record.id).startsWith(prefix[1]!));
      if (matches.length === 1) return { record: matches[0]! };
      return undefined;
    }
    if (parseError !== undefined) throw parseError;
    return undefined;
  }

  /** Every image, in no particular order. */
  async list(): Promise<StoredImage[]> {
    return [...this.#records.values()].map((record) => this.#storedImageOf(record));
  }

  /** The image's whole config (OCI image-spec config.md), for verbose status. */
  async imageConfig(id: string): Promise<unknown> {
    const record = this.#records.get(id);
    if (record === undefined) return undefined;
    return JSON.parse((await this.#content.readBlob(record.configDigest)).toString('utf8')) as unknown;
  }

  /**
   * Removes an image by ID, tag or `name@digest`, with all its tags and
   * digests (CRI RemoveImage: "removing the image by a single tag will remove
   * all of its tags"; docker's untag-only `rmi` is not the CRI's), and every
   * blob and layer folder no other image uses and no container has mounted.
   * Idempotent: an unknown reference is no error.
   *
   * @see CRI-IMAGE-016, CRI-IMAGE-017, CRI-IMAGE-018, CRI-IMAGE-019, CRI-IMAGE-020
   */
  async remove(reference: string): Promise<void> {
    await this.#lock.run(async () => {
      const found = this.#findRecord(reference);
      if (found === undefined) return;
      await this.#content.removeRecord(found.record.id);
      this.#records.delete(found.record.id);
      await this.#collectGarbage();
    });
  }

  /** Deletes blobs and layer folders no image references; runs under the lock. */
  async #collectGarbage(): Promise<void> {
    const blobs = new Set<string>();
    const chains = new Set<string>();
    for (const record of this.#records.values()) {
      for (const digest of record.manifestDigests) blobs.add(digest);
      blobs.add(record.configDigest);
      for (const layer of record.layers) {
        blobs.add(layer.digest);
        chains.add(layer.chainId);
      }
    }
    const inUse = this.#options.layersInUse?.() ?? new Set<string>();
    for (const digest of await this.#content.listBlobs()) {
      if (!blobs.has(digest) && !this.#pins.has(digest) && !this.#blobFetches.has(digest)) await this.#content.removeBlob(digest);
    }
    for (const chainId of await this.#layers.list()) {
      const dir = this.#layers.dirOf(chainId);
      if (chains.has(chainId) || this.#pins.has(chainId) || inUse.has(dir) || inUse.has(chainId) || inUse.has(hexOfDigest(chainId))) continue;
      await this.#layers.remove(chainId);
    }
  }

  /**
   * Usage of the store's folder: bytes allocated (each inode counted once)
   * and inodes, in one walk.
   */
  async fsInfo(): Promise<{ mountpoint: string; usedBytes: bigint; inodesUsed: bigint }> {
    const { usedBytes, inodes } = await directoryUsage(this.#options.root);
    return { mountpoint: this.#options.root, usedBytes, inodesUsed: inodes };
  }

  #storedImageOf(record: ImageRecord): StoredImage {
    const chainIds = record.layers.map((layer) => layer.chainId);
    return {
      id: record.id,
      repoTags: [...record.repoTags],
      repoDigests: [...record.repoDigests],
      size: BigInt(record.size),
      config: structuredClone(record.config),
      layerDirs: chainIds.map((chainId) => this.#layers.dirOf(chainId)),
      chainIds,
      annotations: { ...record.annotations },
    };
  }

  #log(line: string): void {
    (this.#options.log ?? ((text: string) => process.stderr.write(`${text}\n`)))(line);
  }
}

function unique(values: readonly string[]): string[] {
  return [...new Set(values)];
}

