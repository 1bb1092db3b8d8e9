/**
 * How the harness reaches the kubelet's read-only HTTP port, which listens
 * inside the node's network namespace: a small relay started in that
 * namespace accepts on a unix socket (files cross namespaces, sockets bound
 * to an address do not) and carries each connection to 127.0.0.1:PORT there.
 * The machine's own network namespace is never involved.
 */
import { spawn } from 'node:child_process';
import http from 'node:http';
import { stopChild } from '../peers/child-exit.js';

/** The half inside the namespace: accepts on SOCKET, dials HOST:PORT; prints "ready". Arguments: SOCKET HOST PORT. */
const relayProgram = `
const net = require('node:net');
const fs = require('node:fs');
const [socketPath, host, port] = process.argv.slice(1);
try { fs.unlinkSync(socketPath); } catch {}
const server = net.createServer((inbound) => {
  const outbound = net.connect(Number(port), host);
  inbound.pipe(outbound);
  outbound.pipe(inbound);
  for (const [a, b] of [[inbound, outbound], [outbound, inbound]]) {
    a.on('error', () => b.destroy());
    a.on('close', () => b.destroy());
  }
});
server.on('error', (error) => { process.stderr.write(error.message + '\\n'); process.exit(1); });
server.listen(socketPath, () => process.stdout.write('ready\\n'));
process.on('SIGTERM', () => { server.close(); process.exit(0); });
`;

/** A running relay to a port inside a network namespace. */
export interface PortRelay {
  readonly socketPath: string;
  readonly pid: number;
  stop(): Promise<void>;
}

/** Starts the relay: connections to `socketPath` reach `127.0.0.1:port` inside the namespace at `netnsPath`. */
export async function startPortRelay(options: { netnsPath: string; socketPath: string; port: number }): Promise<PortRelay> {
  const child = spawn('nsenter', [`--net=${options.netnsPath}`, '--', process.execPath, '-e', relayProgram, options.socketPath, '127.0.0.1', String(options.port)], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  child.on('error', () => undefined); // reported below through the missing "ready"
  let stderr = '';
  child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  const stop = (): Promise<void> => stopChild(child, 2000, `read-only port relay (${options.socketPath})`);
  const ready = await new Promise<boolean>((resolve) => {
    child.stdout.on('data', (chunk: Buffer) => {
      if (chunk.toString().includes('ready')) resolve(true);
    });
    child.on('exit', () => resolve(false));
  });
  if (!ready || child.pid === undefined) {
    await stop();
    throw new Error(`the relay to port ${options.port} did not start: ${stderr.trim()}`);
  }
  child.unref();
  for (const stream of [child.stdout, child.stderr]) (stream as unknown as { unref(): void }).unref();
  return { socketPath: options.socketPath, pid: child.pid, stop };
}

/** An HTTP answer read whole. */
export interface HttpAnswer {
  readonly status: number;
  readonly body: string;
}

/** GET `path` over the relay's socket; rejects on a connection error or after `timeoutMs`. */
export function httpGetOverSocket(socketPath: string, path: string, timeoutMs = 5000): Promise<HttpAnswer> {
  return httpRequestOverSocket(socketPath, { method: 'GET', path, timeoutMs });
}

/** One request over a unix socket: the method, the path, and a JSON body for POST and PATCH. */
export interface SocketRequest {
  readonly method: 'GET' | 'POST' | 'PATCH';
  readonly path: string;
  readonly body?: unknown;
  /** A body sent exactly as given instead of `body` as JSON (a case sending a malformed request). */
  readonly rawBody?: string;
  /** The body's media type; application/json when unset. */
  readonly contentType?: string;
  /** 5 s when unset. */
  readonly timeoutMs?: number;
}

/** Sends one request over a unix socket (a relay's or a kubelet's --read-only-socket) and reads the answer whole. */
export function httpRequestOverSocket(socketPath: string, request: SocketRequest): Promise<HttpAnswer> {
  const timeoutMs = request.timeoutMs ?? 5000;
  const body = request.rawBody !== undefined ? Buffer.from(request.rawBody) : request.body === undefined ? undefined : Buffer.from(JSON.stringify(request.body));
  const headers: Record<string, string | number> = { host: 'kubelet', accept: 'application/json' };
  if (body !== undefined) Object.assign(headers, { 'content-type': request.contentType ?? 'application/json', 'content-length': body.length });
  return new Promise((resolve, reject) => {
    const sent = http.request({ socketPath, path: request.path, method: request.method, headers, timeout: timeoutMs, agent: false }, (response) => {
      const chunks: Buffer[] = [];
      response.on('data', (chunk: Buffer) => chunks.push(chunk));
      response.on('end', () => resolve({ status: response.statusCode ?? 0, body: Buffer.concat(chunks).toString('utf8') }));
      response.on('error', reject);
    });
    sent.on('timeout', () => sent.destroy(new Error(`${request.method} ${request.path}: no answer within ${timeoutMs} ms`)));
    sent.on('error', reject);
    sent.end(body);
  });
}
