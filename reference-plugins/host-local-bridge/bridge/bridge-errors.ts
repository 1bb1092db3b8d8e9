import { CniError } from '../../../specs/cni/cni-error.js';

/**
 * kubeplug-bridge's own error codes (CNI reserves 100 and up for plugins).
 * Upstream bridge reports all of these as 999; a code per cause lets a
 * runtime or a test tell them apart.
 */
export const bridgeErrorCodes = {
  /** The kernel or a host tool refused a change: an ip, bridge, iptables or nft command failed. */
  HOST_COMMAND_FAILED: 100,
  /** The IPAM plugin answered with a result the bridge cannot apply. */
  IPAM_RESULT_UNUSABLE: 101,
  /** CHECK found the attachment differs from what ADD set up (prevResult). */
  ATTACHMENT_MISMATCH: 102,
} as const;

/** The name of one of the bridge's own error codes. */
export type BridgeErrorName = keyof typeof bridgeErrorCodes;

/** A CniError with one of the bridge's own codes. */
export function bridgeError(name: BridgeErrorName, msg: string, options: { details?: string; cause?: unknown } = {}): CniError {
  return new CniError({ code: bridgeErrorCodes[name], msg, ...options });
}

/** A failed host command as a CniError: `msg` says what we tried, details say what the tool answered. */
export function hostCommandFailed(msg: string, cause: unknown): CniError {
  if (cause instanceof CniError) return cause;
  const details = cause instanceof Error ? cause.message : String(cause);
  return bridgeError('HOST_COMMAND_FAILED', msg, { details, cause });
}

/** An invalid configuration field, named as the spec asks. */
export function invalidConfig(msg: string, details?: string): CniError {
  return new CniError({ code: 'INVALID_NETWORK_CONFIG', msg, ...(details === undefined ? {} : { details }) });
}
