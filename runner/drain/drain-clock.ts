/**
 * Time as the drain loop sees it. The CLI uses the system clock; unit tests
 * pass a virtual one, so retry intervals of seconds cost them nothing.
 */
import { setTimeout as sleepFor } from 'node:timers/promises';

/** Reads the time and waits. */
export interface Clock {
  /** Milliseconds on a monotonic scale (only differences matter). */
  now(): number;
  /** Resolves after `milliseconds`, or as soon as `signal` aborts (never rejects). */
  sleep(milliseconds: number, signal?: AbortSignal): Promise<void>;
}

/** The machine's monotonic clock and real timers. */
export const systemClock: Clock = {
  now: () => performance.now(),
  sleep: async (milliseconds, signal) => {
    if (signal?.aborted === true || milliseconds <= 0) return;
    await sleepFor(milliseconds, undefined, signal === undefined ? {} : { signal }).catch(() => undefined);
  },
};
