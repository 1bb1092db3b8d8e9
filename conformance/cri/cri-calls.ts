import type { Client, ClientUnaryCall, Metadata, CallOptions, ServiceError } from '@grpc/grpc-js';
import {
  GrpcStatusError,
  ImageServiceService,
  RuntimeServiceService,
  callUnary,
  type RequestOf,
  type ResponseOf,
} from '../../specs/cri/index.js';
import type { CaseContext } from '../framework/index.js';
import type { CriSubject } from './cri-subject.js';

type Ctx = CaseContext<CriSubject>;

/** A call's outcome as a value: cases judge failures, they do not catch them. */
export type CallOutcome<Res> =
  | { readonly ok: true; readonly response: Res }
  | { readonly ok: false; readonly error: GrpcStatusError };

/** The names of a service definition's unary RPCs (streaming ones need their own readers). */
type UnaryRpcOf<S> = { [K in keyof S]: S[K] extends { responseStream: false; requestStream: false } ? K : never }[keyof S];

/** Unary RPCs of the RuntimeService, as the generated client spells them (`runPodSandbox`). */
export type RuntimeRpc = UnaryRpcOf<typeof RuntimeServiceService>;
/** Unary RPCs of the ImageService (`pullImage`). */
export type ImageRpc = UnaryRpcOf<typeof ImageServiceService>;
/** The request message of a RuntimeService RPC. */
export type RuntimeRequest<K extends RuntimeRpc> = RequestOf<(typeof RuntimeServiceService)[K]>;
/** The response message of a RuntimeService RPC. */
export type RuntimeResponse<K extends RuntimeRpc> = ResponseOf<(typeof RuntimeServiceService)[K]>;
/** The request message of an ImageService RPC. */
export type ImageRequest<K extends ImageRpc> = RequestOf<(typeof ImageServiceService)[K]>;
/** The response message of an ImageService RPC. */
export type ImageResponse<K extends ImageRpc> = ResponseOf<(typeof ImageServiceService)[K]>;

/** Per-call options: a longer deadline for calls that wait on purpose (ExecSync, StopContainer with a grace period). */
export interface CriCallOptions {
  /** Extra time beyond the run's call timeout. */
  readonly extraMs?: number;
}

type UnaryMethod<Req, Res> = (
  this: Client,
  request: Req,
  metadata: Metadata,
  options: Partial<CallOptions>,
  callback: (error: ServiceError | null, response: Res) => void,
) => ClientUnaryCall;

/**
 * Calls one RuntimeService RPC at `--runtime-endpoint` within the case's
 * deadline and records it as evidence; a failure comes back as a value with
 * its status.
 */
export function callRuntime<K extends RuntimeRpc>(
  ctx: Ctx,
  rpc: K,
  request: RuntimeRequest<K>,
  options: CriCallOptions = {},
): Promise<CallOutcome<RuntimeResponse<K>>> {
  const definition = RuntimeServiceService[rpc] as { path: string };
  return recordCriCall(ctx, { client: ctx.subject.runtime, endpoint: ctx.subject.runtimeEndpoint, rpc, path: definition.path }, request, options);
}

/** Calls one ImageService RPC at `--image-endpoint`, recorded. @see callRuntime */
export function callImage<K extends ImageRpc>(
  ctx: Ctx,
  rpc: K,
  request: ImageRequest<K>,
  options: CriCallOptions = {},
): Promise<CallOutcome<ImageResponse<K>>> {
  const definition = ImageServiceService[rpc] as { path: string };
  return recordCriCall(ctx, { client: ctx.subject.images, endpoint: ctx.subject.imageEndpoint, rpc, path: definition.path }, request, options);
}

async function recordCriCall<Req, Res>(
  ctx: Ctx,
  target: { client: Client; endpoint: string; rpc: string; path: string },
  request: Req,
  options: CriCallOptions,
): Promise<CallOutcome<Res>> {
  const method = (target.client as unknown as Record<string, UnaryMethod<Req, Res> | undefined>)[target.rpc];
  if (method === undefined) throw new Error(`the generated client has no RPC ${target.rpc}`);
  // "/runtime.v1.RuntimeService/RunPodSandbox" -> "RuntimeService/RunPodSandbox", the name evidence shows.
  const name = target.path.replace(/^\/runtime\.v1\./, '');
  const started = performance.now();
  // Once the case is over its signal is aborted; calls made then are cleanup steps, which get their own deadline.
  const cleaningUp = ctx.signal.aborted;
  const ownDeadline = Date.now() + ctx.subject.callTimeoutMs + (options.extraMs ?? 0);
  const deadline = new Date(cleaningUp ? ownDeadline : Math.min(ctx.deadline.getTime(), ownDeadline));
  const shown = redactAuth(request);
  try {
    const response = await callUnary(target.client, method, request, { deadline, ...(cleaningUp ? {} : { signal: ctx.signal }) });
    ctx.recordCall({ target: target.endpoint, method: name, request: shown, response: shrinkForEvidence(response), durationMs: elapsed(started) });
    return { ok: true, response };
  } catch (thrown) {
    const error = GrpcStatusError.from(thrown);
    ctx.recordCall({
      target: target.endpoint,
      method: name,
      request: shown,
      status: { code: error.code, message: error.message },
      durationMs: elapsed(started),
    });
    return { ok: false, error };
  }
}

/** What evidence shows in place of registry credentials. */
const redacted = '<redacted>';

/** PullImage carries registry credentials (`auth`); evidence never shows them. */
function redactAuth<T>(request: T): unknown {
  const auth = (request as { auth?: unknown } | null)?.auth;
  if (typeof auth !== 'object' || auth === null) return request;
  const hidden = Object.fromEntries(Object.entries(auth).map(([key, value]) => [key, key === 'serverAddress' || value === '' ? value : redacted]));
  return { ...(request as object), auth: hidden };
}

/** Output of ExecSync as text when it is text, so evidence is readable (the framework would show bytes as base64). */
function shrinkForEvidence(response: unknown): unknown {
  if (typeof response !== 'object' || response === null) return response;
  const out: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(response)) {
    out[key] = value instanceof Uint8Array ? bytesForEvidence(value) : value;
  }
  return out;
}

function bytesForEvidence(bytes: Uint8Array): string {
  const text = Buffer.from(bytes).toString('utf8');
  const shown = text.length > 4000 ? `${text.slice(0, 4000)}… (${bytes.length} bytes)` : text;
  return shown;
}

function elapsed(started: number): number {
  return Math.round(performance.now() - started);
}
