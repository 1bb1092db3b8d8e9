import { Metadata, type ServiceError } from '@grpc/grpc-js';
import { grpcStatusCodes, grpcStatusName, type GrpcStatusName } from './status-codes.js';

/** Options for {@link GrpcStatusError}. */
export interface GrpcStatusErrorOptions {
  code: GrpcStatusName;
  message: string;
  cause?: unknown;
}

/**
 * An error carrying the gRPC status it must reach the client with.
 *
 * Thrown where a condition is detected; the server boundary turns it into the
 * wire status, and turns anything else into INTERNAL so no untyped error ever
 * reaches a client as UNKNOWN.
 */
export class GrpcStatusError extends Error {
  readonly code: GrpcStatusName;

  constructor(options: GrpcStatusErrorOptions) {
    super(options.message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'GrpcStatusError';
    this.code = options.code;
  }

  /** The numeric wire value of {@link code}. */
  get codeNumber(): number {
    return grpcStatusCodes[this.code];
  }

  /**
   * Reads any thrown value as a status: a GrpcStatusError as itself, a grpc-js
   * ServiceError by its code and details, anything else as INTERNAL.
   */
  static from(error: unknown): GrpcStatusError {
    if (error instanceof GrpcStatusError) return error;
    if (isServiceError(error)) {
      return new GrpcStatusError({
        code: grpcStatusName(error.code) ?? 'UNKNOWN',
        message: error.details,
        cause: error,
      });
    }
    const message = error instanceof Error ? error.message : String(error);
    return new GrpcStatusError({ code: 'INTERNAL', message: `internal error: ${message}`, cause: error });
  }

  /** The shape grpc-js sends as a call's status. */
  toServiceError(): Partial<ServiceError> {
    return { code: this.codeNumber, details: this.message, metadata: new Metadata() };
  }
}

/** True for the errors grpc-js hands to a client callback. */
export function isServiceError(error: unknown): error is ServiceError {
  return (
    error instanceof Error &&
    typeof (error as Partial<ServiceError>).code === 'number' &&
    typeof (error as Partial<ServiceError>).details === 'string'
  );
}
