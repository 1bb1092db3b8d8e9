import type { Client, ClientUnaryCall, Metadata, CallOptions, ServiceError } from '@grpc/grpc-js';
import { callUnary, GrpcStatusError } from '../../specs/csi/index.js';
import type { CaseContext } from '../framework/index.js';
import type { CsiEndpoint, CsiSubject } from './csi-subject.js';

/** A call's outcome as a value: cases judge failures, they do not catch them. */
export type CallOutcome<Res> =
  | { readonly ok: true; readonly response: Res }
  | { readonly ok: false; readonly error: GrpcStatusError };

type UnaryMethod<C, Req, Res> = (
  this: C,
  request: Req,
  metadata: Metadata,
  options: Partial<CallOptions>,
  callback: (error: ServiceError | null, response: Res) => void,
) => ClientUnaryCall;

/**
 * Makes one unary call to the plugin within the case's deadline and records
 * it (request, response or status) as evidence.
 */
export async function recordCall<C extends Client, Req, Res>(
  ctx: CaseContext<CsiSubject>,
  target: { endpoint: CsiEndpoint; client: C; method: UnaryMethod<C, Req, Res>; name: string },
  request: Req,
): Promise<CallOutcome<Res>> {
  const started = performance.now();
  // Once the case is over its signal is aborted and its deadline may have passed; calls made then are its
  // cleanup steps (undoing what it created), which get their own deadline instead of being cancelled at once.
  const cleaningUp = ctx.signal.aborted;
  const ownDeadline = Date.now() + ctx.subject.callTimeoutMs;
  const deadline = new Date(cleaningUp ? ownDeadline : Math.min(ctx.deadline.getTime(), ownDeadline));
  const where = `${target.endpoint.endpoint} (${target.endpoint.role})`;
  try {
    const response = await callUnary(target.client, target.method, request, { deadline, ...(cleaningUp ? {} : { signal: ctx.signal }) });
    ctx.recordCall({ target: where, method: target.name, request, response, durationMs: elapsed(started) });
    return { ok: true, response };
  } catch (thrown) {
    const error = GrpcStatusError.from(thrown);
    ctx.recordCall({
      target: where,
      method: target.name,
      request,
      status: { code: error.code, message: error.message },
      durationMs: elapsed(started),
    });
    return { ok: false, error };
  }
}

function elapsed(started: number): number {
  return Math.round(performance.now() - started);
}
