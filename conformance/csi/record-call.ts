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
  const hide = secretRedactor(request);
  try {
    const response = await callUnary(target.client, target.method, request, { deadline, ...(cleaningUp ? {} : { signal: ctx.signal }) });
    ctx.recordCall({ target: where, method: target.name, request: hide(request), response: hide(response), durationMs: elapsed(started) });
    return { ok: true, response };
  } catch (thrown) {
    const error = GrpcStatusError.from(thrown);
    ctx.recordCall({
      target: where,
      method: target.name,
      request: hide(request),
      status: { code: error.code, message: hide(error.message) },
      durationMs: elapsed(started),
    });
    return { ok: false, error };
  }
}

/** What evidence shows in place of a secret value. */
const redacted = '<redacted>';

/** Secret values shorter than this are hidden in `secrets` maps only: searched for everywhere, they would shred the evidence. */
const minEchoedSecret = 4;

/**
 * A function that copies a value for evidence with every `secrets` map's
 * values replaced, and any echo of the request's secret values in a
 * response or status message too, so reports never carry secrets.
 * @see CSI-GEN-014
 */
function secretRedactor(request: unknown): <T>(value: T) => T {
  const secrets = (request as { secrets?: unknown } | null)?.secrets;
  const echoed =
    typeof secrets === 'object' && secrets !== null
      ? Object.values(secrets).filter((value): value is string => typeof value === 'string' && value.length >= minEchoedSecret)
      : [];
  // Longest first, so a secret that contains another is hidden whole.
  echoed.sort((a, b) => b.length - a.length);
  const hide = (value: unknown, key?: string): unknown => {
    if (typeof value === 'string') return echoed.reduce((text, secret) => text.split(secret).join(redacted), value);
    if (Array.isArray(value)) return value.map((item) => hide(item));
    if (typeof value === 'object' && value !== null && !(value instanceof Uint8Array) && !(value instanceof Date)) {
      if (key === 'secrets') return Object.fromEntries(Object.keys(value).map((name) => [name, redacted]));
      return Object.fromEntries(Object.entries(value).map(([name, item]) => [name, hide(item, name)]));
    }
    return value;
  };
  return <T>(value: T) => hide(value) as T;
}

function elapsed(started: number): number {
  return Math.round(performance.now() - started);
}
