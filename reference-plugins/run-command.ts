import { spawn } from 'node:child_process';

/** A system command (mount, losetup, mkfs.ext4, unshare, nsenter…) that could not start or exited non-zero; shared by the reference plugins. */
export class SystemCommandError extends Error {
  readonly argv: readonly string[];
  readonly exitCode: number | null;
  readonly stderr: string;

  constructor(options: { argv: readonly string[]; exitCode: number | null; stderr: string; cause?: unknown }) {
    const reason = options.stderr.trim() === '' ? `exit status ${String(options.exitCode)}` : options.stderr.trim();
    super(`${options.argv.join(' ')}: ${reason}`, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'SystemCommandError';
    this.argv = options.argv;
    this.exitCode = options.exitCode;
    this.stderr = options.stderr;
  }
}

// Debian keeps mount, losetup, ip and the e2fsprogs in sbin; a service manager's PATH may lack it.
const commandPath = '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin';

/**
 * Runs argv (never through a shell, so no request text is ever parsed as
 * shell syntax) and resolves with its stdout; rejects with
 * {@link SystemCommandError} on a non-zero exit. Safe to call concurrently.
 */
export function runCommand(argv: readonly string[]): Promise<string> {
  const [file, ...args] = argv;
  if (file === undefined) return Promise.reject(new Error('runCommand needs a command'));
  return new Promise((resolve, reject) => {
    const child = spawn(file, args, { stdio: ['ignore', 'pipe', 'pipe'], env: { PATH: commandPath, LC_ALL: 'C' } });
    const stdout: Buffer[] = [];
    const stderr: Buffer[] = [];
    child.stdout.on('data', (chunk: Buffer) => stdout.push(chunk));
    child.stderr.on('data', (chunk: Buffer) => stderr.push(chunk));
    child.once('error', (error) => reject(new SystemCommandError({ argv, exitCode: null, stderr: error.message, cause: error })));
    child.once('close', (exitCode) => {
      if (exitCode === 0) resolve(Buffer.concat(stdout).toString('utf8'));
      else reject(new SystemCommandError({ argv, exitCode, stderr: Buffer.concat(stderr).toString('utf8') }));
    });
  });
}
