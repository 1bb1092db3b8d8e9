import fs from 'node:fs';
import { randomBytes } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';

/**
 * A word unique to one case, put in a container's command line so the suite
 * can find the container's processes from the node (it runs on the
 * runtime's node, in the node's PID namespace).
 */
export function processMarker(): string {
  return `kp-marker-${randomBytes(6).toString('hex')}`;
}

/** A long-running command whose `$0` is `marker`, so its shell shows up in /proc/<pid>/cmdline. */
export function markedSleeper(marker: string, options: { ignoreTerm?: boolean } = {}): string[] {
  const trap = options.ignoreTerm === true ? "trap '' TERM" : "trap 'exit 0' TERM";
  return ['sh', '-c', `${trap}; sleep 3600 & wait`, marker];
}

/** PIDs on the node whose command line holds `marker`. */
export function processesWith(marker: string): number[] {
  const pids: number[] = [];
  for (const name of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(name) || Number(name) === process.pid) continue;
    try {
      if (fs.readFileSync(`/proc/${name}/cmdline`, 'utf8').split('\0').includes(marker)) pids.push(Number(name));
    } catch {
      // the process ended while the list was read
    }
  }
  return pids;
}

/** Waits up to `timeoutMs` for every process holding `marker` to end; returns those still there. */
export async function processesGone(marker: string, timeoutMs = 5000): Promise<number[]> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const left = processesWith(marker);
    if (left.length === 0 || Date.now() > deadline) return left;
    await sleep(100);
  }
}

/**
 * Waits up to `timeoutMs` for a process holding `marker` to show up: a
 * runtime may answer StartContainer a moment before the OCI runtime's init
 * has exec'd the container's command.
 */
export async function processesAppear(marker: string, timeoutMs = 3000): Promise<number[]> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const found = processesWith(marker);
    if (found.length > 0 || Date.now() > deadline) return found;
    await sleep(100);
  }
}
