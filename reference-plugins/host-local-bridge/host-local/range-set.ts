import { invalidField } from './host-local-errors.js';
import type { IpAddress } from './ip-address.js';
import { formatRange, parseRange, rangeCapacity, rangeContains, rangesOverlap, type IpRange } from './ip-range.js';

/**
 * Ranges of one address family from which a single address is handed out per
 * ADD; a network config may hold several sets (e.g. one IPv4, one IPv6).
 */
export interface RangeSet {
  readonly ranges: readonly IpRange[];
  /** Where the set came from in the configuration, for error messages (`ipam.ranges[1]`). */
  readonly path: string;
}

/**
 * Reads a range set: a non-empty array of ranges of one family that do not
 * overlap. Errors name the field under `path`.
 * @see containernetworking/plugins plugins/ipam/host-local/backend/allocator/range_set.go (Canonicalize)
 */
export function parseRangeSet(raw: unknown, path: string): RangeSet {
  if (!Array.isArray(raw)) throw invalidField(path, 'must be an array of ranges');
  if (raw.length === 0) throw invalidField(path, 'is an empty range set');
  const ranges = raw.map((item, index) => parseRange(item, `${path}[${index}]`));
  const family = ranges[0]?.subnet.address.family;
  ranges.forEach((range, index) => {
    if (range.subnet.address.family !== family) throw invalidField(`${path}[${index}].subnet`, 'mixes address families within one range set');
  });
  ranges.forEach((range, index) => {
    ranges.slice(index + 1).forEach((other, offset) => {
      if (rangesOverlap(range, other)) {
        throw invalidField(`${path}[${index + offset + 1}]`, `overlaps with ${path}[${index}] (${formatRange(other)} and ${formatRange(range)})`);
      }
    });
  });
  return { ranges, path };
}

/** The range of the set that holds `ip`, if any. */
export function rangeFor(set: RangeSet, ip: IpAddress): IpRange | undefined {
  return set.ranges.find((range) => rangeContains(range, ip));
}

/** True when some range of the set holds `ip`. */
export function rangeSetContains(set: RangeSet, ip: IpAddress): boolean {
  return rangeFor(set, ip) !== undefined;
}

/** True when any range of one set overlaps any range of the other. */
export function rangeSetsOverlap(a: RangeSet, b: RangeSet): boolean {
  return a.ranges.some((range) => b.ranges.some((other) => rangesOverlap(range, other)));
}

/** The address family of the set's addresses. */
export function rangeSetFamily(set: RangeSet): 4 | 6 {
  return set.ranges[0]?.subnet.address.family ?? 4;
}

/** How many addresses the set can hand out in all, gateways excluded. */
export function rangeSetCapacity(set: RangeSet): bigint {
  return set.ranges.reduce((total, range) => total + rangeCapacity(range), 0n);
}

/** True when `ip` is the gateway of the set's range that holds it (never handed out). */
export function isGatewayOf(set: RangeSet, ip: IpAddress): boolean {
  const range = rangeFor(set, ip);
  return range !== undefined && range.gateway.value === ip.value;
}

/** `start-end,start-end`, as upstream prints a set in its messages. */
export function formatRangeSet(set: RangeSet): string {
  return set.ranges.map(formatRange).join(',');
}
