/**
 * CNI's well-known error codes, as data (containernetworking/cni SPEC.md,
 * § Error). Codes 100 and up are the plugin's own; 999 is kubeplug's marker
 * for an error that reached the boundary without a code.
 */
export const cniErrorCodes = {
  INCOMPATIBLE_VERSION: 1,
  UNSUPPORTED_FIELD: 2,
  UNKNOWN_CONTAINER: 3,
  INVALID_ENVIRONMENT: 4,
  IO_FAILURE: 5,
  DECODE_FAILURE: 6,
  INVALID_NETWORK_CONFIG: 7,
  TRY_AGAIN_LATER: 11,
  PLUGIN_NOT_AVAILABLE: 50,
  PLUGIN_NOT_AVAILABLE_LIMITED: 51,
  INTERNAL: 999,
} as const;

export type CniErrorName = keyof typeof cniErrorCodes;

/** The first code free for a plugin's own errors. */
export const firstPluginErrorCode = 100;
