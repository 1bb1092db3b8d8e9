import { cniErrorCodes, type CniErrorName } from './error-codes.js';

/** The error JSON a plugin prints on failure (SPEC.md § Error). */
export interface CniErrorJson {
  cniVersion: string;
  code: number;
  msg: string;
  details?: string;
}

/** Options for {@link CniError}. */
export interface CniErrorOptions {
  /** A well-known code by name, or a plugin code (100 and up) by number. */
  code: CniErrorName | number;
  msg: string;
  details?: string;
  cause?: unknown;
}

/**
 * An error in CNI's error model: thrown where detected, printed as error JSON
 * at the plugin boundary (the skeleton), read back from a plugin's stdout by
 * the invoker.
 */
export class CniError extends Error {
  readonly code: number;
  readonly msg: string;
  readonly details?: string;

  constructor(options: CniErrorOptions) {
    super(options.details === undefined ? options.msg : `${options.msg}: ${options.details}`, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'CniError';
    this.code = typeof options.code === 'number' ? options.code : cniErrorCodes[options.code];
    this.msg = options.msg;
    if (options.details !== undefined) this.details = options.details;
  }

  /** The error JSON for a result of `cniVersion`. */
  toJson(cniVersion: string): CniErrorJson {
    return { cniVersion, code: this.code, msg: this.msg, ...(this.details === undefined ? {} : { details: this.details }) };
  }

  /** A CniError as itself; anything else as code 999 with its message. */
  static from(error: unknown): CniError {
    if (error instanceof CniError) return error;
    const message = error instanceof Error ? error.message : String(error);
    return new CniError({ code: 'INTERNAL', msg: 'internal plugin error', details: message, cause: error });
  }
}
