import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';

/** What a TCP connection attempt from the node gave. */
export interface TcpProbe {
  readonly connected: boolean;
  /** What the peer sent before closing (up to 1 KiB), when connected. */
  readonly received: string;
  /** The error code (ECONNREFUSED, EHOSTUNREACH, TIMEOUT…) when not connected. */
  readonly error?: string;
}

/**
 * Connects from the node to `host:port`, reads what the peer sends until it
 * closes or `timeoutMs` passes, and reports the outcome (never throws).
 */
export function probeTcp(host: string, port: number, timeoutMs = 3000): Promise<TcpProbe> {
  return new Promise((resolve) => {
    let received = '';
    let connected = false;
    const socket = net.connect({ host, port });
    const finish = (result: TcpProbe): void => {
      clearTimeout(timer);
      socket.destroy();
      resolve(result);
    };
    const timer = setTimeout(() => finish(connected ? { connected, received } : { connected, received, error: 'TIMEOUT' }), timeoutMs);
    socket.on('connect', () => {
      connected = true;
    });
    socket.on('data', (chunk: Buffer) => {
      received = (received + chunk.toString('utf8')).slice(0, 1024);
    });
    socket.on('end', () => finish({ connected, received }));
    socket.on('error', (error: NodeJS.ErrnoException) => finish(connected ? { connected, received } : { connected, received, error: error.code ?? error.message }));
  });
}

/** Repeats {@link probeTcp} until it receives `text` or `timeoutMs` passes; returns the last probe. */
export async function probeUntilReceived(host: string, port: number, text: string, timeoutMs = 10_000): Promise<TcpProbe> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const probe = await probeTcp(host, port, 2000);
    if ((probe.connected && probe.received.includes(text)) || Date.now() > deadline) return probe;
    await new Promise((resolve) => setTimeout(resolve, 250));
  }
}

/** The identity (`net:[inode]`) of a namespace of the suite's own process, the node's as the suite runs there. */
export function ownNamespace(kind: 'net' | 'ipc' | 'uts' | 'pid'): string {
  return fs.readlinkSync(`/proc/self/ns/${kind}`);
}

/** Addresses to reach the node on: loopback first, then its other IPv4 addresses. */
export function nodeAddresses(): string[] {
  const others = Object.values(os.networkInterfaces())
    .flatMap((entries) => entries ?? [])
    .filter((entry) => entry.family === 'IPv4' && !entry.internal)
    .map((entry) => entry.address);
  return ['127.0.0.1', ...others];
}

/** A TCP port from the range the suite uses for host ports, unlikely to be taken. */
export function testHostPort(): number {
  return 30_000 + Math.floor(Math.random() * 2000);
}
