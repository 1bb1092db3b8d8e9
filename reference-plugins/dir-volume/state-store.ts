import { createHash } from 'node:crypto';
import fs from 'node:fs/promises';
import path from 'node:path';
import { DirectorySync } from './directory-sync.js';
import { removeFileDurably, tempPrefix, writeFileDurably } from './durable-files.js';
import { isSnapshotId, isVolumeId } from './volume-ids.js';

/** How a volume is presented: a mounted filesystem or the raw block device. */
export type AccessType = 'mount' | 'block';

/** What the driver remembers of a volume, in `<root>/volumes/<id>.json`. */
export interface VolumeRecord {
  readonly id: string;
  readonly name: string;
  readonly capacityBytes: number;
  /** The access types CreateVolume asked for; stage and publish accept only these. */
  readonly accessTypes: readonly AccessType[];
  /** Whether the image holds an ext4 filesystem (true whenever mount access was asked for). */
  readonly formatted: boolean;
  readonly parameters: Readonly<Record<string, string>>;
  readonly contentSource?: { readonly kind: 'snapshot' | 'volume'; readonly id: string };
  readonly createdAt: string;
  /** Set while an expansion is under way: the image or its filesystem may still be smaller than capacityBytes. */
  readonly resizePending?: boolean;
}

/** What the driver remembers of a snapshot, in `<root>/snapshots/<id>.json`. */
export interface SnapshotRecord {
  readonly id: string;
  readonly name: string;
  readonly sourceVolumeId: string;
  readonly sizeBytes: number;
  readonly formatted: boolean;
  readonly createdAt: string;
}

/** A volume staged on this node, written before the mount so a crash never leaves a mount nobody owns. */
export interface StageRecord {
  readonly volumeId: string;
  readonly stagingPath: string;
  readonly accessType: AccessType;
  readonly accessMode: number;
  readonly fsType: string;
  readonly mountFlags: readonly string[];
}

/** A volume published at a target path, written before the target is created and mounted. */
export interface PublishRecord {
  readonly volumeId: string;
  readonly targetPath: string;
  readonly stagingPath: string;
  readonly accessType: AccessType;
  readonly accessMode: number;
  readonly readonly: boolean;
  readonly mountFlags: readonly string[];
  /** Whether the driver created the target, and so must remove it on unpublish. */
  readonly createdTarget: boolean;
}

/** Where everything lives under the driver's root. */
export class StateLayout {
  readonly volumesDir: string;
  readonly snapshotsDir: string;
  readonly nodeDir: string;

  constructor(readonly root: string) {
    this.volumesDir = path.join(root, 'volumes');
    this.snapshotsDir = path.join(root, 'snapshots');
    this.nodeDir = path.join(root, 'node');
  }

  volumeImage(id: string): string {
    return path.join(this.volumesDir, `${id}.img`);
  }

  volumeRecord(id: string): string {
    return path.join(this.volumesDir, `${id}.json`);
  }

  snapshotImage(id: string): string {
    return path.join(this.snapshotsDir, `${id}.img`);
  }

  snapshotRecord(id: string): string {
    return path.join(this.snapshotsDir, `${id}.json`);
  }

  stageRecord(volumeId: string): string {
    return path.join(this.nodeDir, `stage-${volumeId}.json`);
  }

  publishRecord(targetPath: string): string {
    // Hashed: a target path is the CO's text and may be long or odd; it never becomes a file name.
    return path.join(this.nodeDir, `publish-${createHash('sha256').update(targetPath).digest('hex').slice(0, 32)}.json`);
  }
}

async function readJsonRecords<T>(dir: string, pick: (name: string) => boolean): Promise<T[]> {
  const records: T[] = [];
  for (const name of await fs.readdir(dir)) {
    if (!name.endsWith('.json') || name.startsWith(tempPrefix) || !pick(name)) continue;
    records.push(JSON.parse(await fs.readFile(path.join(dir, name), 'utf8')) as T);
  }
  return records;
}

/**
 * The driver's records, on disk (the truth) and cached in memory (an index
 * rebuilt from disk at start). Every write is durable before it resolves;
 * every put and remove is idempotent. Not locked: callers hold the
 * per-volume operation lock for the records they change.
 */
export class StateStore {
  readonly layout: StateLayout;
  readonly #volumes = new Map<string, VolumeRecord>();
  readonly #snapshots = new Map<string, SnapshotRecord>();
  readonly #stages = new Map<string, StageRecord>();
  readonly #publishes = new Map<string, PublishRecord>();
  readonly #directories = new DirectorySync();
  readonly #sync = (dir: string): Promise<void> => this.#directories.sync(dir);

  private constructor(root: string) {
    this.layout = new StateLayout(root);
  }

  /** Creates the folders when missing and loads every record. */
  static async open(root: string): Promise<StateStore> {
    const store = new StateStore(root);
    const { volumesDir, snapshotsDir, nodeDir } = store.layout;
    await Promise.all([volumesDir, snapshotsDir, nodeDir].map((dir) => fs.mkdir(dir, { recursive: true, mode: 0o700 })));
    for (const record of await readJsonRecords<VolumeRecord>(volumesDir, (name) => isVolumeId(name.slice(0, -5)))) store.#volumes.set(record.id, record);
    for (const record of await readJsonRecords<SnapshotRecord>(snapshotsDir, (name) => isSnapshotId(name.slice(0, -5)))) store.#snapshots.set(record.id, record);
    for (const record of await readJsonRecords<StageRecord>(nodeDir, (name) => name.startsWith('stage-'))) store.#stages.set(record.volumeId, record);
    for (const record of await readJsonRecords<PublishRecord>(nodeDir, (name) => name.startsWith('publish-'))) store.#publishes.set(record.targetPath, record);
    return store;
  }

  volume(id: string): VolumeRecord | undefined {
    return this.#volumes.get(id);
  }

  /** All volumes, ordered by ID (the order ListVolumes pages through). */
  volumes(): VolumeRecord[] {
    return [...this.#volumes.values()].sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
  }

  async putVolume(record: VolumeRecord): Promise<void> {
    await writeFileDurably(this.layout.volumeRecord(record.id), `${JSON.stringify(record, null, 2)}\n`, this.#sync);
    this.#volumes.set(record.id, record);
  }

  async removeVolume(id: string): Promise<void> {
    await removeFileDurably(this.layout.volumeRecord(id), this.#sync);
    this.#volumes.delete(id);
  }

  snapshot(id: string): SnapshotRecord | undefined {
    return this.#snapshots.get(id);
  }

  /** All snapshots, ordered by ID. */
  snapshots(): SnapshotRecord[] {
    return [...this.#snapshots.values()].sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
  }

  async putSnapshot(record: SnapshotRecord): Promise<void> {
    await writeFileDurably(this.layout.snapshotRecord(record.id), `${JSON.stringify(record, null, 2)}\n`, this.#sync);
    this.#snapshots.set(record.id, record);
  }

  async removeSnapshot(id: string): Promise<void> {
    await removeFileDurably(this.layout.snapshotRecord(id), this.#sync);
    this.#snapshots.delete(id);
  }

  stage(volumeId: string): StageRecord | undefined {
    return this.#stages.get(volumeId);
  }

  stages(): StageRecord[] {
    return [...this.#stages.values()];
  }

  async putStage(record: StageRecord): Promise<void> {
    await writeFileDurably(this.layout.stageRecord(record.volumeId), `${JSON.stringify(record, null, 2)}\n`, this.#sync);
    this.#stages.set(record.volumeId, record);
  }

  /**
   * Not made durable on purpose: a stage record resurrected by a crash names
   * a mount that is gone, and start-up recovery drops such records (it trusts
   * the mount table), so the fsync would buy nothing.
   */
  async removeStage(volumeId: string): Promise<void> {
    await fs.rm(this.layout.stageRecord(volumeId), { force: true });
    this.#stages.delete(volumeId);
  }

  publish(targetPath: string): PublishRecord | undefined {
    return this.#publishes.get(targetPath);
  }

  /** The publications of one volume, or of all volumes. */
  publishes(volumeId?: string): PublishRecord[] {
    const all = [...this.#publishes.values()];
    return volumeId === undefined ? all : all.filter((record) => record.volumeId === volumeId);
  }

  async putPublish(record: PublishRecord): Promise<void> {
    await writeFileDurably(this.layout.publishRecord(record.targetPath), `${JSON.stringify(record, null, 2)}\n`, this.#sync);
    this.#publishes.set(record.targetPath, record);
  }

  /** Not made durable on purpose, as {@link removeStage}: recovery drops a record whose mount is gone. */
  async removePublish(targetPath: string): Promise<void> {
    await fs.rm(this.layout.publishRecord(targetPath), { force: true });
    this.#publishes.delete(targetPath);
  }

  /** Bytes promised to volumes and snapshots, the figure --capacity bounds. */
  allocatedBytes(): number {
    let total = 0;
    for (const volume of this.#volumes.values()) total += volume.capacityBytes;
    for (const snapshot of this.#snapshots.values()) total += snapshot.sizeBytes;
    return total;
  }
}
