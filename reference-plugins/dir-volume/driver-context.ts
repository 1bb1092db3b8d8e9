import fs from 'node:fs';
import { GrpcStatusError } from '../../specs/csi/index.js';
import type { CrashPoint } from './crash-points.js';
import type { OperationLocks } from './operation-locks.js';
import type { StateStore } from './state-store.js';
import type { VolumeSystem } from './volume-system.js';

/** Everything the services share: one per running driver, never global. */
export interface DriverContext {
  readonly root: string;
  readonly nodeId: string;
  readonly maxVolumesPerNode: number;
  readonly store: StateStore;
  readonly locks: OperationLocks;
  readonly capacity: CapacityBudget;
  readonly crashAt: CrashPoint | undefined;
  /** Mounts, loop devices and e2fsprogs: through the mount server, or mount(8) and losetup(8). */
  readonly system: VolumeSystem;
  readonly log: (line: string) => void;
}

/**
 * The bytes the driver may still promise. With a total (`--capacity`), what
 * is left of it after every volume, every snapshot and every creation in
 * flight; without one, what the filesystem holding the root has free.
 * Reservations are taken synchronously, so concurrent creations can never
 * promise the same bytes twice.
 */
export class CapacityBudget {
  #reserved = 0;

  constructor(
    private readonly store: StateStore,
    private readonly totalBytes: number | undefined,
  ) {}

  /** Bytes still available for new volumes and snapshots. */
  availableBytes(): number {
    if (this.totalBytes === undefined) {
      // Synchronous on purpose (one cheap syscall): reserve() must check and take without yielding in between.
      const stats = fs.statfsSync(this.store.layout.root);
      return Math.max(0, stats.bavail * stats.bsize - this.#reserved);
    }
    return Math.max(0, this.totalBytes - this.store.allocatedBytes() - this.#reserved);
  }

  /**
   * Holds `bytes` until the returned release is called (after the record that
   * accounts for them is written, or on failure).
   * @throws GrpcStatusError RESOURCE_EXHAUSTED when they are not available
   */
  reserve(bytes: number, what: string): () => void {
    const available = this.availableBytes();
    if (bytes > available) {
      throw new GrpcStatusError({ code: 'RESOURCE_EXHAUSTED', message: `${what} needs ${bytes} bytes but only ${available} are left of the driver's capacity` });
    }
    this.#reserved += bytes;
    let released = false;
    return () => {
      if (released) return;
      released = true;
      this.#reserved -= bytes;
    };
  }
}
