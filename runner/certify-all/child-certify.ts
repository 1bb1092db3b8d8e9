/**
 * Runs `kubeplug certify <iface>` as a child process, where the suite must
 * run somewhere this process cannot go: the CRI suite runs on the
 * runtime's node (its network and mount namespaces), as a user on that node
 * would run it. The child's per-case progress lines are relayed into this
 * run's one progress display, and its JSON certificate is read back.
 */
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { exitsWithin } from '../../conformance/peers/child-exit.js';
import { findOnPath } from '../../conformance/peers/system-scan.js';
import { packageRoot } from '../../specs/registry/index.js';
import type { Certificate } from '../report/certificate.js';
import type { TerminalOutput } from '../report/terminal-report.js';

/** What {@link certifyInChild} runs. */
export interface ChildCertifyOptions {
  /** Arguments after `kubeplug` (e.g. `certify cri --runtime-endpoint …`), without --report. */
  readonly args: readonly string[];
  /** Where the child writes its JSON certificate. */
  readonly reportFile: string;
  /** Namespaces to run the child in: a network namespace path and a process whose mount namespace to enter. */
  readonly enter?: { readonly netnsPath: string; readonly mountNamespaceOf: number };
  readonly env: NodeJS.ProcessEnv;
  readonly progress: TerminalOutput;
  /** Aborting stops the child (SIGTERM, then SIGKILL). */
  readonly signal: AbortSignal;
}

/** How the child ended, and its certificate when it wrote one. */
export interface ChildCertifyResult {
  readonly exitCode: number | null;
  readonly certificate?: Certificate;
  /** The child's last output lines, for a message when it wrote no certificate. */
  readonly outputTail: string;
}

/**
 * Relays the child's progress lines: on a terminal a passing case rewrites
 * the one live line and any other outcome is kept, as the in-process
 * display does; elsewhere every line is written as it comes.
 */
function relayLine(progress: TerminalOutput, line: string): void {
  if (!progress.isTTY) {
    progress.write(`${line}\n`);
    return;
  }
  const width = (progress.columns ?? 100) - 1;
  if (/^PASS /.test(line)) progress.write(`\r\x1b[2K${line.slice(0, width)}`);
  else progress.write(`\r\x1b[2K${line}\n`);
}

/** Runs the child to its end (or until aborted) and reads its certificate. */
export async function certifyInChild(options: ChildCertifyOptions): Promise<ChildCertifyResult> {
  const cli = path.join(packageRoot(), 'dist', 'runner', 'cli.js');
  const setpriv = findOnPath('setpriv');
  const own = [...(setpriv === undefined ? [] : [setpriv, '--pdeathsig', 'KILL', '--']), process.execPath, cli, ...options.args, '--report', `json=${options.reportFile}`];
  const argv =
    options.enter === undefined
      ? own
      : ['nsenter', `--mount=/proc/${options.enter.mountNamespaceOf}/ns/mnt`, `--net=${options.enter.netnsPath}`, '--', ...own];
  const child = spawn(argv[0] as string, argv.slice(1), { stdio: ['ignore', 'pipe', 'pipe'], env: options.env, cwd: packageRoot() });
  child.on('error', () => undefined); // seen through the exit code
  let tail = '';
  const keep = (text: string): void => void (tail = (tail + text).slice(-4000));
  let pending = '';
  child.stderr.on('data', (chunk: Buffer) => {
    const text = chunk.toString();
    keep(text);
    pending += text;
    const lines = pending.split('\n');
    pending = lines.pop() ?? '';
    for (const line of lines) relayLine(options.progress, line);
  });
  child.stdout.on('data', (chunk: Buffer) => keep(chunk.toString()));
  const exited = new Promise<number | null>((resolve) => child.once('close', (code) => resolve(code)));
  const stop = (): void => {
    child.kill('SIGTERM');
    void exitsWithin(child, 10_000).then((gone) => {
      if (!gone) child.kill('SIGKILL');
    });
  };
  if (options.signal.aborted) stop();
  else options.signal.addEventListener('abort', stop, { once: true });
  const exitCode = await exited;
  options.signal.removeEventListener('abort', stop);
  if (pending !== '') relayLine(options.progress, pending);
  if (options.progress.isTTY) options.progress.write('\r\x1b[2K');
  let certificate: Certificate | undefined;
  try {
    certificate = JSON.parse(fs.readFileSync(options.reportFile, 'utf8')) as Certificate;
  } catch {
    certificate = undefined;
  }
  return { exitCode, ...(certificate === undefined ? {} : { certificate }), outputTail: tail };
}
