import path from 'node:path';

/** A plugin endpoint that could not be understood. */
export class EndpointError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'EndpointError';
  }
}

/**
 * Reads a unix-socket endpoint, `unix:///abs/path.sock`, `unix:rel.sock` or a
 * bare path, and returns the absolute socket path.
 *
 * CSI and CRI both name endpoints this way (CSI spec.md "CSI_ENDPOINT"; the
 * kubelet's --container-runtime-endpoint).
 */
export function socketPathOf(endpoint: string): string {
  const trimmed = endpoint.trim();
  if (trimmed === '') throw new EndpointError('endpoint is empty');
  let socketPath: string;
  if (trimmed.startsWith('unix://')) {
    socketPath = trimmed.slice('unix://'.length);
    if (!socketPath.startsWith('/')) {
      throw new EndpointError(`endpoint ${JSON.stringify(endpoint)} must be unix:///absolute/path`);
    }
  } else if (trimmed.startsWith('unix:')) {
    socketPath = trimmed.slice('unix:'.length);
  } else if (/^[a-z][a-z0-9+.-]*:\/\//i.test(trimmed)) {
    throw new EndpointError(`endpoint ${JSON.stringify(endpoint)} is not a unix socket; only unix:// endpoints are supported`);
  } else {
    socketPath = trimmed;
  }
  if (socketPath === '' || socketPath.includes('\0')) {
    throw new EndpointError(`endpoint ${JSON.stringify(endpoint)} has no usable socket path`);
  }
  return path.resolve(socketPath);
}

/** The grpc-js target for a socket path. */
export function grpcTargetOf(socketPath: string): string {
  return `unix:${socketPath}`;
}
