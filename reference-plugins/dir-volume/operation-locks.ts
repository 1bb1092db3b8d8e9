import { GrpcStatusError } from '../../specs/csi/index.js';

/** One key an operation holds, and how to name it in an ABORTED message. */
export interface LockKey {
  readonly key: string;
  readonly description: string;
}

/** The key of a volume (by ID). */
export function volumeKey(id: string): LockKey {
  return { key: `volume:${id}`, description: `volume ${id}` };
}

/** The key of a snapshot (by ID; snapshot IDs are derived from names, so this also covers the name). */
export function snapshotKey(id: string): LockKey {
  return { key: `snapshot:${id}`, description: `snapshot ${id}` };
}

/**
 * The set of volumes and snapshots with an operation in flight. A second
 * operation on a busy key is refused at once with ABORTED, as CSI's error
 * scheme allows, instead of queueing; operations on other keys never wait,
 * because nothing is held across I/O except the keys themselves. O(1) per key.
 */
export class OperationLocks {
  readonly #busy = new Set<string>();

  /** Takes every key or none; returns the release function. @throws GrpcStatusError ABORTED when one is busy. */
  acquire(keys: readonly LockKey[]): () => void {
    const busy = keys.find(({ key }) => this.#busy.has(key));
    if (busy !== undefined) {
      throw new GrpcStatusError({ code: 'ABORTED', message: `an operation on ${busy.description} is already in progress; retry later` });
    }
    const taken = [...new Set(keys.map(({ key }) => key))];
    for (const key of taken) this.#busy.add(key);
    return () => {
      for (const key of taken) this.#busy.delete(key);
    };
  }

  /** Runs `action` holding `keys`, releasing them however it ends. */
  async run<T>(keys: readonly LockKey[], action: () => Promise<T>): Promise<T> {
    const release = this.acquire(keys);
    try {
      return await action();
    } finally {
      release();
    }
  }
}
