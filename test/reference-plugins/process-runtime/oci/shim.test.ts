import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { createInterface } from 'node:readline';
import t from 'tap';
import { shimBinary } from '../../../../reference-plugins/process-runtime/oci/binaries.js';
import { isShimRunning, readShimPid, reopenShimLog } from '../../../../reference-plugins/process-runtime/oci/shim-process.js';
import {
  cleanup, newTestRuntime, prepareTestContainer, readCriLog, runTestContainer, skipReason, startTestSandbox, waitForExit, waitUntil,
} from './oci-fixture.js';

const skip = skipReason;

t.test('lines longer than 16 KiB are split into partial records, and output without a final newline ends partial', { skip }, async (t) => {
  const env = newTestRuntime(t);
  const sandbox = await startTestSandbox(t, env);
  const script = 'head -c 20000 /dev/zero | tr "\\0" a; echo; head -c 40000 /dev/zero | tr "\\0" b';
  const container = await runTestContainer(t, env, sandbox, { command: ['sh', '-c', script] });
  t.equal((await waitForExit(container)).exitCode, 0);
  const records = readCriLog(container.logPath).map(({ tag, text }) => [tag, text.length, text[0]]);
  t.same(records, [
    ['P', 16384, 'a'], ['F', 3616, 'a'],
    ['P', 16384, 'b'], ['P', 16384, 'b'], ['P', 7232, 'b'],
  ]);
});

t.test('an empty line is a full record with empty text', { skip }, async (t) => {
  const env = newTestRuntime(t);
  const sandbox = await startTestSandbox(t, env);
  const container = await runTestContainer(t, env, sandbox, { command: ['sh', '-c', 'echo; echo x'] });
  await waitForExit(container);
  t.same(readCriLog(container.logPath).map(({ tag, text }) => [tag, text]), [['F', ''], ['F', 'x']]);
});

t.test('after the log is renamed, SIGUSR1 makes the shim write to a new file at the path', { skip }, async (t) => {
  const env = newTestRuntime(t);
  const sandbox = await startTestSandbox(t, env);
  const container = await runTestContainer(t, env, sandbox, { command: ['sh', '-c', 'i=0; while true; do i=$((i+1)); echo line $i; sleep 0.02; done'] });
  await waitUntil('the first lines are logged', () => readCriLog(container.logPath).length >= 3);
  const rotated = `${container.logPath}.1`;
  fs.renameSync(container.logPath, rotated);
  await reopenShimLog(container.shimPidFile, container.logPath);
  t.ok(fs.existsSync(container.logPath), 'the log path exists again when reopenShimLog resolves');
  await waitUntil('new lines reach the new file', () => readCriLog(container.logPath).length >= 3);
  await env.runtime.kill(container.id, 'KILL');
  await waitForExit(container);
  const numbers = [...readCriLog(rotated), ...readCriLog(container.logPath)].map(({ text }) => Number(text.split(' ')[1]));
  t.same(numbers, numbers.map((_, index) => index + 1), 'no line is lost or repeated across the two files');
});

t.test('without a shim, reopenShimLog is a no-op and isShimRunning is false', async (t) => {
  await reopenShimLog('/nonexistent/shim.pid');
  t.equal(await isShimRunning('/nonexistent/shim.pid'), false);
});

t.test('the shim outlives the process that started it and holds none of its fds', { skip }, async (t) => {
  const env = newTestRuntime(t);
  const sandbox = await startTestSandbox(t, env);
  const files = await prepareTestContainer(t, env, sandbox, { command: ['sleep', '1000'] });
  const marker = path.join(env.root, 'parent-fd-marker');
  const pidFile = path.join(files.bundle, 'init.pid');
  // A shell with an extra open fd (7) starts the shim, then becomes `sleep` until we kill it.
  const shimArgs = [
    '--runtime', '/usr/sbin/runc', '--runtime-root', path.join(env.root, 'oci'), '--bundle', files.bundle, '--id', files.id,
    '--exit-file', files.exitFile, '--pid-file', pidFile, '--shim-pid-file', files.shimPidFile, '--log-path', files.logPath, '--status-fd', '3',
  ];
  const parent = spawn('sh', ['-c', 'exec 7>"$0"; "$@" 3>&1; exec sleep 1000', marker, shimBinary, ...shimArgs], { stdio: ['ignore', 'pipe', 'inherit'] });
  cleanup(t, () => parent.kill('SIGKILL'));
  const status = await new Promise<string>((resolve) => createInterface({ input: parent.stdout }).once('line', resolve));
  t.match(status, /^ok \d+$/, 'the shim answered ok');
  parent.kill('SIGKILL');
  await new Promise((resolve) => parent.once('exit', resolve));
  const shimPid = await readShimPid(files.shimPidFile);
  t.ok(shimPid !== undefined && fs.existsSync(`/proc/${shimPid}`), 'the shim still runs after its parent was SIGKILLed');
  t.equal(await isShimRunning(files.shimPidFile), true, 'isShimRunning says so');
  const targets = fs.readdirSync(`/proc/${shimPid}/fd`).map((fd) => fs.readlinkSync(`/proc/${shimPid}/fd/${fd}`));
  t.notOk(targets.includes(marker), 'the parent\'s extra fd was closed');
  t.notOk(targets.some((target) => /socket:/.test(target)), 'no socket of the parent');
  const sessionOf = (pid: number | 'self'): string | undefined => fs.readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]?.split(' ')[3];
  t.not(sessionOf(shimPid!), sessionOf('self'), 'the shim is in a session of its own');
  t.not(sessionOf(shimPid!), String(shimPid), 'but does not lead it, so it can never take a controlling terminal');
  await env.runtime.start(files.id);
  t.equal((await env.runtime.state(files.id))?.status, 'running');
  await env.runtime.kill(files.id, 'SIGTERM');
  t.equal((await waitForExit(files)).exitCode, 143, 'the shim still records the exit');
  await waitUntil('the shim has exited', async () => !(await isShimRunning(files.shimPidFile)));
  t.notOk(fs.existsSync(files.shimPidFile), 'and removes its pid file when it exits');
});

t.test('a stale shim pid file naming another process is never signalled', async (t) => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'kubeplug-shim-pid-'));
  t.teardown(() => fs.rmSync(dir, { recursive: true, force: true }));
  const stale = path.join(dir, 'shim.pid');
  fs.writeFileSync(stale, `${process.pid}\n`); // this test process: not a kubeplug-shim
  t.equal(await isShimRunning(stale), false, 'not taken for a running shim');
  await reopenShimLog(stale);
  t.pass('SIGUSR1 was not sent (it would have ended this process)');
});
