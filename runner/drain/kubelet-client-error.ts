/**
 * What can go wrong talking to a kubelet, as one error class with a closed
 * set of codes. The message always names the kubelet and the request.
 */
import type { StatusObject } from './kubelet-objects.js';

/** Why a kubelet call failed. */
export const kubeletClientErrorCodes = [
  /** No connection: refused, no such socket, no route, DNS. */
  'unreachable',
  /** Connected, but no whole answer within the request timeout. */
  'timeout',
  /** The caller's signal aborted the call (Ctrl-C). */
  'aborted',
  /** An answer with a status the call does not take; `status` holds its metav1.Status when it sent one. */
  'http-status',
  /** An answer whose body is not what the API promises (not JSON, wrong shape, too large). */
  'bad-answer',
] as const;

export type KubeletClientErrorCode = (typeof kubeletClientErrorCodes)[number];

/** A failed kubelet call. */
export class KubeletClientError extends Error {
  readonly code: KubeletClientErrorCode;
  /** The kubelet URL as given. */
  readonly kubelet: string;
  /** HTTP status of the answer, for `http-status`. */
  readonly httpStatus: number | undefined;
  /** The answer's metav1.Status, when it carried one. */
  readonly status: StatusObject | undefined;

  constructor(options: { code: KubeletClientErrorCode; kubelet: string; message: string; httpStatus?: number; status?: StatusObject; cause?: unknown }) {
    super(`kubelet ${options.kubelet}: ${options.message}`, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'KubeletClientError';
    this.code = options.code;
    this.kubelet = options.kubelet;
    this.httpStatus = options.httpStatus;
    this.status = options.status;
  }

  /** `error` as a KubeletClientError about `kubelet`: itself when it already is one, else `bad-answer` wrapping it. */
  static from(error: unknown, kubelet: string): KubeletClientError {
    if (error instanceof KubeletClientError) return error;
    return new KubeletClientError({ code: 'bad-answer', kubelet, message: error instanceof Error ? error.message : String(error), cause: error });
  }
}
