// The streaming server's request checks, tokens and port forwarding, against
// a runtime stand-in (no containers): port forwarding reaches a busybox
// listener in a network namespace the test creates.
import { spawn, spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import http from 'node:http';
import { setTimeout as sleep } from 'node:timers/promises';
import t, { type Test } from 'tap';
import { openChannelSocket, readChannels } from '../../../../conformance/cri/exec-websocket.js';
import { GrpcStatusError, type ExecRequest } from '../../../../specs/cri/index.js';
import { startStreamingServer, type StreamingServer } from '../../../../reference-plugins/process-runtime/streaming/streaming-server.js';
import type { StreamingRuntime } from '../../../../reference-plugins/process-runtime/streaming/streaming-runtime.js';

const running = 'a'.repeat(64);
const stopped = 'b'.repeat(64);
const readySandbox = 'c'.repeat(64);
const notReadySandbox = 'd'.repeat(64);

/** A runtime that knows one running and one stopped container, one ready and one stopped sandbox; it runs nothing. */
function standInRuntime(netnsPath?: string): StreamingRuntime {
  return {
    findContainer: async (id) => (running.startsWith(id) ? { id: running, running: true } : stopped.startsWith(id) ? { id: stopped, running: false } : undefined),
    findSandbox: async (id) =>
      readySandbox.startsWith(id) ? { id: readySandbox, ready: true, netnsPath } : notReadySandbox.startsWith(id) ? { id: notReadySandbox, ready: false, netnsPath } : undefined,
    execProcess: async () => {
      throw new Error('the stand-in runs no commands');
    },
    attachOutput: async () => {
      throw new Error('the stand-in has no output');
    },
  };
}

async function startServer(t: Test, runtime: StreamingRuntime, tokenTtlMs?: number): Promise<StreamingServer> {
  const server = await startStreamingServer({ runtime, ...(tokenTtlMs === undefined ? {} : { tokenTtlMs }) });
  t.teardown(() => server.close());
  return server;
}


const exec = (fields: Partial<ExecRequest>): ExecRequest => ({ containerId: running, cmd: ['true'], tty: false, stdin: false, stdout: true, stderr: true, ...fields });

const badRequests: { name: string; call: (s: StreamingServer) => Promise<unknown>; code: string; mentions: string }[] = [
  { name: 'Exec without a container ID', call: (s) => s.requestExec(exec({ containerId: '' })), code: 'INVALID_ARGUMENT', mentions: 'container_id' },
  { name: 'Exec without a command', call: (s) => s.requestExec(exec({ cmd: [] })), code: 'INVALID_ARGUMENT', mentions: 'cmd' },
  { name: 'Exec with tty and stderr', call: (s) => s.requestExec(exec({ tty: true })), code: 'INVALID_ARGUMENT', mentions: 'stderr' },
  { name: 'Exec with no stream', call: (s) => s.requestExec(exec({ stdout: false, stderr: false })), code: 'INVALID_ARGUMENT', mentions: 'stdout' },
  { name: 'Exec in an unknown container', call: (s) => s.requestExec(exec({ containerId: 'e'.repeat(64) })), code: 'NOT_FOUND', mentions: 'eeee' },
  { name: 'Exec in a stopped container', call: (s) => s.requestExec(exec({ containerId: stopped })), code: 'FAILED_PRECONDITION', mentions: 'not running' },
  { name: 'Attach without a container ID', call: (s) => s.requestAttach({ containerId: '', tty: false, stdin: false, stdout: true, stderr: false }), code: 'INVALID_ARGUMENT', mentions: 'container_id' },
  { name: 'Attach to a stopped container', call: (s) => s.requestAttach({ containerId: stopped, tty: false, stdin: false, stdout: true, stderr: false }), code: 'FAILED_PRECONDITION', mentions: 'not running' },
  { name: 'Attach to an unknown container', call: (s) => s.requestAttach({ containerId: 'f'.repeat(64), tty: false, stdin: false, stdout: true, stderr: false }), code: 'NOT_FOUND', mentions: 'ffff' },
  { name: 'PortForward without a sandbox ID', call: (s) => s.requestPortForward({ podSandboxId: '', port: [80] }), code: 'INVALID_ARGUMENT', mentions: 'pod_sandbox_id' },
  { name: 'PortForward to port 0', call: (s) => s.requestPortForward({ podSandboxId: readySandbox, port: [0] }), code: 'INVALID_ARGUMENT', mentions: 'port' },
  { name: 'PortForward to port 70000', call: (s) => s.requestPortForward({ podSandboxId: readySandbox, port: [70_000] }), code: 'INVALID_ARGUMENT', mentions: 'port' },
  { name: 'PortForward to an unknown sandbox', call: (s) => s.requestPortForward({ podSandboxId: '0'.repeat(64), port: [80] }), code: 'NOT_FOUND', mentions: '0000' },
  { name: 'PortForward to a sandbox that is not ready', call: (s) => s.requestPortForward({ podSandboxId: notReadySandbox, port: [80] }), code: 'FAILED_PRECONDITION', mentions: 'not ready' },
];

t.test('bad streaming requests are refused with the code of the problem', async (t) => {
  const server = await startServer(t, standInRuntime());
  for (const bad of badRequests) {
    const error = await bad.call(server).then(() => undefined, (e: unknown) => e);
    t.ok(error instanceof GrpcStatusError, `${bad.name}: a GrpcStatusError`);
    if (!(error instanceof GrpcStatusError)) continue;
    t.equal(error.code, bad.code, `${bad.name}: ${bad.code}`);
    t.match(error.message, bad.mentions, `${bad.name}: the message names ${bad.mentions}`);
  }
});

t.test('each call answers a URL on the server, with its own token, for the full ID of a prefix', async (t) => {
  const server = await startServer(t, standInRuntime());
  t.match(server.baseUrl, /^http:\/\/127\.0\.0\.1:\d+$/);
  const first = await server.requestExec(exec({ containerId: running.slice(0, 8) }));
  const second = await server.requestExec(exec({}));
  const attach = await server.requestAttach({ containerId: running, tty: false, stdin: false, stdout: true, stderr: true });
  const forward = await server.requestPortForward({ podSandboxId: readySandbox, port: [80] });
  t.match(first.url, new RegExp(`^${server.baseUrl}/exec/[A-Za-z0-9_-]{16,}$`));
  t.not(first.url, second.url, 'tokens differ');
  t.match(attach.url, `${server.baseUrl}/attach/`);
  t.match(forward.url, `${server.baseUrl}/portforward/`);
});

/** Status and body of a plain GET (no upgrade). */
function plainGet(url: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    http.get(url, (response) => {
      let body = '';
      response.setEncoding('utf8');
      response.on('data', (chunk: string) => (body += chunk));
      response.on('end', () => resolve({ status: response.statusCode ?? 0, body }));
    }).on('error', reject);
  });
}

t.test('a token is single-use: the second upgrade on a URL is refused with 404', async (t) => {
  const server = await startServer(t, standInRuntime());
  const { url } = await server.requestExec(exec({ cmd: ['true'] }));
  const opened = await openChannelSocket(url, 5000);
  // The stand-in cannot run the command: the session ends with an InternalError status.
  const session = await readChannels(opened, 5000);
  t.match(session.channels.get(3)?.toString() ?? '', /"reason":"InternalError"/);
  await t.rejects(openChannelSocket(url, 5000), /HTTP 404/);
});

t.test('a token expires after its time to live', async (t) => {
  const server = await startServer(t, standInRuntime(), 100);
  const { url } = await server.requestExec(exec({}));
  await sleep(200);
  await t.rejects(openChannelSocket(url, 5000), /HTTP 404/);
});

t.test('a request without a WebSocket upgrade, or an unknown path, is refused', async (t) => {
  const server = await startServer(t, standInRuntime());
  const { url } = await server.requestExec(exec({}));
  const plain = await plainGet(url);
  t.equal(plain.status, 400);
  t.match(plain.body, /WebSocket only/);
  t.equal((await plainGet(`${server.baseUrl}/exec/no-such-token`)).status, 404);
  t.equal((await plainGet(`${server.baseUrl}/other`)).status, 404);
  await t.rejects(openChannelSocket(url, 5000), /HTTP 404/, 'the plain GET used the token up');
});

const isRoot = process.getuid?.() === 0;
const netnsSkip = !isRoot ? 'needs root' : spawnSync('nsenter', ['--version']).status !== 0 ? 'needs nsenter' : false;

t.test('port forward reaches a listener on the loopback of the sandbox network namespace', { skip: netnsSkip }, async (t) => {
  const name = `kubeplug-stream-${randomBytes(4).toString('hex')}`;
  t.equal(spawnSync('ip', ['netns', 'add', name]).status, 0, 'netns created');
  t.teardown(() => {
    spawnSync('ip', ['netns', 'delete', name]);
  });
  t.equal(spawnSync('ip', ['-n', name, 'link', 'set', 'lo', 'up']).status, 0, 'loopback up');
  const port = 8080;
  const listener = spawn('ip', ['netns', 'exec', name, '/bin/busybox', 'sh', '-c', `echo pf-reached | /bin/busybox nc -l -p ${port}`], { stdio: 'ignore' });
  t.teardown(() => {
    if (listener.exitCode === null && listener.signalCode === null) listener.kill('SIGKILL');
  });
  for (let attempt = 0; attempt < 50; attempt += 1) {
    if (spawnSync('ip', ['netns', 'exec', name, '/bin/busybox', 'netstat', '-ltn'], { encoding: 'utf8' }).stdout.includes(`:${port} `)) break;
    await sleep(100);
  }
  const server = await startServer(t, standInRuntime(`/run/netns/${name}`));
  const { url } = await server.requestPortForward({ podSandboxId: readySandbox, port: [port] });
  const started = Date.now();
  const opened = await openChannelSocket(url, 5000);
  t.equal(opened.protocol, 'v4.channel.k8s.io', 'the v4 channel protocol is negotiated');
  let received = Buffer.alloc(0);
  const session = await readChannels(opened, 10_000, (channel, data) => {
    if (channel === 0) received = Buffer.concat([received, data]);
  });
  t.comment(`port forward session: ${Date.now() - started} ms`);
  const data = session.channels.get(0) ?? Buffer.alloc(0);
  t.equal(data.readUInt16LE(0), port, 'the data channel opens with the port');
  t.equal(session.channels.get(1)?.readUInt16LE(0), port, 'the error channel opens with the port');
  t.equal(data.subarray(2).toString(), 'pf-reached\n', "the listener's bytes arrive");
  t.equal(session.channels.get(1)?.length, 2, 'no error');
  t.equal(session.ended, 'closed', 'the server closes the session when the listener hangs up');
});

t.test('port forward to a port nobody listens on reports the failure on the error channel', { skip: netnsSkip }, async (t) => {
  const name = `kubeplug-stream-${randomBytes(4).toString('hex')}`;
  t.equal(spawnSync('ip', ['netns', 'add', name]).status, 0, 'netns created');
  t.teardown(() => {
    spawnSync('ip', ['netns', 'delete', name]);
  });
  spawnSync('ip', ['-n', name, 'link', 'set', 'lo', 'up']);
  const server = await startServer(t, standInRuntime(`/run/netns/${name}`));
  const { url } = await server.requestPortForward({ podSandboxId: readySandbox, port: [9] });
  const session = await readChannels(await openChannelSocket(url, 5000), 10_000);
  const errors = session.channels.get(1)?.subarray(2).toString() ?? '';
  t.match(errors, new RegExp(`error forwarding port 9 to pod ${readySandbox}, uid : .*(refused|connect)`, 'i'));
  t.equal(session.ended, 'closed');
});
