import type { SysctlWrite } from './command-launcher.js';
import { CommandError, type CommandRunner, type RunOptions } from './command-runner.js';
import { parseJsonSequence } from './ip-json.js';

/** One iproute2 command's arguments, without the program name: `['link', 'set', 'dev', 'eth0', 'up']`. */
export type IpLine = readonly string[];

/** Where and how to run a group of iproute2 commands. */
export interface IpRunOptions {
  /** A network namespace path; absent means the plugin's own (the node's) namespace. */
  readonly netns?: string;
  /** `ip` by default; `bridge` for VLAN filtering commands. */
  readonly program?: 'ip' | 'bridge';
  /** Add `-j` so show commands print JSON; the parsed values are returned. */
  readonly json?: boolean;
  /** Add `-d` (link kind, bridge port flags). */
  readonly details?: boolean;
  /**
   * Sysctl files to write (best effort, as upstream does) inside `netns`
   * first: they reflect the writer's namespace and iproute2 cannot write
   * them, so the launcher writes them from inside, just before iproute2 runs.
   */
  readonly sysctls?: readonly SysctlWrite[];
}

/** A command of a group failed; `lineIndex` says which (0-based). */
export class IpCommandError extends Error {
  readonly lineIndex: number | undefined;
  readonly line: IpLine | undefined;
  /** iproute2's own words, e.g. `RTNETLINK answers: File exists`. */
  readonly reason: string;

  constructor(options: { lineIndex: number | undefined; line: IpLine | undefined; reason: string; cause: unknown }) {
    const where = options.line === undefined ? 'iproute2' : `"${options.line.join(' ')}"`;
    super(`${where} failed: ${options.reason}`, { cause: options.cause });
    this.name = 'IpCommandError';
    this.lineIndex = options.lineIndex;
    this.line = options.line;
    this.reason = options.reason;
  }
}

// Batch mode splits on blanks, treats a leading quote specially and cuts at "#": such tokens cannot go through it.
const batchSafe = (token: string): boolean => /^[^\s#'"]+$/.test(token);

/** The tool's argv (flags, then arguments) and where it runs; sysctls go with the group's first process. */
function commandFor(options: IpRunOptions, toolArgs: readonly string[], withSysctls: boolean, input?: string): { argv: string[]; run: RunOptions } {
  const flags = [...(options.json === true ? ['-j'] : []), ...(options.details === true ? ['-d'] : [])];
  const argv = [options.program ?? 'ip', ...flags, ...toolArgs];
  const sysctls = withSysctls && options.sysctls !== undefined && options.sysctls.length > 0 ? { sysctls: options.sysctls } : {};
  return { argv, run: { ...(options.netns === undefined ? {} : { netns: options.netns }), ...sysctls, ...(input === undefined ? {} : { input }) } };
}

function reasonOf(error: CommandError): string {
  return (
    error.stderr
      .split('\n')
      .filter((line) => line.trim() !== '' && !line.startsWith('Command failed'))
      .join('; ') || error.message
  );
}

/**
 * Runs iproute2 commands in order, in one `-batch` process when their
 * arguments allow it (each process costs about a millisecond), stopping at
 * the first failure. Returns what show commands printed (with `json`).
 * Sysctl files are namespace-local: writing them in our own namespace is the
 * caller's business (plain file writes); for another namespace use `sysctls`.
 */
export async function runIp(runner: CommandRunner, lines: readonly IpLine[], options: IpRunOptions = {}): Promise<unknown[]> {
  if (lines.length === 0) return [];
  if (lines.length > 1 && lines.every((line) => line.every(batchSafe))) {
    try {
      const { argv, run } = commandFor(options, ['-batch', '-'], true, `${lines.map((line) => line.join(' ')).join('\n')}\n`);
      const { stdout } = await runner.run(argv, run);
      return options.json === true ? parseJsonSequence(stdout) : [];
    } catch (error) {
      if (!(error instanceof CommandError)) throw error;
      const failed = /Command failed -:(\d+)/.exec(error.stderr);
      const lineIndex = failed?.[1] === undefined ? undefined : Number(failed[1]) - 1;
      throw new IpCommandError({ lineIndex, line: lineIndex === undefined ? undefined : lines[lineIndex], reason: reasonOf(error), cause: error });
    }
  }
  const outputs: unknown[] = [];
  for (const [lineIndex, line] of lines.entries()) {
    try {
      const { argv, run } = commandFor(options, line, lineIndex === 0);
      const { stdout } = await runner.run(argv, run);
      if (options.json === true) outputs.push(...parseJsonSequence(stdout));
    } catch (error) {
      if (!(error instanceof CommandError)) throw error;
      throw new IpCommandError({ lineIndex, line, reason: reasonOf(error), cause: error });
    }
  }
  return outputs;
}

/**
 * Runs show commands with `-force`, so one missing device does not stop the
 * others, and returns what was printed. Failures other than a missing device
 * are thrown.
 */
export async function showIgnoringMissing(runner: CommandRunner, lines: readonly IpLine[], options: IpRunOptions = {}): Promise<unknown[]> {
  const json = { ...options, json: true };
  const outputs: unknown[] = [];
  const safe = lines.every((line) => line.every(batchSafe));
  const groups = safe ? [lines] : lines.map((line) => [line]);
  for (const group of groups) {
    const { argv, run } = safe
      ? commandFor(json, ['-force', '-batch', '-'], true, `${group.map((line) => line.join(' ')).join('\n')}\n`)
      : commandFor(json, group[0] ?? [], true);
    try {
      const { stdout } = await runner.run(argv, run);
      outputs.push(...parseJsonSequence(stdout));
    } catch (error) {
      if (!(error instanceof CommandError)) throw error;
      const problems = error.stderr.split('\n').filter((line) => line.trim() !== '' && !line.startsWith('Command failed'));
      if (!problems.every(isMissingDevice)) throw new IpCommandError({ lineIndex: undefined, line: undefined, reason: reasonOf(error), cause: error });
      outputs.push(...parseJsonSequence(error.stdout));
    }
  }
  return outputs;
}

/** True for iproute2's ways of saying a device does not exist. */
export function isMissingDevice(message: string): boolean {
  return /does not exist|Cannot find device|No such device/.test(message);
}

/** True for iproute2's way of saying a name or address is taken. */
export function isAlreadyExists(message: string): boolean {
  return /File exists/.test(message);
}
