/**
 * What the kubelet must remember about disruptions across restarts: whether
 * the node is cordoned, and which pods (by UID) were evicted, with when and
 * the grace period asked for. Both live in files under --root-dir, written
 * atomically (temp file, fsync, rename); the in-memory copy is only a cache
 * of those files, replaced after each successful write.
 */
import path from 'node:path';
import { readJson, writeJsonAtomic } from '../volumes/durable-json.js';

/** One eviction the kubelet accepted. */
export interface EvictionRecord {
  readonly namespace: string;
  readonly name: string;
  /** When the eviction was accepted (RFC 3339, seconds): the pod's deletionTimestamp. */
  readonly at: string;
  /** The grace period the eviction asked for; the pod's own when undefined. */
  readonly gracePeriodSeconds?: number;
}

interface CordonFile {
  readonly unschedulable: boolean;
}

interface EvictionsFile {
  readonly evictions: Readonly<Record<string, EvictionRecord>>;
}

export const cordonFileName = 'node-cordon.json';
export const evictionsFileName = 'pod-evictions.json';

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function isEvictionRecord(value: unknown): value is EvictionRecord {
  return isRecord(value) && typeof value.namespace === 'string' && typeof value.name === 'string' && typeof value.at === 'string' && (value.gracePeriodSeconds === undefined || typeof value.gracePeriodSeconds === 'number');
}

/**
 * The node's cordon and the pods' evictions, persisted under `rootDir`.
 * Writes are serialized; each method resolves once its change is on disk.
 */
export class DisruptionState {
  readonly #cordonFile: string;
  readonly #evictionsFile: string;
  #unschedulable = false;
  #evictions = new Map<string, EvictionRecord>();
  /** Evictions being decided: shown to peers at once, acted on only once recorded (memory only). */
  readonly #pending = new Map<string, EvictionRecord>();
  #writes: Promise<void> = Promise.resolve();

  private constructor(rootDir: string) {
    this.#cordonFile = path.join(rootDir, cordonFileName);
    this.#evictionsFile = path.join(rootDir, evictionsFileName);
  }

  /**
   * Reads the state a previous kubelet left; a file that cannot be parsed
   * is reported through `warn` and read as empty (never as a crash).
   */
  static async load(rootDir: string, warn: (message: string) => void = () => {}): Promise<DisruptionState> {
    const state = new DisruptionState(rootDir);
    try {
      const cordon = await readJson<CordonFile>(state.#cordonFile);
      state.#unschedulable = isRecord(cordon) && cordon.unschedulable === true;
    } catch (error) {
      warn(`cannot read ${state.#cordonFile}, taking the node as not cordoned: ${(error as Error).message}`);
    }
    try {
      const file = await readJson<EvictionsFile>(state.#evictionsFile);
      for (const [uid, record] of Object.entries(isRecord(file) && isRecord(file.evictions) ? file.evictions : {})) {
        if (isEvictionRecord(record)) state.#evictions.set(uid, record);
      }
    } catch (error) {
      warn(`cannot read ${state.#evictionsFile}, no evictions remembered: ${(error as Error).message}`);
    }
    return state;
  }

  get unschedulable(): boolean {
    return this.#unschedulable;
  }

  /** The eviction of pod `uid`, if one was accepted. */
  eviction(uid: string): EvictionRecord | undefined {
    return this.#evictions.get(uid);
  }

  /** The eviction of pod `uid` as /pods shows it: recorded, or still being decided. */
  visibleEviction(uid: string): EvictionRecord | undefined {
    return this.#evictions.get(uid) ?? this.#pending.get(uid);
  }

  /** Shows pod `uid` as being evicted while the decision is checked again (not persisted, never acted on). */
  markPending(uid: string, record: EvictionRecord): void {
    this.#pending.set(uid, record);
  }

  clearPending(uid: string): void {
    this.#pending.delete(uid);
  }

  get evictedUids(): readonly string[] {
    return [...this.#evictions.keys()];
  }

  #serialize(write: () => Promise<void>): Promise<void> {
    const next = this.#writes.then(write);
    this.#writes = next.catch(() => {});
    return next;
  }

  /** Cordons or uncordons the node; idempotent. */
  setUnschedulable(unschedulable: boolean): Promise<void> {
    return this.#serialize(async () => {
      if (unschedulable === this.#unschedulable) return;
      await writeJsonAtomic(this.#cordonFile, { unschedulable } satisfies CordonFile);
      this.#unschedulable = unschedulable;
    });
  }

  /** Remembers that pod `uid` was evicted; the first record of a UID is kept. */
  recordEviction(uid: string, record: EvictionRecord): Promise<void> {
    return this.#serialize(async () => {
      if (this.#evictions.has(uid)) return;
      const next = new Map(this.#evictions).set(uid, record);
      await writeJsonAtomic(this.#evictionsFile, { evictions: Object.fromEntries(next) } satisfies EvictionsFile);
      this.#evictions = next;
    });
  }

  /** Forgets the evictions of pods whose manifest is gone (UIDs not in `keep`); idempotent. */
  forgetEvictionsExcept(keep: ReadonlySet<string>): Promise<void> {
    return this.#serialize(async () => {
      const next = new Map([...this.#evictions].filter(([uid]) => keep.has(uid)));
      if (next.size === this.#evictions.size) return;
      await writeJsonAtomic(this.#evictionsFile, { evictions: Object.fromEntries(next) } satisfies EvictionsFile);
      this.#evictions = next;
    });
  }
}
