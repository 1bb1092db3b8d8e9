import { spawn } from 'node:child_process';
import type { CaseContext } from '../framework/index.js';
import type { CniSubject } from './cni-subject.js';
import type { NetworkNamespace } from './network-namespaces.js';

// An agent that has not said it is ready by then is broken; one that ignores SIGTERM that long is killed.
const readyTimeoutMs = 15_000;
const stopGraceMs = 5_000;

/**
 * Starts the subject's node agent (a resident per-node process some plugins
 * need, as Calico's and Cilium's do) inside a node namespace the case made,
 * and stops it, by its pid, when the case ends. The agent is ready when it
 * prints its first line on stdout. Its stop is registered before it starts
 * serving, so it runs whatever the case does.
 */
export async function startNodeAgent(ctx: CaseContext<CniSubject>, namespace: NetworkNamespace, argv: readonly string[]): Promise<void> {
  const [command, ...args] = argv;
  if (command === undefined) throw new Error('the node agent command is empty');
  const child = spawn('nsenter', [`--net=${namespace.path}`, '--', command, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  const stderr: string[] = [];
  child.stderr.setEncoding('utf8').on('data', (chunk: string) => {
    // Keep the tail only: an agent logs a line per call.
    stderr.push(chunk);
    if (stderr.length > 50) stderr.shift();
  });
  ctx.defer(() => stopAgent(child), `stop the node agent (pid ${child.pid}) in ${namespace.name}`);
  await new Promise<void>((resolve, reject) => {
    let stdout = '';
    const timer = setTimeout(() => fail(`did not print a ready line within ${readyTimeoutMs / 1000} s`), readyTimeoutMs);
    function fail(why: string): void {
      clearTimeout(timer);
      reject(new Error(`node agent "${argv.join(' ')}" ${why}: ${stderr.join('').trim().slice(-2000)}`));
    }
    child.once('error', (error) => fail(`could not start (${error.message})`));
    child.once('exit', (code, signal) => fail(`exited (${signal ?? `status ${code}`}) before it was ready`));
    child.stdout.setEncoding('utf8').on('data', (chunk: string) => {
      stdout += chunk;
      if (!stdout.includes('\n')) return;
      clearTimeout(timer);
      child.removeAllListeners('exit');
      resolve();
    });
  });
  // Drain what the agent prints afterwards so it never blocks on a full pipe.
  child.stdout.resume();
}

async function stopAgent(child: ReturnType<typeof spawn>): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  child.kill('SIGTERM');
  const timer = setTimeout(() => child.kill('SIGKILL'), stopGraceMs);
  await exited;
  clearTimeout(timer);
}
