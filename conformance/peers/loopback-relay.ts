import { spawn } from 'node:child_process';
import { once } from 'node:events';
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { stopChild } from './child-exit.js';
import { pipeConnections, splitHostPort } from './relay-pipe.js';

/** The compiled relay script; tests run from sources, so it is looked up in dist beside the package's other builds. */
function relayScript(): string {
  const here = path.dirname(fileURLToPath(import.meta.url));
  const beside = path.join(here, 'loopback-relay-main.js');
  if (fs.existsSync(beside)) return beside;
  // Running from TypeScript sources (tap): conformance/peers → dist/conformance/peers.
  return path.join(here, '..', '..', 'dist', 'conformance', 'peers', 'loopback-relay-main.js');
}

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
  const inner = spawn('nsenter', [`--net=${options.netnsPath}`, '--', process.execPath, relayScript(), options.address, options.socketPath], {
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
