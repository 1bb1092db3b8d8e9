/**
 * kubeplug/cni: the typed contract of the Container Network Interface.
 *
 * Only the version facts exist so far; the configuration and result types,
 * error codes, validators, plugin skeleton and invoker arrive with the CNI
 * work (issue 3), and this module says so rather than pretending.
 */

/** The CNI specification version kubeplug targets. */
export const cniSpecVersion = '1.1.0';

/** Every CNI result version a runtime may ask for, oldest first. */
export const cniSupportedVersions = ['0.1.0', '0.2.0', '0.3.0', '0.3.1', '0.4.0', '1.0.0', '1.1.0'] as const;
