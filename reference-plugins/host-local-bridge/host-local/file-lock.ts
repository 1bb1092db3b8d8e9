import { spawn } from 'node:child_process';
import fs from 'node:fs/promises';
import { CniError } from '../../../specs/cni/cni-error.js';

/** An exclusive flock(2) lock; released by {@link FileLock.release} or when this process dies. */
export interface FileLock {
  /** Drops the lock. A second call is a no-op. */
  release(): Promise<void>;
}

/** Options for {@link lockFileExclusively}. */
export interface FileLockOptions {
  /** How long to wait for another holder before giving up with TRY_AGAIN_LATER (11). */
  readonly waitSeconds: number;
}

// flock(1)'s exit status when -w runs out (we pick EX_TEMPFAIL so it differs from its other failures).
/** Takes an exclusive flock(2) lock on a file, creating it (mode 0750) when absent. */
export type FileLocker = (file: string, options: FileLockOptions) => Promise<FileLock>;

/** The error of a lock still held by someone else when the wait is over. */
export function lockWaitExpired(file: string, waitSeconds: number): CniError {
  return new CniError({ code: 'TRY_AGAIN_LATER', msg: `host-local: ${file} stayed locked for ${waitSeconds} s`, details: 'another host-local holds the data directory; retry later' });
}

const lockTimeoutExitCode = 75;

/**
 * Takes an exclusive flock(2) lock on `file`, creating it like go-filemutex
 * does (mode 0750), so upstream host-local and we exclude each other. Node
 * has no flock, so util-linux `flock` locks our open file description
 * through an inherited descriptor and exits: the lock then belongs to our
 * descriptor alone, and the kernel drops it when we close it or die, so a
 * crash can never leave the lock held.
 * @see containernetworking/plugins plugins/ipam/host-local/backend/disk/lock.go
 */
export const lockFileExclusively: FileLocker = async (file, options) => {
  const handle = await fs.open(file, fs.constants.O_RDONLY | fs.constants.O_CREAT, 0o750);
  try {
    await runFlock(file, handle.fd, options.waitSeconds);
  } catch (error) {
    await handle.close();
    throw error;
  }
  let released = false;
  return {
    async release() {
      if (released) return;
      released = true;
      await handle.close();
    },
  };
};

function runFlock(file: string, fd: number, waitSeconds: number): Promise<void> {
  return new Promise((resolve, reject) => {
    const child = spawn('flock', ['--exclusive', '--wait', String(waitSeconds), '--conflict-exit-code', String(lockTimeoutExitCode), '3'], {
      stdio: ['ignore', 'ignore', 'pipe', fd],
    });
    const stderr: Buffer[] = [];
    child.stderr?.on('data', (chunk: Buffer) => stderr.push(chunk));
    child.once('error', (error) => {
      reject(new CniError({ code: 'INTERNAL', msg: 'host-local: cannot run flock(1) from util-linux to lock its data directory', details: error.message, cause: error }));
    });
    child.once('close', (exitCode, signal) => {
      if (exitCode === 0) resolve();
      else if (exitCode === lockTimeoutExitCode) {
        reject(lockWaitExpired(file, waitSeconds));
      } else {
        const how = signal === null ? `exit status ${exitCode}` : `signal ${signal}`;
        reject(new CniError({ code: 'IO_FAILURE', msg: `host-local: cannot lock ${file}`, details: `flock(1) failed with ${how}: ${Buffer.concat(stderr).toString('utf8').trim()}` }));
      }
    });
  });
}
