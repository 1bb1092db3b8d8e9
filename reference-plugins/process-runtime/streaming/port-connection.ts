import { spawn } from 'node:child_process';
import net from 'node:net';
import type { Readable } from 'node:stream';

/** A TCP connection to a port in a pod's network namespace, as a byte pipe. */
export interface PortConnection {
  /** Bytes from the port. */
  readonly output: Readable;
  write(data: Buffer): void;
  /** Resolves when the connection is over: undefined when it closed cleanly, else why it failed. */
  readonly closed: Promise<string | undefined>;
  /** Tears the connection down (the client went away); idempotent. */
  destroy(): void;
}

/** Builds the command that relays stdin/stdout to 127.0.0.1:`port` inside the namespace at `netnsPath`. */
export type PortRelayCommand = (o: { netnsPath: string; port: number }) => readonly string[];

const commandPath = '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin';

/**
 * The default relay: `nsenter --net=PATH busybox nc 127.0.0.1 PORT`. Node
 * cannot enter another network namespace itself, so a small process does
 * the connect there and copies bytes over its pipes. busybox nc starts in a
 * few milliseconds, against some 50 ms and 40 MB for a second node.
 */
export const busyboxRelay: PortRelayCommand = ({ netnsPath, port }) => ['nsenter', `--net=${netnsPath}`, '/bin/busybox', 'nc', '127.0.0.1', String(port)];

/**
 * Connects to `port` on the loopback of the namespace at `netnsPath` through
 * the relay command, or directly when `netnsPath` is undefined (a sandbox on
 * the host's network).
 */
export function connectPort(o: { netnsPath: string | undefined; port: number; relay?: PortRelayCommand }): PortConnection {
  if (o.netnsPath === undefined) return connectDirectly(o.port);
  const [file, ...args] = (o.relay ?? busyboxRelay)({ netnsPath: o.netnsPath, port: o.port });
  if (file === undefined) throw new Error('the port relay command is empty');
  const child = spawn(file, args, { stdio: ['pipe', 'pipe', 'pipe'], env: { PATH: commandPath, LC_ALL: 'C' } });
  const errors: Buffer[] = [];
  child.stderr.on('data', (chunk: Buffer) => errors.push(chunk));
  child.stdin.on('error', () => undefined);
  const closed = new Promise<string | undefined>((resolve) => {
    child.once('error', (error) => resolve(`could not start the port relay ${file}: ${error.message}`));
    child.once('close', (code, signal) => {
      const text = Buffer.concat(errors).toString('utf8').trim();
      if (code === 0 || signal === 'SIGKILL') resolve(undefined);
      else resolve(text === '' ? `the port relay exited with ${code ?? signal ?? '?'}` : text);
    });
  });
  return {
    output: child.stdout,
    write: (data) => {
      child.stdin.write(data);
    },
    closed,
    destroy: () => {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    },
  };
}

function connectDirectly(port: number): PortConnection {
  const socket = net.connect({ host: '127.0.0.1', port });
  const closed = new Promise<string | undefined>((resolve) => {
    let failure: string | undefined;
    socket.once('error', (error) => {
      failure = error.message;
    });
    socket.once('close', () => resolve(failure));
  });
  return {
    output: socket,
    write: (data) => {
      socket.write(data);
    },
    closed,
    destroy: () => {
      socket.destroy();
    },
  };
}
