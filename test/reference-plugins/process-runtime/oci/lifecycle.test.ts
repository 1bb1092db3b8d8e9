import fs from 'node:fs';
import t from 'tap';
import { OciRuntimeError } from '../../../../reference-plugins/process-runtime/oci/oci-runtime-error.js';
import { newTestRuntime, readCriLog, runTestContainer, skipReason, startTestSandbox, waitForExit, waitUntil } from './oci-fixture.js';

const skip = skipReason;

t.test('a created container waits in state "created" and runs when started, writing its output to the CRI log', { skip }, async (t) => {
  const env = newTestRuntime(t);
  const sandbox = await startTestSandbox(t, env);
  t.equal((await env.runtime.state(sandbox.id))?.status, 'running', 'the pause sandbox runs');
  const container = await runTestContainer(t, env, sandbox, { command: ['sh', '-c', 'echo hello; echo oops >&2'], start: false });
  const created = await env.runtime.state(container.id);
  t.equal(created?.status, 'created', 'state is "created" when create resolves');
  t.equal(created?.pid, container.pid, 'create resolves with the init pid the runtime reports');
  t.notOk(fs.existsSync(container.exitFile), 'no exit record before the container ran');
  await env.runtime.start(container.id);
  const exit = await waitForExit(container);
  t.equal(exit.exitCode, 0, 'exit code 0');
  t.equal(exit.signal, undefined, 'no signal');
  t.equal(exit.oomKills, 0, 'no OOM kill');
  t.ok(exit.finishedAtNs > BigInt(Date.now() - 60_000) * 1_000_000n, 'finishedAtNs is a recent epoch time in ns');
  const records = readCriLog(container.logPath);
  t.same(
    records.map(({ stream, tag, text }) => [stream, tag, text]).sort(),
    [['stderr', 'F', 'oops'], ['stdout', 'F', 'hello']],
    'one full line per stream',
  );
  for (const record of records) t.match(record.time, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d{1,9})?Z$/, 'the timestamp is RFC 3339 with nanoseconds');
  t.equal((await env.runtime.state(container.id))?.status, 'stopped', 'the runtime reports it stopped');
  t.notOk(fs.existsSync(container.shimPidFile), 'the shim removed its pid file when it exited');
});

t.test('the exit record carries a non-zero exit code', { skip }, async (t) => {
  const env = newTestRuntime(t);
  const sandbox = await startTestSandbox(t, env);
  const container = await runTestContainer(t, env, sandbox, { command: ['sh', '-c', 'exit 7'] });
  t.equal((await waitForExit(container)).exitCode, 7);
});

t.test('a container killed with SIGKILL exits 137 with signal 9; kill of a stopped or unknown container succeeds', { skip }, async (t) => {
  const env = newTestRuntime(t);
  const sandbox = await startTestSandbox(t, env);
  const container = await runTestContainer(t, env, sandbox, { command: ['sleep', '1000'] });
  t.equal((await env.runtime.state(container.id))?.status, 'running');
  await env.runtime.kill(container.id, 'SIGKILL');
  const exit = await waitForExit(container);
  t.equal(exit.exitCode, 137, '128 + 9');
  t.equal(exit.signal, 9);
  await env.runtime.kill(container.id, 'SIGKILL');
  t.pass('kill of a stopped container is no error');
  await env.runtime.kill('no-such-container', 'SIGTERM');
  t.pass('kill of an unknown container is no error');
});

t.test('SIGTERM stops a shell that traps it, with the code the trap chose', { skip }, async (t) => {
  const env = newTestRuntime(t);
  const sandbox = await startTestSandbox(t, env);
  const container = await runTestContainer(t, env, sandbox, { command: ['sh', '-c', 'trap "exit 42" TERM; echo ready; while true; do sleep 0.05; done'] });
  const deadline = Date.now() + 5000;
  while (readCriLog(container.logPath).length === 0 && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 10));
  await env.runtime.kill(container.id, 'TERM');
  t.equal((await waitForExit(container)).exitCode, 42);
});

t.test('delete removes a stopped container, is idempotent, and --force removes a running one', { skip }, async (t) => {
  const env = newTestRuntime(t);
  const sandbox = await startTestSandbox(t, env);
  const done = await runTestContainer(t, env, sandbox, { command: ['true'] });
  await waitForExit(done);
  await env.runtime.delete(done.id);
  t.equal(await env.runtime.state(done.id), undefined, 'gone after delete');
  await env.runtime.delete(done.id);
  t.pass('a second delete is no error');
  const running = await runTestContainer(t, env, sandbox, { command: ['sleep', '1000'] });
  await t.rejects(env.runtime.delete(running.id), OciRuntimeError, 'delete without force refuses a running container');
  await env.runtime.delete(running.id, true);
  t.equal(await env.runtime.state(running.id), undefined, 'gone after delete --force');
  t.equal((await waitForExit(running)).exitCode, 137, 'the forced delete killed it');
  const ids = (await env.runtime.list()).map((entry) => entry.id);
  t.same(ids, [sandbox.id], 'list shows only the sandbox');
});

t.test('a create that the runtime refuses rejects with its message and leaves no shim', { skip }, async (t) => {
  const env = newTestRuntime(t);
  const sandbox = await startTestSandbox(t, env);
  const error = await runTestContainer(t, env, sandbox, { command: ['/no/such/binary'] }).then(
    () => undefined,
    (caught: unknown) => caught,
  );
  // runc checks the executable at create time; crun may only fail at start.
  t.type(error, OciRuntimeError, 'create rejects with OciRuntimeError');
  t.match((error as OciRuntimeError).message, /no such file|not found/i, 'the message is the runtime\'s');
});

t.test('create, start and exit of `true` through the shim, timed', { skip }, async (t) => {
  const env = newTestRuntime(t);
  const sandbox = await startTestSandbox(t, env);
  const times: string[] = [];
  for (let i = 0; i < 5; i++) {
    const started = process.hrtime.bigint();
    const container = await runTestContainer(t, env, sandbox, { command: ['true'], start: false });
    const created = process.hrtime.bigint();
    await env.runtime.start(container.id);
    t.equal((await waitForExit(container)).exitCode, 0);
    const exited = process.hrtime.bigint();
    await env.runtime.delete(container.id);
    const deleted = process.hrtime.bigint();
    const ms = (from: bigint, to: bigint): string => (Number(to - from) / 1e6).toFixed(1);
    times.push(`create ${ms(started, created)} (incl. overlay mount) + start→exit ${ms(created, exited)} + delete ${ms(exited, deleted)} ms`);
  }
  t.comment(times.join('\n'));
});

t.test('eight containers created and run at once each get their own pid, log and exit record', { skip }, async (t) => {
  const env = newTestRuntime(t);
  const sandbox = await startTestSandbox(t, env);
  const containers = await Promise.all(
    Array.from({ length: 8 }, (_, index) => runTestContainer(t, env, sandbox, { command: ['sh', '-c', `echo container ${index}; exit ${index}`] })),
  );
  t.equal(new Set(containers.map((container) => container.pid)).size, 8, 'eight distinct init pids');
  const exits = await Promise.all(containers.map((container) => waitForExit(container)));
  t.same(exits.map((exit) => exit.exitCode), [0, 1, 2, 3, 4, 5, 6, 7], 'each its own exit code');
  t.same(containers.map((container) => readCriLog(container.logPath).map(({ text }) => text)), containers.map((_, index) => [`container ${index}`]), 'each its own log');
});

t.test('kill with all signals every process of a container that shares the pod\'s PID namespace', { skip }, async (t) => {
  const env = newTestRuntime(t);
  const sandbox = await startTestSandbox(t, env);
  // The init traps TERM and stays; its background child would outlive it in a shared PID namespace.
  const container = await runTestContainer(t, env, sandbox, { command: ['sh', '-c', 'trap "" TERM; sleep 1000 & echo $!; wait'] });
  await waitUntil('the child\'s pid is logged', () => readCriLog(container.logPath).length > 0);
  await env.runtime.kill(container.id, 'KILL', true);
  t.equal((await waitForExit(container)).exitCode, 137, 'the init was killed');
  // A killed orphan is the pause process's child until it reaps it, which takes a moment.
  const children = (): string => fs.readFileSync(`/proc/${sandbox.pid}/task/${sandbox.pid}/children`, 'utf8').trim();
  await waitUntil('the pause process has no child left', () => children() === '', 2000);
  t.pass('no process of the container was left to the pause process');
});
