import type { Topology } from '../../specs/csi/index.js';

const namePattern = /^[A-Za-z0-9]([A-Za-z0-9_.-]*[A-Za-z0-9])?$/;
const prefixLabel = /^[a-z0-9]([a-z0-9-]*[a-z0-9])?$/;
const maxLength = 63;

/**
 * What is wrong with topology segments, as csi.proto's message Topology
 * states the rules: `[prefix/]name` keys, values like names, one prefix
 * across all keys, no two keys equal but for case. Empty when all is well.
 * @see CSI-CTRL-021
 */
export function topologyProblems(topologies: readonly Topology[]): string[] {
  const problems: string[] = [];
  const prefixes = new Set<string>();
  for (const topology of topologies) {
    const lowered = new Set<string>();
    for (const [key, value] of Object.entries(topology.segments)) {
      const slash = key.lastIndexOf('/');
      const prefix = slash < 0 ? undefined : key.slice(0, slash);
      const name = slash < 0 ? key : key.slice(slash + 1);
      if (name.length > maxLength || !namePattern.test(name)) problems.push(`key "${key}": name part "${name}" is not a valid name`);
      if (prefix !== undefined) {
        prefixes.add(prefix);
        if (prefix.length > maxLength || !prefix.split('.').every((label) => prefixLabel.test(label))) {
          problems.push(`key "${key}": prefix "${prefix}" is not a lower-case domain name of at most 63 characters`);
        }
      }
      if (value.length > maxLength || !namePattern.test(value)) problems.push(`key "${key}": value "${value}" is not a valid segment`);
      if (lowered.has(key.toLowerCase())) problems.push(`key "${key}" appears twice when case is ignored`);
      lowered.add(key.toLowerCase());
    }
  }
  if (prefixes.size > 1) problems.push(`keys use more than one prefix: ${[...prefixes].join(', ')}`);
  return problems;
}
