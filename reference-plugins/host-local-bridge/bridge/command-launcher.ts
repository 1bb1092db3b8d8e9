import { spawn } from 'node:child_process';

/** A sysctl file to write before a command runs, e.g. `/proc/sys/net/ipv4/conf/eth0/arp_notify`. */
export interface SysctlWrite {
  readonly path: string;
  readonly value: string;
}

/** One command to start: the tool and its arguments, where, and with what. */
export interface LaunchRequest {
  readonly argv: readonly string[];
  /** The PATH the tool is looked up in (the runtime's, as CNI passes it). */
  readonly path: string;
  readonly input?: string;
  /** Run inside this network namespace (an nsfs path); absent: the caller's own. */
  readonly netns?: string;
  /** Sysctl files of `netns` to write first, best effort. */
  readonly sysctls?: readonly SysctlWrite[];
}

/** How a command ended: its exit code (null when it could not start or was killed) and what it printed. */
export interface LaunchOutcome {
  readonly exitCode: number | null;
  readonly stdout: string;
  readonly stderr: string;
  readonly cause?: unknown;
}

/**
 * Starts the bridge plugin's helper commands. Two implementations: plain
 * child processes ({@link spawnLauncher}, what a standalone plugin uses) and
 * a node agent's resident exec server (node-agent/netns-exec-service.ts),
 * which starts them without forking Node and without nsenter.
 * Implementations must be safe for concurrent use.
 */
export interface CommandLauncher {
  launch(request: LaunchRequest): Promise<LaunchOutcome>;
  /**
   * True when starting a command costs this process next to nothing (no
   * fork of it), so independent commands pay off run side by side even at
   * the price of one more process; child processes cost a fork each.
   */
  readonly concurrent?: boolean;
}

// Writes each (file, value) pair, ignoring failures, then execs the rest of the arguments.
const sysctlPrelude = 'while [ "$1" != "--" ]; do { printf "%s" "$2" > "$1"; } 2>/dev/null; shift 2; done; shift; exec "$@"';

/**
 * The argv a child process needs for a request: the tool itself, or, for
 * another namespace, the tool behind nsenter (any nsfs path works, not only
 * /run/netns names), with a small shell in between that writes the sysctl
 * files, since they reflect the namespace of whoever opens them.
 */
export function spawnArgv(request: Pick<LaunchRequest, 'argv' | 'netns' | 'sysctls'>): string[] {
  if (request.netns === undefined) return [...request.argv];
  const sysctls = request.sysctls ?? [];
  const inner = sysctls.length === 0 ? request.argv : ['sh', '-c', sysctlPrelude, 'sh', ...sysctls.flatMap(({ path, value }) => [path, value]), '--', ...request.argv];
  return ['nsenter', `--net=${request.netns}`, '--', ...inner];
}

/** Runs each command as a child process of this one. */
export const spawnLauncher: CommandLauncher = {
  launch(request) {
    const [command, ...args] = spawnArgv(request);
    if (command === undefined) return Promise.reject(new Error('empty command'));
    return new Promise((resolve) => {
      const child = spawn(command, args, { env: { PATH: request.path, LC_ALL: 'C' }, stdio: ['pipe', 'pipe', 'pipe'] });
      const stdout: Buffer[] = [];
      const stderr: Buffer[] = [];
      child.stdout.on('data', (chunk: Buffer) => stdout.push(chunk));
      child.stderr.on('data', (chunk: Buffer) => stderr.push(chunk));
      child.stdin.on('error', () => {
        // A command may exit before reading its input; its exit status says why.
      });
      child.once('error', (error) => resolve({ exitCode: null, stdout: '', stderr: error.message, cause: error }));
      child.once('close', (exitCode) => resolve({ exitCode, stdout: Buffer.concat(stdout).toString('utf8'), stderr: Buffer.concat(stderr).toString('utf8') }));
      child.stdin.end(request.input ?? '');
    });
  },
};
