import fs from 'node:fs/promises';
import net from 'node:net';
import path from 'node:path';
import { Server, ServerCredentials, type ServiceDefinition, type UntypedServiceImplementation } from '@grpc/grpc-js';
import { grpcTargetOf, socketPathOf } from './endpoint.js';
import {
  toGrpcHandlers,
  type AsyncServiceImplementation,
  type InternalErrorListener,
  type ServiceDefinitionLike,
} from './unary-handlers.js';

/** One service to put on a server: its definition and its handlers. */
export interface ServiceBinding {
  readonly definition: ServiceDefinitionLike;
  readonly handlers: UntypedServiceImplementation;
}

/**
 * Pairs a generated service definition with async handlers, checked against
 * the definition's request and response types.
 */
export function bindService<D extends ServiceDefinitionLike>(
  definition: D,
  implementation: AsyncServiceImplementation<D>,
  onInternalError?: InternalErrorListener,
): ServiceBinding {
  return { definition, handlers: toGrpcHandlers(definition, implementation, onInternalError) };
}

/** Options for {@link serve}. */
export interface ServeOptions {
  /** `unix:///path.sock` or a path. */
  endpoint: string;
  services: readonly ServiceBinding[];
  /** File mode of the socket; 0600 so only its owner can call the plugin. */
  socketMode?: number;
}

/** A server listening on a unix socket. */
export interface RunningServer {
  readonly socketPath: string;
  /** Stops accepting calls, waits up to `graceMs` for calls in flight, then removes the socket. */
  close(graceMs?: number): Promise<void>;
}

/** The socket path is taken by something we must not remove. */
export class SocketInUseError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'SocketInUseError';
  }
}

/**
 * Serves gRPC services on a unix socket. A socket file left by a dead server
 * is removed; a live server's socket, or anything that is not a socket, is
 * left alone and reported.
 */
export async function serve(options: ServeOptions): Promise<RunningServer> {
  const socketPath = socketPathOf(options.endpoint);
  await fs.mkdir(path.dirname(socketPath), { recursive: true });
  await removeStaleSocket(socketPath);

  const server = new Server();
  for (const service of options.services) {
    server.addService(service.definition as unknown as ServiceDefinition, service.handlers);
  }
  await new Promise<void>((resolve, reject) => {
    server.bindAsync(grpcTargetOf(socketPath), ServerCredentials.createInsecure(), (error) =>
      error === null ? resolve() : reject(error),
    );
  });
  await fs.chmod(socketPath, options.socketMode ?? 0o600);

  let closed = false;
  return {
    socketPath,
    async close(graceMs = 2000): Promise<void> {
      if (closed) return;
      closed = true;
      await new Promise<void>((resolve) => {
        const timer = setTimeout(() => {
          server.forceShutdown();
          resolve();
        }, graceMs);
        server.tryShutdown(() => {
          clearTimeout(timer);
          resolve();
        });
      });
      await fs.rm(socketPath, { force: true });
    },
  };
}

async function removeStaleSocket(socketPath: string): Promise<void> {
  let stat;
  try {
    stat = await fs.lstat(socketPath);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return;
    throw error;
  }
  if (!stat.isSocket()) {
    throw new SocketInUseError(`${socketPath} exists and is not a socket; refusing to replace it`);
  }
  if (await isListening(socketPath)) {
    throw new SocketInUseError(`${socketPath} is in use by a running server`);
  }
  await fs.rm(socketPath, { force: true });
}

function isListening(socketPath: string): Promise<boolean> {
  return new Promise((resolve) => {
    const probe = net.connect(socketPath);
    probe.once('connect', () => {
      probe.destroy();
      resolve(true);
    });
    probe.once('error', () => resolve(false));
  });
}
