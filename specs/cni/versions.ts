/** The CNI specification version kubeplug targets. */
export const cniSpecVersion = '1.1.0';

/** Every CNI spec version a plugin may support, oldest first. */
export const cniSupportedVersions = ['0.1.0', '0.2.0', '0.3.0', '0.3.1', '0.4.0', '1.0.0', '1.1.0'] as const;
export type CniVersion = (typeof cniSupportedVersions)[number];

/** True for a version string the CNI spec has released. */
export function isCniVersion(value: unknown): value is CniVersion {
  return typeof value === 'string' && (cniSupportedVersions as readonly string[]).includes(value);
}

/** Compares two dotted versions numerically: negative, zero or positive. */
export function compareVersions(a: string, b: string): number {
  const pa = a.split('.').map(Number);
  const pb = b.split('.').map(Number);
  for (let i = 0; i < Math.max(pa.length, pb.length); i += 1) {
    const diff = (pa[i] ?? 0) - (pb[i] ?? 0);
    if (diff !== 0) return diff;
  }
  return 0;
}

/** True when `version` is `minimum` or newer. */
export function atLeast(version: string, minimum: string): boolean {
  return compareVersions(version, minimum) >= 0;
}

/** The verbs of the plugin protocol, and the version that introduced each. */
export const cniVerbs = { ADD: '0.1.0', DEL: '0.1.0', VERSION: '0.1.0', CHECK: '0.4.0', GC: '1.1.0', STATUS: '1.1.0' } as const;
export type CniVerb = keyof typeof cniVerbs;

/** True for a string that names a verb. */
export function isCniVerb(value: unknown): value is CniVerb {
  return typeof value === 'string' && Object.prototype.hasOwnProperty.call(cniVerbs, value);
}
