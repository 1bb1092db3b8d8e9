import { spawn } from 'node:child_process';
import fs from 'node:fs/promises';
import { OciRuntimeError } from './oci-runtime-error.js';

/** What kubeplug-shim needs to run `<runtime> create` and supervise the container. */
export interface ShimStartOptions {
  shimPath: string;
  runtime: string;
  runtimeRoot: string;
  id: string;
  bundle: string;
  /** Where the runtime writes the init's pid. */
  pidFile: string;
  exitFile: string;
  shimPidFile: string;
  /** The CRI log; without it the container's output is read and dropped. */
  logPath?: string;
  /** How long the runtime's create may take before the start is given up. */
  timeoutMs: number;
}

/**
 * Starts a detached kubeplug-shim and resolves with the container init's pid
 * once the shim answers "ok <pid>" on its status fd (fd 3 here); rejects with
 * {@link OciRuntimeError} carrying the runtime's message on "error …".
 * The shim then lives on by itself: nothing of it stays tied to this process.
 */
export function startShim(o: ShimStartOptions): Promise<{ pid: number }> {
  const args = [
    '--runtime', o.runtime, '--runtime-root', o.runtimeRoot, '--bundle', o.bundle, '--id', o.id,
    '--exit-file', o.exitFile, '--pid-file', o.pidFile, '--shim-pid-file', o.shimPidFile,
    ...(o.logPath === undefined ? [] : ['--log-path', o.logPath]),
    '--status-fd', '3',
  ];
  const argv = [o.shimPath, ...args];
  return new Promise((resolve, reject) => {
    const child = spawn(o.shimPath, args, { stdio: ['ignore', 'ignore', 'pipe', 'pipe'], detached: true, env: {} });
    const status: Buffer[] = [];
    const stderr: Buffer[] = [];
    let settled = false;
    const finish = (error: Error | undefined, pid?: number): void => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      if (error !== undefined) reject(error);
      else resolve({ pid: pid ?? 0 });
    };
    const timer = setTimeout(() => {
      finish(new OciRuntimeError({ argv, exitCode: null, stderr: `no answer from kubeplug-shim within ${o.timeoutMs} ms` }));
      // The shim may be stuck in the runtime's create: stop it, by the pid it recorded.
      void signalShim(o.shimPidFile, 'SIGKILL');
    }, o.timeoutMs);
    child.stderr?.on('data', (chunk: Buffer) => stderr.push(chunk));
    const statusStream = child.stdio[3];
    if (statusStream === null || statusStream === undefined) {
      finish(new OciRuntimeError({ argv, exitCode: null, stderr: 'no status pipe' }));
      return;
    }
    statusStream.on('data', (chunk: Buffer) => status.push(chunk));
    statusStream.on('error', () => {}); // a closed pipe ends the answer; its text says the rest
    statusStream.on('close', () => {
      const answer = Buffer.concat(status).toString('utf8').trim();
      const ok = /^ok (\d+)$/.exec(answer);
      if (ok?.[1] !== undefined) return finish(undefined, Number(ok[1]));
      const message = answer.startsWith('error ') ? answer.slice('error '.length) : Buffer.concat(stderr).toString('utf8') || answer || 'kubeplug-shim ended without an answer';
      finish(new OciRuntimeError({ argv, exitCode: null, stderr: message }));
    });
    child.once('error', (error) => finish(new OciRuntimeError({ argv, exitCode: null, stderr: error.message, cause: error })));
    child.unref();
  });
}

/** The shim's pid from its pid file; undefined when the file is gone (the shim has exited). */
export async function readShimPid(shimPidFile: string): Promise<number | undefined> {
  try {
    const pid = Number.parseInt(await fs.readFile(shimPidFile, 'utf8'), 10);
    return Number.isSafeInteger(pid) && pid > 0 ? pid : undefined;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw error;
  }
}

/**
 * Sends a signal to the shim named by its pid file; false when no shim runs.
 * A pid file left by a shim that was killed may name a reused pid, so the
 * process's name is checked first.
 */
export async function signalShim(shimPidFile: string, signal: NodeJS.Signals | 0): Promise<boolean> {
  const pid = await readShimPid(shimPidFile);
  if (pid === undefined) return false;
  try {
    const name = (await fs.readFile(`/proc/${pid}/comm`, 'utf8')).trim();
    if (name !== 'kubeplug-shim') return false;
  } catch {
    return false;
  }
  try {
    process.kill(pid, signal);
    return true;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ESRCH') return false;
    throw error;
  }
}

/**
 * True while the container's shim runs (its pid file names a live
 * kubeplug-shim). After a restart, a container whose shim is gone and whose
 * exit file is missing lost its exit status (the shim was killed).
 */
export function isShimRunning(shimPidFile: string): Promise<boolean> {
  return signalShim(shimPidFile, 0);
}

/**
 * Asks the shim to reopen its CRI log (SIGUSR1), as ReopenContainerLog does
 * after a rotation renamed the file; a no-op when the shim has exited. Given
 * the log's path, it resolves once the shim has created the new file (within
 * `timeoutMs`), so a caller may read it at once.
 */
export async function reopenShimLog(shimPidFile: string, logPath?: string, timeoutMs = 2000): Promise<void> {
  const signalled = await signalShim(shimPidFile, 'SIGUSR1');
  if (!signalled || logPath === undefined) return;
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      await fs.access(logPath);
      return;
    } catch {
      if (Date.now() > deadline) throw new Error(`kubeplug-shim did not reopen ${logPath} within ${timeoutMs} ms`);
      await new Promise((resolve) => setTimeout(resolve, 5));
    }
  }
}
