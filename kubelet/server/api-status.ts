/**
 * meta/v1 Status answers, shaped as the API server writes them
 * (kubernetes/apimachinery master pkg/api/errors/errors.go: NewNotFound,
 * NewBadRequest, NewTooManyRequests, NewMethodNotSupported,
 * NewUnsupportedMediaType, NewInternalError).
 */
import type http from 'node:http';
import type { ApiStatus, StatusCause } from '../api/disruption-types.js';

/** A failure to answer as a Status; thrown where detected, written once by {@link sendStatus}. */
export class ApiStatusError extends Error {
  readonly code: number;
  readonly reason: string | undefined;
  readonly details: ApiStatus['details'];

  constructor(options: { code: number; reason?: string; message: string; details?: ApiStatus['details']; cause?: unknown }) {
    super(options.message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'ApiStatusError';
    this.code = options.code;
    this.reason = options.reason;
    this.details = options.details;
  }

  /** Any thrown value as an ApiStatusError (anything unexpected is a 500 InternalError). */
  static from(error: unknown): ApiStatusError {
    if (error instanceof ApiStatusError) return error;
    const message = error instanceof Error ? error.message : String(error);
    return new ApiStatusError({ code: 500, reason: 'InternalError', message: `Internal error occurred: ${message}`, details: { causes: [{ message }] }, cause: error });
  }

  get status(): ApiStatus {
    return failureStatus(this.code, this.message, this.reason, this.details);
  }
}

export function successStatus(code: number): ApiStatus {
  return { kind: 'Status', apiVersion: 'v1', metadata: {}, status: 'Success', code };
}

export function failureStatus(code: number, message: string, reason?: string, details?: ApiStatus['details']): ApiStatus {
  return {
    kind: 'Status',
    apiVersion: 'v1',
    metadata: {},
    status: 'Failure',
    message,
    ...(reason === undefined || reason === '' ? {} : { reason }),
    ...(details === undefined ? {} : { details }),
    code,
  };
}

export const apiErrors = {
  notFound: (resource: string, name: string): ApiStatusError =>
    new ApiStatusError({ code: 404, reason: 'NotFound', message: `${resource} "${name}" not found`, details: { name, kind: resource } }),
  /** A malformed request body; the message starts with the field it names. */
  badRequest: (message: string, causes?: StatusCause[]): ApiStatusError =>
    new ApiStatusError({ code: 400, reason: 'BadRequest', message, ...(causes === undefined ? {} : { details: { causes } }) }),
  methodNotSupported: (resource: string, method: string): ApiStatusError =>
    new ApiStatusError({ code: 405, reason: 'MethodNotAllowed', message: `the server does not allow this method on the requested resource: ${method} on ${resource}`, details: { kind: resource } }),
  unsupportedMediaType: (contentType: string, supported: readonly string[]): ApiStatusError =>
    new ApiStatusError({ code: 415, reason: 'UnsupportedMediaType', message: `the body of the request was in an unknown format - accepted media types include: ${supported.join(', ')}`, details: { causes: [{ reason: 'UnsupportedMediaType', message: contentType }] } }),
} as const;

/** Writes a Status (or any object) as JSON with the code given. */
export function sendApiJson(response: http.ServerResponse, code: number, body: unknown, headers: Record<string, string> = {}): void {
  const text = `${JSON.stringify(body)}\n`;
  response.writeHead(code, { 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(text), ...headers });
  response.end(text);
}

/** Writes a failure as its Status. */
export function sendStatus(response: http.ServerResponse, error: unknown): void {
  const failure = ApiStatusError.from(error);
  sendApiJson(response, failure.code, failure.status);
}
