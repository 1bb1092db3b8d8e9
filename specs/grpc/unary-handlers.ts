import type { Metadata, sendUnaryData, ServerUnaryCall, UntypedServiceImplementation } from '@grpc/grpc-js';
import { GrpcStatusError } from './grpc-status-error.js';

/** The parts of a ts-proto method definition this module relies on. */
export interface MethodDefinition {
  readonly path: string;
  readonly requestStream: boolean;
  readonly responseStream: boolean;
  readonly requestDeserialize: (bytes: Buffer) => unknown;
  readonly responseSerialize: (value: never) => Buffer;
}

/** A ts-proto service definition: method name to method definition. */
export type ServiceDefinitionLike = { readonly [method: string]: MethodDefinition };

/** The request type of a method definition. */
export type RequestOf<M> = M extends { requestDeserialize: (bytes: Buffer) => infer R } ? R : never;
/** The response type of a method definition. */
export type ResponseOf<M> = M extends { responseSerialize: (value: infer R) => Buffer } ? R : never;

/** What a unary handler learns about its call besides the request. */
export interface UnaryCallContext {
  readonly method: string;
  readonly metadata: Metadata;
  readonly peer: string;
}

type UnaryMethodNames<D> = {
  [K in keyof D]: D[K] extends { requestStream: false; responseStream: false } ? K : never;
}[keyof D];

/**
 * A service implemented with async functions, one per unary method. Methods
 * left out answer UNIMPLEMENTED, as gRPC does for an unknown method.
 */
export type AsyncServiceImplementation<D> = {
  [K in UnaryMethodNames<D>]?: (request: RequestOf<D[K]>, context: UnaryCallContext) => Promise<ResponseOf<D[K]>>;
};

/** Reports an error that reached the boundary without a gRPC status of its own. */
export type InternalErrorListener = (method: string, error: unknown) => void;

/**
 * Adapts async handlers to grpc-js's callback handlers. This is the one
 * boundary where errors become statuses: a GrpcStatusError keeps its code;
 * anything else becomes INTERNAL and is handed to `onInternalError`.
 */
export function toGrpcHandlers<D extends ServiceDefinitionLike>(
  definition: D,
  implementation: AsyncServiceImplementation<D>,
  onInternalError: InternalErrorListener = () => {},
): UntypedServiceImplementation {
  const handlers: UntypedServiceImplementation = {};
  const table = implementation as Record<string, ((request: unknown, context: UnaryCallContext) => Promise<unknown>) | undefined>;
  for (const [name, method] of Object.entries(definition)) {
    const handler = table[name];
    if (handler === undefined || method.requestStream || method.responseStream) continue;
    handlers[name] = (call: ServerUnaryCall<unknown, unknown>, callback: sendUnaryData<unknown>): void => {
      const context: UnaryCallContext = { method: method.path, metadata: call.metadata, peer: call.getPeer() };
      handler(call.request, context).then(
        (response) => callback(null, response),
        (error: unknown) => {
          if (!(error instanceof GrpcStatusError)) onInternalError(method.path, error);
          callback(GrpcStatusError.from(error).toServiceError());
        },
      );
    };
  }
  return handlers;
}
