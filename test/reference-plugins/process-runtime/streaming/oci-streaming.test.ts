// Exec and attach sessions against real runc containers (busybox rootfs
// from the OCI layer's fixture), followed with the suite's own WebSocket client.
import fs from 'node:fs';
import t, { type Test } from 'tap';
import { openChannelSocket, readChannels, sendOnChannel } from '../../../../conformance/cri/exec-websocket.js';
import { OciStreamingRuntime } from '../../../../reference-plugins/process-runtime/streaming/oci-streaming-runtime.js';
import { startStreamingServer, type StreamingServer } from '../../../../reference-plugins/process-runtime/streaming/streaming-server.js';
import { newTestRuntime, runTestContainer, skipReason, startTestSandbox, waitUntil, type TestContainer, type TestRuntime } from '../oci/oci-fixture.js';

const skip = skipReason;

/** A server whose runtime knows exactly `container` (running while it has no exit record). */
async function serverFor(t: Test, env: TestRuntime, container: TestContainer): Promise<StreamingServer> {
  const runtime = new OciStreamingRuntime({
    oci: env.runtime,
    attachPollMs: 20,
    findContainer: async (id) =>
      container.id.startsWith(id) ? { id: container.id, running: !fs.existsSync(container.exitFile), bundle: container.bundle, logPath: container.logPath } : undefined,
    findSandbox: async () => undefined,
  });
  const server = await startStreamingServer({ runtime });
  t.teardown(() => server.close());
  return server;
}

async function execSession(server: StreamingServer, containerId: string, cmd: string[], fields: { stdin?: boolean; tty?: boolean; send?: Buffer } = {}) {
  const { url } = await server.requestExec({ containerId, cmd, tty: fields.tty ?? false, stdin: fields.stdin ?? false, stdout: true, stderr: !(fields.tty ?? false) });
  const opened = await openChannelSocket(url, 10_000);
  if (fields.send !== undefined) sendOnChannel(opened.socket, 0, fields.send);
  const session = await readChannels(opened, 20_000);
  const text = (channel: number): string => session.channels.get(channel)?.toString('utf8') ?? '';
  return { session, stdout: text(1), stderr: text(2), status: text(3) };
}

t.test('exec streams stdout and stderr, and reports exit 0 as Success and a non-zero exit with its code', { skip }, async (t) => {
  const env = newTestRuntime(t);
  const sandbox = await startTestSandbox(t, env);
  const container = await runTestContainer(t, env, sandbox, { command: ['sleep', '1000'] });
  const server = await serverFor(t, env, container);
  const ok = await execSession(server, container.id, ['sh', '-c', 'echo out; echo err >&2']);
  t.equal(ok.stdout, 'out\n');
  t.equal(ok.stderr, 'err\n');
  t.equal(ok.status, '{"metadata":{},"status":"Success"}');
  t.equal(ok.session.ended, 'closed');
  const failed = await execSession(server, container.id.slice(0, 12), ['sh', '-c', 'echo streamed-out; echo streamed-err >&2; exit 4']);
  t.equal(failed.stdout, 'streamed-out\n');
  t.equal(failed.stderr, 'streamed-err\n');
  const status = JSON.parse(failed.status) as { status: string; reason: string; message: string; details: { causes: { reason: string; message: string }[] } };
  t.equal(status.status, 'Failure');
  t.equal(status.reason, 'NonZeroExitCode');
  t.same(status.details.causes, [{ reason: 'ExitCode', message: '4' }]);
  t.match(status.message, /^command terminated with non-zero exit code: .*exit code 4$/);
});

t.test("exec passes the client's stdin to the command", { skip }, async (t) => {
  const env = newTestRuntime(t);
  const sandbox = await startTestSandbox(t, env);
  const container = await runTestContainer(t, env, sandbox, { command: ['sleep', '1000'] });
  const server = await serverFor(t, env, container);
  const result = await execSession(server, container.id, ['sh', '-c', 'read line; echo "got:$line"'], { stdin: true, send: Buffer.from('hello stdin\n') });
  t.equal(result.stdout, 'got:hello stdin\n');
  t.equal(result.status, '{"metadata":{},"status":"Success"}');
});

t.test('exec with a terminal runs the command on a tty', { skip }, async (t) => {
  const env = newTestRuntime(t);
  const sandbox = await startTestSandbox(t, env);
  const container = await runTestContainer(t, env, sandbox, { command: ['sleep', '1000'] });
  const server = await serverFor(t, env, container);
  const result = await execSession(server, container.id, ['sh', '-c', 'test -t 1 && echo "tty $TERM"'], { tty: true });
  t.equal(result.stdout.replace(/\r/g, ''), 'tty xterm\n');
  t.equal(result.status, '{"metadata":{},"status":"Success"}');
});

t.test('exec of a missing binary ends with an InternalError status naming the problem', { skip }, async (t) => {
  const env = newTestRuntime(t);
  const sandbox = await startTestSandbox(t, env);
  const container = await runTestContainer(t, env, sandbox, { command: ['sleep', '1000'] });
  const server = await serverFor(t, env, container);
  const result = await execSession(server, container.id, ['/no/such/binary']);
  const status = JSON.parse(result.status) as { status: string; reason: string; message: string; code: number };
  t.equal(status.reason, 'InternalError');
  t.equal(status.code, 500);
  t.match(status.message, /no such file|not found/i);
});

t.test('a client that goes away kills its exec command', { skip }, async (t) => {
  const env = newTestRuntime(t);
  const sandbox = await startTestSandbox(t, env);
  const container = await runTestContainer(t, env, sandbox, { command: ['sleep', '1000'] });
  const server = await serverFor(t, env, container);
  const { url } = await server.requestExec({ containerId: container.id, cmd: ['sh', '-c', 'echo started; exec sleep 777'], tty: false, stdin: false, stdout: true, stderr: true });
  const opened = await openChannelSocket(url, 10_000);
  await readChannels(opened, 20_000, (channel, data, socket) => {
    if (channel === 1 && data.toString().includes('started')) socket.destroy();
  });
  const sleeping = async (): Promise<boolean> => (await env.runtime.exec(container.id, { args: ['ps', '-o', 'args'], cwd: '/', env: ['PATH=/bin'], user: { uid: 0, gid: 0 } })).stdout.toString().includes('sleep 777');
  // Generous: on a loaded machine the kill travels through the shim and runc before ps stops listing it.
  const until = Date.now() + 30_000;
  while (Date.now() < until && (await sleeping())) await new Promise((resolve) => setTimeout(resolve, 200));
  t.notOk(await sleeping(), 'the sleep is gone');
});

t.test('attach relays what the container writes from now on and reports Success when it exits', { skip }, async (t) => {
  const env = newTestRuntime(t);
  const sandbox = await startTestSandbox(t, env);
  const container = await runTestContainer(t, env, sandbox, {
    command: ['sh', '-c', 'echo before; while [ ! -e /tmp/go ]; do sleep 0.05; done; echo attached-out; echo attached-err >&2; printf partial'],
  });
  // Attach relays only what comes after it: wait until the earlier line is in the log, or it may race the follower.
  await waitUntil('"before" is logged', () => fs.existsSync(container.logPath) && fs.readFileSync(container.logPath, 'utf8').includes('before'), 20_000);
  const server = await serverFor(t, env, container);
  const { url } = await server.requestAttach({ containerId: container.id, tty: false, stdin: false, stdout: true, stderr: true });
  const opened = await openChannelSocket(url, 10_000);
  const reading = readChannels(opened, 20_000);
  // Let the follower find the end of the log before the container writes more.
  await new Promise((resolve) => setTimeout(resolve, 300));
  await env.runtime.exec(container.id, { args: ['touch', '/tmp/go'], cwd: '/', env: ['PATH=/bin'], user: { uid: 0, gid: 0 } });
  const session = await reading;
  t.equal(session.channels.get(1)?.toString(), 'attached-out\npartial', 'stdout from the attach on, partial line included');
  t.equal(session.channels.get(2)?.toString(), 'attached-err\n');
  t.equal(session.channels.get(3)?.toString(), '{"metadata":{},"status":"Success"}');
});

t.test('attach input ends the session with a message: containers have no stdin', { skip }, async (t) => {
  const env = newTestRuntime(t);
  const sandbox = await startTestSandbox(t, env);
  const container = await runTestContainer(t, env, sandbox, { command: ['sleep', '1000'] });
  const server = await serverFor(t, env, container);
  const { url } = await server.requestAttach({ containerId: container.id, tty: false, stdin: true, stdout: true, stderr: true });
  const opened = await openChannelSocket(url, 10_000);
  sendOnChannel(opened.socket, 0, Buffer.from('typed\n'));
  const session = await readChannels(opened, 20_000);
  t.match(session.channels.get(3)?.toString() ?? '', /has no stdin/);
  t.equal(session.ended, 'closed');
});
