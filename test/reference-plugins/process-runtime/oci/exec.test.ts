import fs from 'node:fs';
import path from 'node:path';
import t from 'tap';
import { OciRuntimeError } from '../../../../reference-plugins/process-runtime/oci/oci-runtime-error.js';
import type { OciSpec } from '../../../../reference-plugins/process-runtime/oci/oci-spec.js';
import { buildExecProcess } from '../../../../reference-plugins/process-runtime/oci/runtime-spec.js';
import { newTestRuntime, runTestContainer, skipReason, startTestSandbox, type TestContainer } from './oci-fixture.js';

const skip = skipReason;

function execProcess(container: TestContainer, args: string[]): ReturnType<typeof buildExecProcess> {
  const spec = JSON.parse(fs.readFileSync(path.join(container.bundle, 'config.json'), 'utf8')) as OciSpec;
  return buildExecProcess(spec.process, args);
}

t.test('exec returns stdout, stderr and the exit code, as the container\'s user in its working dir', { skip }, async (t) => {
  const env = newTestRuntime(t);
  const sandbox = await startTestSandbox(t, env);
  const container = await runTestContainer(t, env, sandbox, { command: ['sleep', '1000'], workingDir: '/tmp', user: { runAsUser: 1000 } });
  const result = await env.runtime.exec(container.id, execProcess(container, ['sh', '-c', 'echo out; pwd; id -u; echo err >&2; exit 3']), {});
  t.equal(result.stdout.toString(), 'out\n/tmp\n1000\n');
  t.equal(result.stderr.toString(), 'err\n');
  t.equal(result.exitCode, 3);
  t.equal(result.timedOut, false);
  const times: number[] = [];
  for (let i = 0; i < 5; i++) {
    const started = process.hrtime.bigint();
    const quick = await env.runtime.exec(container.id, execProcess(container, ['true']), {});
    times.push(Number(process.hrtime.bigint() - started) / 1e6);
    t.equal(quick.exitCode, 0, '`true` exits 0');
  }
  t.comment(`exec of true: ${times.map((ms) => ms.toFixed(1)).join(', ')} ms`);
});

t.test('an exec past its timeout is killed and reports timedOut', { skip }, async (t) => {
  const env = newTestRuntime(t);
  const sandbox = await startTestSandbox(t, env);
  const container = await runTestContainer(t, env, sandbox, { command: ['sleep', '1000'] });
  const started = Date.now();
  const result = await env.runtime.exec(container.id, execProcess(container, ['sh', '-c', 'echo started; exec sleep 1000']), { timeoutMs: 300 });
  const elapsed = Date.now() - started;
  t.equal(result.timedOut, true);
  t.ok(elapsed >= 300 && elapsed < 3000, `returned soon after the timeout (${elapsed} ms)`);
  t.equal(result.stdout.toString(), 'started\n', 'output before the timeout is kept');
  const left = await env.runtime.exec(container.id, execProcess(container, ['ps', '-o', 'pid,stat,args']), {});
  // A killed process may still show as a zombie until the host's init reaps it (its parent, the runtime, is gone too).
  const alive = left.stdout.toString().split('\n').filter((line) => / sleep 1000$/.test(line) && !/^\s*\d+\s+Z/.test(line));
  t.equal(alive.length, 1, 'only the container\'s own sleep is alive: the timed-out one was killed');
});

t.test('exec output past the cap is dropped, and the process still finishes', { skip }, async (t) => {
  const env = newTestRuntime(t);
  const sandbox = await startTestSandbox(t, env);
  const container = await runTestContainer(t, env, sandbox, { command: ['sleep', '1000'] });
  const result = await env.runtime.exec(container.id, execProcess(container, ['head', '-c', '1000000', '/dev/zero']), { maxOutputBytes: 1000 });
  t.equal(result.stdout.length, 1000);
  t.equal(result.exitCode, 0);
});

t.test('exec of a missing binary, or in a missing container, rejects with OciRuntimeError', { skip }, async (t) => {
  const env = newTestRuntime(t);
  const sandbox = await startTestSandbox(t, env);
  const container = await runTestContainer(t, env, sandbox, { command: ['sleep', '1000'] });
  await t.rejects(env.runtime.exec(container.id, execProcess(container, ['/no/such/binary']), {}), OciRuntimeError);
  await t.rejects(env.runtime.exec('no-such-container', execProcess(container, ['true']), {}), OciRuntimeError);
});
