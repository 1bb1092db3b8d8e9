import { spawn } from 'node:child_process';

/** One subprocess an invocation ran: what, how long, how it ended. */
export interface CommandRecord {
  readonly argv: readonly string[];
  /** When it started, in ms since the invocation's runner was made. */
  readonly startMs?: number;
  /** A plugin run inside this process (our own IPAM), not a subprocess. */
  readonly inProcess?: boolean;
  readonly durationMs: number;
  readonly exitCode: number | null;
}

/** What a command printed. */
export interface CommandOutput {
  readonly stdout: string;
  readonly stderr: string;
}

/** A command that could not be started or exited non-zero. */
export class CommandError extends Error {
  readonly argv: readonly string[];
  readonly exitCode: number | null;
  readonly stdout: string;
  readonly stderr: string;

  constructor(options: { argv: readonly string[]; exitCode: number | null; stdout: string; stderr: string; cause?: unknown }) {
    const reason = options.stderr.trim() === '' ? `exit status ${options.exitCode}` : options.stderr.trim();
    super(`${options.argv.join(' ')}: ${reason}`, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'CommandError';
    this.argv = options.argv;
    this.exitCode = options.exitCode;
    this.stdout = options.stdout;
    this.stderr = options.stderr;
  }
}

/**
 * Runs the subprocesses of one plugin invocation and keeps a record of each,
 * because subprocesses dominate the plugin's latency and a trace makes that
 * cost visible (set KUBEPLUG_BRIDGE_TRACE=1 to print it on stderr).
 * Not shared between invocations; safe for concurrent use within one.
 */
export class CommandRunner {
  readonly records: CommandRecord[] = [];
  readonly #path: string;
  /** Milliseconds since the process started when this invocation's work began (Node start and module loading before it). */
  readonly #startedAt = performance.now();

  /** Milliseconds since this invocation's work began. */
  elapsed(): number {
    return performance.now() - this.#startedAt;
  }

  constructor(options: { path?: string } = {}) {
    this.#path = options.path ?? '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin';
  }

  /** Runs argv with optional stdin; rejects with CommandError on a non-zero exit. */
  run(argv: readonly string[], options: { input?: string } = {}): Promise<CommandOutput> {
    const [command, ...args] = argv;
    if (command === undefined) return Promise.reject(new Error('empty command'));
    const started = performance.now();
    const startMs = started - this.#startedAt;
    return new Promise((resolve, reject) => {
      const child = spawn(command, args, { env: { PATH: this.#path, LC_ALL: 'C' }, stdio: ['pipe', 'pipe', 'pipe'] });
      const stdout: Buffer[] = [];
      const stderr: Buffer[] = [];
      child.stdout.on('data', (chunk: Buffer) => stdout.push(chunk));
      child.stderr.on('data', (chunk: Buffer) => stderr.push(chunk));
      child.stdin.on('error', () => {
        // A command may exit before reading its input; its exit status says why.
      });
      child.once('error', (error) => {
        this.record({ argv, startMs, durationMs: performance.now() - started, exitCode: null });
        reject(new CommandError({ argv, exitCode: null, stdout: '', stderr: error.message, cause: error }));
      });
      child.once('close', (exitCode) => {
        this.record({ argv, startMs, durationMs: performance.now() - started, exitCode });
        const output = { stdout: Buffer.concat(stdout).toString('utf8'), stderr: Buffer.concat(stderr).toString('utf8') };
        if (exitCode === 0) resolve(output);
        else reject(new CommandError({ argv, exitCode, ...output }));
      });
      child.stdin.end(options.input ?? '');
    });
  }

  /** Notes a subprocess started elsewhere (the IPAM plugin) so the trace stays complete. */
  record(entry: CommandRecord): void {
    this.records.push(entry);
  }

  /** The trace as text, one command per line. */
  describe(): string {
    const total = this.records.reduce((sum, entry) => sum + entry.durationMs, 0);
    const inProcess = this.records.filter((entry) => entry.inProcess === true).length;
    const lines = this.records.map((entry) => `  ${entry.startMs === undefined ? '' : `at ${entry.startMs.toFixed(1)} ms: `}${entry.durationMs.toFixed(1)} ms  exit ${entry.exitCode}  ${entry.argv.join(' ')}`);
    const timing = `handler began ${this.#startedAt.toFixed(1)} ms after process start, took ${this.elapsed().toFixed(1)} ms`;
    const counts = `${this.records.length - inProcess} subprocesses${inProcess > 0 ? ` and ${inProcess} plugin call in process` : ''}`;
    return `kubeplug-bridge: ${counts}, ${total.toFixed(1)} ms; ${timing}\n${lines.join('\n')}\n`;
  }
}

/** argv that runs `argv` inside the network namespace at `netnsPath` (any nsfs path, not only /run/netns names). */
export function inNetns(netnsPath: string, argv: readonly string[]): string[] {
  return ['nsenter', `--net=${netnsPath}`, '--', ...argv];
}

/** The runner for one invocation: the PATH the runtime gave the plugin, else a standard one. */
export function runnerForInvocation(env: Readonly<Record<string, string | undefined>>): CommandRunner {
  const path = env['PATH'];
  return new CommandRunner(path === undefined || path === '' ? {} : { path });
}

/** Prints the invocation's subprocess trace on stderr when KUBEPLUG_BRIDGE_TRACE=1. */
export function reportTraceIfAsked(env: Readonly<Record<string, string | undefined>>, runner: CommandRunner): void {
  if (env['KUBEPLUG_BRIDGE_TRACE'] === '1') process.stderr.write(runner.describe());
}
