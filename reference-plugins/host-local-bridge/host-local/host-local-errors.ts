import { CniError } from '../../../specs/cni/cni-error.js';

/**
 * host-local's own error codes (100 and up, SPEC.md § Error leaves them to the
 * plugin). Upstream host-local prints 999 for all of these; distinct codes let
 * a runtime tell exhaustion from a conflict without parsing messages.
 */
export const hostLocalErrorCodes = {
  /** A range set has no free address left. */
  ADDRESSES_EXHAUSTED: 100,
  /** The attachment already holds an address in the range set (upstream refuses a second ADD). */
  DUPLICATE_ALLOCATION: 101,
  /** A specifically requested address cannot be given (taken, the gateway, or in no range set). */
  REQUESTED_ADDRESS_UNAVAILABLE: 102,
  /** CHECK found no reservation for the attachment. */
  RESERVATION_NOT_FOUND: 103,
  /** CHECK found reservations that differ from the addresses in prevResult. */
  RESERVATION_MISMATCH: 104,
} as const;

/** The name of one of host-local's own error codes. */
export type HostLocalErrorName = keyof typeof hostLocalErrorCodes;

/** A host-local error by name. */
export function hostLocalError(name: HostLocalErrorName, msg: string, details?: string): CniError {
  return new CniError({ code: hostLocalErrorCodes[name], msg, ...(details === undefined ? {} : { details }) });
}

/** INVALID_NETWORK_CONFIG (7) naming the field, worded like the contract's validators. */
export function invalidField(field: string, problem: string): CniError {
  return new CniError({ code: 'INVALID_NETWORK_CONFIG', msg: `invalid network configuration: field "${field}" ${problem}` });
}

/** IO_FAILURE (5) for a filesystem call that failed, keeping the cause. */
export function ioFailure(what: string, cause: unknown): CniError {
  return new CniError({ code: 'IO_FAILURE', msg: `host-local: cannot ${what}`, details: cause instanceof Error ? cause.message : String(cause), cause });
}
