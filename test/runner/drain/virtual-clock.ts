import type { Clock } from '../../../runner/drain/index.js';

/**
 * A clock for the drain loop's unit tests: a sleep moves time forward by its
 * length at once and records how long it was asked to wait. Sleeps of
 * parallel loops add up rather than overlap, so tests with several pods
 * assert outcomes and counts, not times.
 */
export class VirtualClock implements Clock {
  private time = 0;
  readonly sleeps: number[] = [];

  now(): number {
    return this.time;
  }

  async sleep(milliseconds: number, signal?: AbortSignal): Promise<void> {
    this.sleeps.push(milliseconds);
    if (signal?.aborted === true) return;
    this.time += milliseconds;
    await new Promise((resolve) => setImmediate(resolve));
  }
}
