// The WebSocket and channel layers, with a raw client: subprotocol choice,
// v5's stdin CLOSE, base64 channels, pings, fragments and unmasked frames.
// The stand-in runtime runs commands on the host, not in a container.
import { spawn } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import http from 'node:http';
import type { Socket } from 'node:net';
import t, { type Test } from 'tap';
import { readChannels } from '../../../../conformance/cri/exec-websocket.js';
import { startStreamingServer, type StreamingServer } from '../../../../reference-plugins/process-runtime/streaming/streaming-server.js';
import type { StreamingRuntime } from '../../../../reference-plugins/process-runtime/streaming/streaming-runtime.js';
import { decodeFrames, encodeFrame } from '../../../../reference-plugins/process-runtime/streaming/websocket-frames.js';

const containerId = '1'.repeat(64);

/** Runs the command on the host with pipes; enough to exercise the protocol. */
const hostRuntime: StreamingRuntime = {
  findContainer: async (id) => (containerId.startsWith(id) ? { id: containerId, running: true } : undefined),
  findSandbox: async () => undefined,
  execProcess: async (_id, cmd, o) => {
    const [file, ...args] = cmd as [string, ...string[]];
    const child = spawn(file, args, { stdio: [o.stdin ? 'pipe' : 'ignore', 'pipe', 'pipe'] });
    const exited = new Promise<number>((resolve) => child.once('close', (code) => resolve(code ?? 128)));
    return { stdin: child.stdin, stdout: child.stdout!, stderr: child.stderr!, exited, kill: () => child.kill('SIGKILL') };
  },
  attachOutput: async () => {
    throw new Error('no attach here');
  },
};

async function startServer(t: Test): Promise<StreamingServer> {
  const server = await startStreamingServer({ runtime: hostRuntime });
  t.teardown(() => server.close());
  return server;
}

/** A masked client frame, optionally not final (a fragment) or unmasked (a protocol error). */
function clientFrame(opcode: number, payload: Buffer, o: { fin?: boolean; masked?: boolean } = {}): Buffer {
  const masked = o.masked ?? true;
  const plain = encodeFrame(opcode, payload);
  const header = Buffer.from(plain.subarray(0, plain.length - payload.length));
  if (o.fin === false) header[0] = (header[0] ?? 0) & 0x7f;
  if (!masked) return Buffer.concat([header, payload]);
  header[1] = (header[1] ?? 0) | 0x80;
  const mask = randomBytes(4);
  return Buffer.concat([header, mask, Buffer.from(payload.map((byte, index) => byte ^ (mask[index % 4] ?? 0)))]);
}

/** Opens a WebSocket offering `protocols`; resolves with the socket and the chosen protocol, or the HTTP refusal status. */
function open(url: string, protocols: string[]): Promise<{ socket: Socket; head: Buffer; protocol: string } | { status: number }> {
  const key = randomBytes(16).toString('base64');
  return new Promise((resolve, reject) => {
    const request = http.request(url, {
      headers: { Connection: 'Upgrade', Upgrade: 'websocket', 'Sec-WebSocket-Version': '13', 'Sec-WebSocket-Key': key, ...(protocols.length > 0 ? { 'Sec-WebSocket-Protocol': protocols.join(', ') } : {}) },
    });
    request.on('upgrade', (response, socket, head) => {
      const accept = createHash('sha1').update(`${key}258EAFA5-E914-47DA-95CA-C5AB0DC85B11`).digest('base64');
      if (response.headers['sec-websocket-accept'] !== accept) reject(new Error('bad Sec-WebSocket-Accept'));
      resolve({ socket, head, protocol: String(response.headers['sec-websocket-protocol'] ?? '') });
    });
    request.on('response', (response) => {
      response.resume();
      resolve({ status: response.statusCode ?? 0 });
    });
    request.on('error', reject);
    request.end();
  });
}

async function execUrl(server: StreamingServer, cmd: string[], stdin = false): Promise<string> {
  return (await server.requestExec({ containerId, cmd, tty: false, stdin, stdout: true, stderr: true })).url;
}

t.test('the first offered subprotocol the server speaks is chosen; none it speaks is refused with 400', async (t) => {
  const server = await startServer(t);
  const chosen = await open(await execUrl(server, ['true']), ['x.unknown', 'v5.channel.k8s.io', 'v4.channel.k8s.io']);
  t.equal('protocol' in chosen ? chosen.protocol : chosen.status, 'v5.channel.k8s.io');
  if ('socket' in chosen) chosen.socket.destroy();
  const refused = await open(await execUrl(server, ['true']), ['x.unknown']);
  t.equal('status' in refused ? refused.status : refused.protocol, 400);
});

t.test("v5: the client's CLOSE of channel 0 ends the command's stdin", async (t) => {
  const server = await startServer(t);
  const opened = await open(await execUrl(server, ['cat'], true), ['v5.channel.k8s.io']);
  if (!('socket' in opened)) throw new Error(`refused: ${opened.status}`);
  opened.socket.write(clientFrame(0x2, Buffer.concat([Buffer.from([0]), Buffer.from('through cat\n')])));
  opened.socket.write(clientFrame(0x2, Buffer.from([255, 0])));
  const session = await readChannels(opened, 10_000);
  t.equal(session.channels.get(1)?.toString(), 'through cat\n');
  t.equal(session.channels.get(3)?.toString(), '{"metadata":{},"status":"Success"}');
});

t.test('v4.base64: channels are ASCII digits and data is base64, in text frames', async (t) => {
  const server = await startServer(t);
  const opened = await open(await execUrl(server, ['sh', '-c', 'printf "\\001\\377"; exit 3']), ['v4.base64.channel.k8s.io']);
  if (!('socket' in opened)) throw new Error(`refused: ${opened.status}`);
  const chunks: Buffer[] = [];
  opened.socket.on('data', (chunk: Buffer) => chunks.push(chunk));
  await new Promise((resolve) => opened.socket.once('close', resolve));
  const frames = decodeFrames(Buffer.concat([opened.head, ...chunks]), 1 << 20).frames;
  const messages = frames.filter((frame) => frame.opcode === 0x1).map((frame) => frame.payload.toString('latin1'));
  t.ok(frames.every((frame) => frame.opcode === 0x1 || frame.opcode === 0x8), 'text frames, then close');
  const stdout = messages.filter((m) => m.startsWith('1')).map((m) => Buffer.from(m.slice(1), 'base64'));
  t.same(Buffer.concat(stdout), Buffer.from([1, 255]));
  const status = messages.find((m) => m.startsWith('3'));
  t.match(Buffer.from(status?.slice(1) ?? '', 'base64').toString(), /"reason":"ExitCode","message":"3"/);
});

t.test('pings are answered, fragments are joined, and an unmasked frame closes the connection with 1002', async (t) => {
  const server = await startServer(t);
  const opened = await open(await execUrl(server, ['sh', '-c', 'read a; echo "$a"'], true), ['v4.channel.k8s.io']);
  if (!('socket' in opened)) throw new Error(`refused: ${opened.status}`);
  const received: Buffer[] = [];
  opened.socket.on('data', (chunk: Buffer) => received.push(chunk));
  opened.socket.write(clientFrame(0x9, Buffer.from('are you there')));
  opened.socket.write(clientFrame(0x2, Buffer.from([0, 0x66]), { fin: false }));
  opened.socket.write(clientFrame(0x0, Buffer.from('rag\n')));
  await new Promise((resolve) => opened.socket.once('close', resolve));
  const frames = decodeFrames(Buffer.concat([opened.head, ...received]), 1 << 20).frames;
  t.ok(frames.some((f) => f.opcode === 0xa && f.payload.toString() === 'are you there'), 'pong with the ping payload');
  t.ok(frames.some((f) => f.opcode === 0x2 && f.payload.toString() === '\u0001frag\n'), 'the joined fragments reached stdin');

  const second = await open(await execUrl(server, ['sleep', '5']), ['v4.channel.k8s.io']);
  if (!('socket' in second)) throw new Error(`refused: ${second.status}`);
  const bytes: Buffer[] = [];
  second.socket.on('data', (chunk: Buffer) => bytes.push(chunk));
  second.socket.write(clientFrame(0x2, Buffer.from([0, 1]), { masked: false }));
  await new Promise((resolve) => second.socket.once('close', resolve));
  const close = decodeFrames(Buffer.concat([second.head, ...bytes]), 1 << 20).frames.find((f) => f.opcode === 0x8);
  t.equal(close?.payload.readUInt16BE(0), 1002);
});
