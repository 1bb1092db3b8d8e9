/**
 * A runtime CLI call (`runc create`, `crun kill`, …) or a shim start that
 * failed: the argv that ran, how it ended, and what it printed on stderr.
 */
export class OciRuntimeError extends Error {
  readonly argv: readonly string[];
  /** The exit status; null when it could not start or ended by a signal. */
  readonly exitCode: number | null;
  readonly stderr: string;

  constructor(options: { argv: readonly string[]; exitCode: number | null; stderr: string; cause?: unknown }) {
    const reason = options.stderr.trim() === '' ? `exit status ${String(options.exitCode)}` : options.stderr.trim();
    super(`${options.argv.join(' ')}: ${reason}`, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'OciRuntimeError';
    this.argv = options.argv;
    this.exitCode = options.exitCode;
    this.stderr = options.stderr;
  }

  /** True when the runtime said the container does not exist (runc: "does not exist", crun: "No such file"). */
  get isNotFound(): boolean {
    return /does not exist|not exist|no such file|not found/i.test(this.stderr);
  }
}
