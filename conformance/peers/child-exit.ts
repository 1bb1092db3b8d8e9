import type { ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { setTimeout as sleep } from 'node:timers/promises';

/** Whether a child this process spawned has exited. */
export function hasExited(child: ChildProcess): boolean {
  return child.exitCode !== null || child.signalCode !== null;
}

/** Resolves true once `child` exits, false if it is still running after `ms`. */
export async function exitsWithin(child: ChildProcess, ms: number): Promise<boolean> {
  if (hasExited(child)) return true;
  // Cancelled once the race is decided: a pending timer would hold the caller's process open.
  const timer = new AbortController();
  const exited = once(child, 'exit', { signal: timer.signal }).then(() => true);
  const timedOut = sleep(ms, undefined, { signal: timer.signal }).then(() => hasExited(child));
  try {
    return await Promise.race([exited, timedOut]);
  } finally {
    timer.abort();
    await Promise.allSettled([exited, timedOut]);
  }
}

/** SIGTERM, then SIGKILL after `graceMs`, to one process the caller started; `label` names it in the error. */
export async function stopChild(child: ChildProcess, graceMs: number, label: string): Promise<void> {
  if (hasExited(child)) return;
  child.kill('SIGTERM');
  if (await exitsWithin(child, graceMs)) return;
  child.kill('SIGKILL');
  if (!(await exitsWithin(child, 5000))) throw new Error(`${label} (pid ${child.pid}) survived SIGKILL`);
}
