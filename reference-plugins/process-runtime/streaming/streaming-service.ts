import type { AttachRequest, AttachResponse, ExecRequest, ExecResponse, PortForwardRequest, PortForwardResponse } from '../../../specs/cri/index.js';
import type { StreamingServer } from './streaming-server.js';

/** The RuntimeService's streaming handlers. */
export interface StreamingHandlers {
  exec(request: ExecRequest): Promise<ExecResponse>;
  attach(request: AttachRequest): Promise<AttachResponse>;
  portForward(request: PortForwardRequest): Promise<PortForwardResponse>;
}

/**
 * The Exec, Attach and PortForward handlers of the RuntimeService: each
 * validates the request and answers a single-use URL on `server`; errors
 * are GrpcStatusError with their code.
 * @see CRI-EXEC-011
 * @see CRI-EXEC-013
 * @see CRI-EXEC-014
 */
export function createStreamingHandlers(server: StreamingServer): StreamingHandlers {
  return {
    exec: (request) => server.requestExec(request),
    attach: (request) => server.requestAttach(request),
    portForward: (request) => server.requestPortForward(request),
  };
}
