import { invalidConfig } from './bridge-errors.js';
import type { IpLine } from './iproute.js';

/** The highest VLAN ID a bridge accepts (4095 is reserved). */
export const maxVlanId = 4094;

/** What the configuration says about VLANs on the container's bridge port. */
export interface VlanSettings {
  /** Access VLAN: the port's PVID, untagged; 0 for none. */
  readonly vlan: number;
  /** Tagged VLANs of a trunk port, sorted, without duplicates. */
  readonly trunk: readonly number[];
  /** Keep the bridge's default PVID on the port instead of removing it. */
  readonly preserveDefaultVlan: boolean;
}

/** True when the bridge needs VLAN filtering for these settings. */
export function needsVlanFiltering(settings: VlanSettings): boolean {
  return settings.vlan !== 0 || settings.trunk.length > 0;
}

const isInteger = (value: unknown): value is number => typeof value === 'number' && Number.isInteger(value);

/**
 * Reads `vlanTrunk` ([{id}, {minID, maxID}, …]) into a sorted list of IDs,
 * with upstream's messages (plugins/main/bridge/bridge.go, collectVlanTrunk).
 */
export function parseVlanTrunk(raw: unknown): number[] {
  if (raw === undefined || raw === null) return [];
  if (!Array.isArray(raw)) throw invalidConfig('invalid network configuration: field "vlanTrunk" must be a list');
  const ids = new Set<number>();
  const inRange = (value: unknown): value is number => isInteger(value) && value > 0 && value <= maxVlanId;
  for (const item of raw as { minID?: unknown; maxID?: unknown; id?: unknown }[]) {
    const { minID, maxID, id } = item ?? {};
    if (minID !== undefined && maxID !== undefined) {
      if (!inRange(minID)) throw invalidConfig('incorrect trunk minID parameter');
      if (!inRange(maxID)) throw invalidConfig('incorrect trunk maxID parameter');
      if (maxID < minID) throw invalidConfig('minID is greater than maxID in trunk parameter');
      for (let vid = minID; vid <= maxID; vid += 1) ids.add(vid);
    } else if (minID === undefined && maxID !== undefined) {
      throw invalidConfig('minID and maxID should be configured simultaneously, minID is missing');
    } else if (minID !== undefined && maxID === undefined) {
      throw invalidConfig('minID and maxID should be configured simultaneously, maxID is missing');
    }
    if (id !== undefined) {
      if (!inRange(id)) throw invalidConfig('incorrect trunk id parameter');
      ids.add(id);
    }
  }
  return [...ids].sort((a, b) => a - b);
}

/** Consecutive IDs folded into `a-b` ranges, as `bridge vlan add vid` takes them. */
function ranges(ids: readonly number[]): string[] {
  const out: string[] = [];
  let start: number | undefined;
  let previous = -1;
  for (const id of [...ids, Number.NaN]) {
    if (start !== undefined && id === previous + 1) {
      previous = id;
      continue;
    }
    if (start !== undefined) out.push(start === previous ? String(start) : `${start}-${previous}`);
    start = id;
    previous = id;
  }
  return out;
}

/**
 * `bridge` commands that give a port its VLANs as upstream does: drop the
 * bridge's default PVID (unless preserved), then the access VLAN as PVID
 * untagged, the trunk VLANs tagged, and VLAN 1 as native VLAN of a trunk
 * without an access VLAN (plugins/main/bridge/bridge.go, setupVeth).
 */
export function portVlanLines(port: string, settings: VlanSettings, bridgeDefaultPvid: number): IpLine[] {
  if (!needsVlanFiltering(settings)) return [];
  const lines: IpLine[] = [];
  if (!settings.preserveDefaultVlan && bridgeDefaultPvid !== 0) lines.push(['vlan', 'del', 'dev', port, 'vid', String(bridgeDefaultPvid)]);
  if (settings.vlan !== 0) lines.push(['vlan', 'add', 'dev', port, 'vid', String(settings.vlan), 'pvid', 'untagged']);
  for (const range of ranges(settings.trunk)) lines.push(['vlan', 'add', 'dev', port, 'vid', range]);
  if (settings.vlan === 0 && settings.trunk.length > 0) lines.push(['vlan', 'add', 'dev', port, 'vid', '1', 'pvid', 'untagged']);
  return lines;
}

/** The name of the host interface that carries the gateway address of a VLAN: `<bridge>.<vlan>`. */
export function vlanGatewayName(bridge: string, vlan: number): string {
  return `${bridge}.${vlan}`;
}
