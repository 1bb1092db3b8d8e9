import { spawn } from 'node:child_process';
import { setTimeout as sleep } from 'node:timers/promises';
import { callUnary } from '../../specs/csi/index.js';
import type { CaseContext } from '../framework/index.js';
import type { CsiSubject } from './csi-subject.js';

type Ctx = CaseContext<CsiSubject>;

/** How long the restart command may run, and how long the plugin then has to answer Probe. */
const restartCommandTimeoutMs = 60_000;
const readyTimeoutMs = 30_000;
const probeIntervalMs = 100;

/**
 * Ends the case as skipped unless the run was given `--restart-command`;
 * call it before the case creates anything.
 */
export function requireRestartCommand(ctx: Ctx): string {
  const command = ctx.subject.config.restartCommand;
  if (command === undefined) ctx.skip('needs --restart-command');
  return command;
}

/**
 * Restarts the plugin with the run's command (`sh -c`), then waits until
 * Probe answers ready on every endpoint. A command that fails or a plugin
 * that does not come back is a harness problem, thrown as such.
 */
export async function restartPlugin(ctx: Ctx): Promise<void> {
  const command = requireRestartCommand(ctx);
  const started = performance.now();
  const result = await runShell(command, restartCommandTimeoutMs);
  if (result.code !== 0) throw new Error(`--restart-command exited ${String(result.code)}: ${result.stderr.trim()}`);
  for (const endpoint of ctx.subject.endpoints) {
    const deadline = Date.now() + readyTimeoutMs;
    for (;;) {
      const ready = await callUnary(endpoint.identity, endpoint.identity.probe, {}, { deadline: new Date(Date.now() + 2000) }).then(
        (answer) => answer.ready !== false,
        () => false,
      );
      if (ready) break;
      if (Date.now() > deadline) throw new Error(`the plugin at ${endpoint.endpoint} did not answer Probe within ${readyTimeoutMs} ms of its restart`);
      await sleep(probeIntervalMs);
    }
  }
  ctx.note(`restarted the plugin with --restart-command in ${Math.round(performance.now() - started)} ms`);
}

function runShell(command: string, timeoutMs: number): Promise<{ code: number | null; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn('sh', ['-c', command], { stdio: ['ignore', 'ignore', 'pipe'], timeout: timeoutMs });
    let stderr = '';
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    child.on('error', (error) => resolve({ code: null, stderr: error.message }));
    // 'exit', not 'close': a command that starts the plugin in the background leaves it holding stderr.
    child.on('exit', (code) => {
      child.stderr.destroy();
      resolve({ code, stderr });
    });
  });
}
