import { spawnLauncher, type CommandLauncher, type SysctlWrite } from './command-launcher.js';

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

/** Where and how {@link CommandRunner.run} runs a command. */
export interface RunOptions {
  readonly input?: string;
  /** A network namespace path; absent means the plugin's own (the node's) namespace. */
  readonly netns?: string;
  /** Sysctl files of `netns` to write before the command runs (failures ignored, as upstream ignores them). */
  readonly sysctls?: readonly SysctlWrite[];
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

  /** Whether the launcher runs commands side by side cheaply (see CommandLauncher.concurrent). */
  get launchesConcurrently(): boolean {
    return this.#launcher.concurrent === true;
  }

  /** Milliseconds since this invocation's work began. */
  elapsed(): number {
    return performance.now() - this.#startedAt;
  }

  readonly #launcher: CommandLauncher;

  constructor(options: { path?: string; launcher?: CommandLauncher } = {}) {
    this.#path = options.path ?? '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin';
    this.#launcher = options.launcher ?? spawnLauncher;
  }

  /**
   * Runs argv with optional stdin, inside `netns` when given (after writing
   * that namespace's `sysctls`, best effort); rejects with CommandError on a
   * non-zero exit or when it could not be started.
   */
  async run(argv: readonly string[], options: RunOptions = {}): Promise<CommandOutput> {
    if (argv.length === 0) throw new Error('empty command');
    if (options.netns === undefined && (options.sysctls?.length ?? 0) > 0) throw new Error("sysctls need a netns; write our own namespace's sysctl files directly");
    const started = performance.now();
    const startMs = started - this.#startedAt;
    const outcome = await this.#launcher.launch({ argv, path: this.#path, ...options });
    const traced = options.netns === undefined ? argv : [`[netns ${options.netns}]`, ...argv];
    this.record({ argv: traced, startMs, durationMs: performance.now() - started, exitCode: outcome.exitCode });
    if (outcome.exitCode === 0) return { stdout: outcome.stdout, stderr: outcome.stderr };
    throw new CommandError({ argv, exitCode: outcome.exitCode, stdout: outcome.stdout, stderr: outcome.stderr, ...(outcome.cause === undefined ? {} : { cause: outcome.cause }) });
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

/**
 * The runner for one invocation: the PATH the runtime gave the plugin, else
 * a standard one, and the launcher the plugin was built with (a node agent's
 * exec server, or plain child processes).
 */
export function runnerForInvocation(env: Readonly<Record<string, string | undefined>>, launcher?: CommandLauncher): CommandRunner {
  const path = env['PATH'];
  return new CommandRunner({ ...(path === undefined || path === '' ? {} : { path }), ...(launcher === undefined ? {} : { launcher }) });
}

/** Prints the invocation's subprocess trace on stderr when KUBEPLUG_BRIDGE_TRACE=1. */
export function reportTraceIfAsked(env: Readonly<Record<string, string | undefined>>, runner: CommandRunner): void {
  if (env['KUBEPLUG_BRIDGE_TRACE'] === '1') process.stderr.write(runner.describe());
}
