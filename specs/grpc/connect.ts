import fs from 'node:fs/promises';
import { credentials, type Client, type ChannelOptions } from '@grpc/grpc-js';
import { grpcTargetOf, socketPathOf } from './endpoint.js';

/** A generated grpc-js client constructor. */
export type ClientConstructor<C extends Client> = new (
  address: string,
  creds: ReturnType<typeof credentials.createInsecure>,
  options?: Partial<ChannelOptions>,
) => C;

/** The endpoint did not accept a connection in time. */
export class EndpointUnreachableError extends Error {
  readonly endpoint: string;
  constructor(endpoint: string, reason: string) {
    super(`cannot reach ${endpoint}: ${reason}`);
    this.name = 'EndpointUnreachableError';
    this.endpoint = endpoint;
  }
}

/** Creates a client for a unix-socket endpoint; no connection is made yet. */
export function createClient<C extends Client>(Constructor: ClientConstructor<C>, endpoint: string): C {
  return new Constructor(grpcTargetOf(socketPathOf(endpoint)), credentials.createInsecure(), {
    // A plugin socket is local; fail fast instead of gRPC's long default back-off.
    'grpc.initial_reconnect_backoff_ms': 100,
    'grpc.max_reconnect_backoff_ms': 1000,
  });
}

/**
 * Waits until the client's channel is connected, or throws
 * {@link EndpointUnreachableError}; a socket file that does not exist fails at once.
 */
export async function waitForConnection(client: Client, endpoint: string, timeoutMs: number): Promise<void> {
  const socketPath = socketPathOf(endpoint);
  try {
    if (!(await fs.stat(socketPath)).isSocket()) throw new EndpointUnreachableError(endpoint, `${socketPath} is not a socket`);
  } catch (error) {
    if (error instanceof EndpointUnreachableError) throw error;
    throw new EndpointUnreachableError(endpoint, `no socket at ${socketPath}`);
  }
  await new Promise<void>((resolve, reject) => {
    client.waitForReady(new Date(Date.now() + timeoutMs), (error) => {
      if (error === undefined || error === null) resolve();
      else reject(new EndpointUnreachableError(endpoint, `no gRPC server answered within ${timeoutMs} ms`));
    });
  });
}
