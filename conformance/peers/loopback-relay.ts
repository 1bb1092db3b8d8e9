import { spawn } from 'node:child_process';
import { once } from 'node:events';
import net from 'node:net';
import { stopChild } from './child-exit.js';
import { pipeConnections, splitHostPort } from './relay-pipe.js';

/**
 * The half that runs inside the namespace, as a `node -e` program so it runs
 * the same from dist and from the TypeScript sources tests import: accepts
 * on HOST:PORT and carries each connection to SOCKET; prints "ready".
 * Arguments: HOST PORT SOCKET.
 */
const innerRelayProgram = `
const net = require('node:net');
const [host, port, socketPath] = process.argv.slice(1);
const server = net.createServer((inbound) => {
  const outbound = net.connect(socketPath);
  inbound.pipe(outbound);
  outbound.pipe(inbound);
  for (const [a, b] of [[inbound, outbound], [outbound, inbound]]) {
    a.on('error', () => b.destroy());
    a.on('close', () => b.destroy());
  }
});
server.on('error', (error) => { process.stderr.write(error.message + '\\n'); process.exit(1); });
server.listen(Number(port), host, () => process.stdout.write('ready\\n'));
process.on('SIGTERM', () => process.exit(0));
`;

/** A running relay; `stop` closes both halves. */
export interface LoopbackRelay {
  readonly address: string;
  /** The in-namespace half's pid. */
  readonly pid: number;
  stop(): Promise<void>;
}

/**
 * Makes `address` (HOST:PORT on the machine's loopback, e.g. a test
 * registry) reachable at the same HOST:PORT inside the network namespace at
 * `netnsPath`, whose own loopback is a different one. Two halves joined by a
 * unix socket (files cross namespaces, sockets do not): this process accepts
 * on the socket and dials the machine's address; a small process started
 * inside the namespace accepts on its loopback and dials the socket.
 */
export async function startLoopbackRelay(options: { address: string; netnsPath: string; socketPath: string }): Promise<LoopbackRelay> {
  const { host, port } = splitHostPort(options.address);
  const outer = net.createServer((inbound) => pipeConnections(inbound, net.connect(port, host)));
  outer.listen(options.socketPath);
  await once(outer, 'listening');
  const closeOuter = async (): Promise<void> => {
    if (!outer.listening) return;
    outer.close();
    await once(outer, 'close');
  };
  // Unref'd so a relay never keeps its caller's process alive by itself.
  outer.unref();
  const inner = spawn('nsenter', [`--net=${options.netnsPath}`, '--', process.execPath, '-e', innerRelayProgram, host, String(port), options.socketPath], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  inner.on('error', () => undefined); // reported below through the missing "ready"
  let stderr = '';
  inner.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  const stop = async (): Promise<void> => {
    try {
      await stopChild(inner, 2000, `loopback relay for ${options.address}`);
    } finally {
      await closeOuter();
    }
  };
  const ready = await new Promise<boolean>((resolve) => {
    inner.stdout.on('data', (chunk: Buffer) => {
      if (chunk.toString().includes('ready')) resolve(true);
    });
    inner.on('exit', () => resolve(false));
  });
  if (!ready || inner.pid === undefined) {
    await stop();
    throw new Error(`the loopback relay for ${options.address} did not start: ${stderr.trim()}`);
  }
  inner.unref();
  for (const stream of [inner.stdout, inner.stderr]) (stream as net.Socket).unref();
  return { address: options.address, pid: inner.pid, stop };
}
