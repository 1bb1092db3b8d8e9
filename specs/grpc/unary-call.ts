import { Metadata, type CallOptions, type Client, type ClientUnaryCall, type ServiceError } from '@grpc/grpc-js';
import { GrpcStatusError } from './grpc-status-error.js';

type UnaryMethod<Req, Res> = (
  request: Req,
  metadata: Metadata,
  options: Partial<CallOptions>,
  callback: (error: ServiceError | null, response: Res) => void,
) => ClientUnaryCall;

/** Options for one unary call. */
export interface UnaryCallOptions {
  /** Absolute deadline; the call fails with DEADLINE_EXCEEDED past it. */
  deadline?: Date;
  metadata?: Metadata;
  /** Cancels the call (status CANCELLED) when aborted. */
  signal?: AbortSignal;
}

/**
 * Calls a unary method of a generated grpc-js client and resolves with the
 * response, or rejects with a {@link GrpcStatusError} carrying the status.
 */
export function callUnary<C extends Client, Req, Res>(
  client: C,
  method: (this: C, ...args: Parameters<UnaryMethod<Req, Res>>) => ClientUnaryCall,
  request: Req,
  options: UnaryCallOptions = {},
): Promise<Res> {
  return new Promise<Res>((resolve, reject) => {
    const callOptions: Partial<CallOptions> = options.deadline === undefined ? {} : { deadline: options.deadline };
    const call = method.call(client, request, options.metadata ?? new Metadata(), callOptions, (error, response) => {
      options.signal?.removeEventListener('abort', cancel);
      if (error === null) resolve(response);
      else reject(GrpcStatusError.from(error));
    });
    const cancel = (): void => call.cancel();
    if (options.signal?.aborted === true) call.cancel();
    else options.signal?.addEventListener('abort', cancel, { once: true });
  });
}
