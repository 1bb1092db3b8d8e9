import { spawn } from 'node:child_process';
import type { CaseContext } from '../framework/index.js';
import type { CsiSubject } from './csi-subject.js';
import { probe } from './identity-calls.js';

type Ctx = CaseContext<CsiSubject>;

/** How long the plugin may take to answer Probe again after its restart command returned. */
const readyTimeoutMs = 30_000;

/**
 * Restarts the plugin with the run's `--restart-command` (run by `sh -c`)
 * and waits until every endpoint answers Probe with `ready` not false. A
 * run without the command skips the case; a command that fails or a plugin
 * that does not come back stops it (citing the ids given).
 */
export async function restartPlugin(ctx: Ctx, ids: readonly string[]): Promise<void> {
  const command = ctx.subject.config.restartCommand;
  if (command === undefined) ctx.skip('needs --restart-command');
  const result = await runShell(command, ctx.signal);
  ctx.note(`restart command "${command}" exited with ${result.code}${result.output === '' ? '' : `: ${result.output}`}`);
  ctx.require(result.code === 0, { ids, what: 'the restart command succeeds', expected: 'exit 0', got: result });
  const deadline = Date.now() + readyTimeoutMs;
  for (const endpoint of ctx.subject.endpoints) {
    for (;;) {
      const answer = await probe(ctx, endpoint);
      if (answer.ok && answer.response.ready !== false) break;
      ctx.require(Date.now() < deadline, {
        ids,
        what: `the plugin answers Probe at the ${endpoint.role} endpoint within ${readyTimeoutMs / 1000} s of its restart`,
        expected: 'OK, ready',
        got: answer.ok ? answer.response : `${answer.error.code}: ${answer.error.message}`,
      });
      await new Promise((resolve) => setTimeout(resolve, 200));
    }
  }
}

function runShell(command: string, signal: AbortSignal): Promise<{ code: number | null; output: string }> {
  return new Promise((resolve) => {
    const child = spawn('sh', ['-c', command], { stdio: ['ignore', 'pipe', 'pipe'], signal });
    let output = '';
    const keep = (chunk: Buffer): void => {
      output = (output + chunk.toString('utf8')).slice(-2000);
    };
    child.stdout.on('data', keep);
    child.stderr.on('data', keep);
    child.on('error', (error) => resolve({ code: null, output: error.message }));
    // 'exit', not 'close': a command that starts the plugin in the background leaves it holding the pipes.
    child.on('exit', (code) => {
      child.stdout.destroy();
      child.stderr.destroy();
      resolve({ code, output: output.trim() });
    });
  });
}
