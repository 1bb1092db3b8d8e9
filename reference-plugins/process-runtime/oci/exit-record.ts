import fs from 'node:fs/promises';

/**
 * How a container's init ended, as kubeplug-shim records it in the exit file:
 * `{"exitCode":N,"signal":S,"pid":P,"finishedAtNs":"T","oomKills":K}` (one
 * line, written atomically). exitCode is 128 + signal for a signalled init, as
 * containerd reports.
 */
export interface ExitRecord {
  exitCode: number;
  /** The signal that ended the init; absent when it exited by itself. */
  signal?: number;
  /** The init's pid on the host. */
  pid?: number;
  /** When the shim reaped the init, in nanoseconds since the Unix epoch. */
  finishedAtNs: bigint;
  /**
   * The OOM-kill count of the init's memory cgroup when the init had ended
   * (absent when the shim could not read it): above zero, the OOM killer
   * struck in this container (CRI reason OOMKilled).
   */
  oomKills?: number;
}

/** Reads the exit file the shim wrote; undefined while it does not exist (the container has not ended). */
export async function readExitRecord(file: string): Promise<ExitRecord | undefined> {
  let text: string;
  try {
    text = await fs.readFile(file, 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw error;
  }
  return parseExitRecord(text, file);
}

/** Parses the exit file's text; throws when it is not one (it is written atomically, so never half). */
export function parseExitRecord(text: string, file = 'exit record'): ExitRecord {
  const value: unknown = JSON.parse(text);
  if (typeof value !== 'object' || value === null) throw new Error(`${file}: not an exit record`);
  const record = value as Record<string, unknown>;
  const { exitCode, signal, pid, finishedAtNs, oomKills } = record;
  if (typeof exitCode !== 'number' || typeof finishedAtNs !== 'string' || !/^\d+$/.test(finishedAtNs)) {
    throw new Error(`${file}: not an exit record`);
  }
  const parsed: ExitRecord = { exitCode, finishedAtNs: BigInt(finishedAtNs) };
  if (typeof signal === 'number' && signal > 0) parsed.signal = signal;
  if (typeof pid === 'number') parsed.pid = pid;
  if (typeof oomKills === 'number') parsed.oomKills = oomKills;
  return parsed;
}
