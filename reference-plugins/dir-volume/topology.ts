import type { Topology, TopologyRequirement } from '../../specs/csi/index.js';
import { dirVolumeDriverName } from './identity-service.js';
import { invalidArgument } from './request-fields.js';

/** The one topology key: which node's disk a volume lives on. */
export const nodeTopologyKey = `topology.${dirVolumeDriverName}/node`;

/** The topology of a node. */
export function nodeTopology(nodeId: string): Topology {
  return { segments: { [nodeTopologyKey]: nodeId } };
}

// CSI spec.md, Topology: a segment value is at most 63 characters, alphanumeric at both ends.
const segmentValuePattern = /^[A-Za-z0-9]([A-Za-z0-9._-]{0,61}[A-Za-z0-9])?$/;

/** True when `nodeId` can be a topology segment value (and so a node ID this driver accepts). */
export function isValidNodeId(nodeId: string): boolean {
  return segmentValuePattern.test(nodeId);
}

function checkKeys(topologies: readonly Topology[], field: string): void {
  for (const topology of topologies) {
    for (const key of Object.keys(topology.segments)) {
      if (key.toLowerCase() !== nodeTopologyKey) throw invalidArgument(`${field} holds topology key ${JSON.stringify(key)}; this driver knows only ${nodeTopologyKey}`);
    }
  }
}

/** True when a topology names this node. Keys compare case-insensitively, as CSI says. */
export function isThisNode(topology: Topology, nodeId: string): boolean {
  const entries = Object.entries(topology.segments);
  return entries.length === 1 && entries[0]![0].toLowerCase() === nodeTopologyKey && entries[0]![1] === nodeId;
}

/**
 * Whether a volume on this node meets CreateVolume's accessibility
 * requirements: with a requisite list, this node must be in it; preferred
 * topologies alone never exclude it (the SP may choose any topology).
 * @throws GrpcStatusError INVALID_ARGUMENT for a key this driver does not define
 */
export function acceptsThisNode(requirement: TopologyRequirement | undefined, nodeId: string, field: string): boolean {
  if (requirement === undefined) return true;
  checkKeys(requirement.requisite, `${field}.requisite`);
  checkKeys(requirement.preferred, `${field}.preferred`);
  if (requirement.requisite.length === 0) return true;
  return requirement.requisite.some((topology) => isThisNode(topology, nodeId));
}
