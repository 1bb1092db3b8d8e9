/**
 * The typed errors of the image half of the process runtime. Each is thrown
 * where its condition is detected; image-service.ts maps them to gRPC codes.
 */

/** A string that is not a valid image reference (docker/distribution grammar). */
export class InvalidImageReferenceError extends Error {
  readonly reference: string;
  constructor(reference: string, reason: string) {
    super(`invalid image reference ${JSON.stringify(reference)}: ${reason}`);
    this.name = 'InvalidImageReferenceError';
    this.reference = reference;
  }
}

/** Why a registry call failed, as data. */
export const registryErrorKinds = [
  'unreachable', // connection refused, DNS failure, reset, timeout
  'not-found', // manifest or blob unknown, repository unknown (HTTP 404)
  'unauthorized', // 401 after credentials were offered, or a challenge we cannot answer
  'forbidden', // 403
  'bad-response', // an unexpected status or body
  'digest-mismatch', // content whose digest or size differs from what was asked for
  'no-matching-platform', // an image index with no manifest for this platform
  'unsupported', // a media type or scheme we do not handle
] as const;

/** A registry failure kind. */
export type RegistryErrorKind = (typeof registryErrorKinds)[number];

/** Options for {@link RegistryError}. */
export interface RegistryErrorOptions {
  kind: RegistryErrorKind;
  message: string;
  /** The URL that failed, when there was one (never carries credentials). */
  url?: string;
  status?: number;
  cause?: unknown;
}

/** A registry could not give us what we asked for. */
export class RegistryError extends Error {
  readonly kind: RegistryErrorKind;
  readonly url: string | undefined;
  readonly status: number | undefined;
  constructor(options: RegistryErrorOptions) {
    super(options.message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'RegistryError';
    this.kind = options.kind;
    this.url = options.url;
    this.status = options.status;
  }
}

/** A tar stream that does not follow the ustar/pax/GNU formats we read. */
export class TarFormatError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'TarFormatError';
  }
}

/** A layer that cannot be applied safely (path escapes, links to nowhere, unsupported content). */
export class LayerExtractError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'LayerExtractError';
  }
}

/** An image manifest or config that is not what the OCI image spec describes. */
export class InvalidImageContentError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'InvalidImageContentError';
  }
}
