import { invalidField } from './host-local-errors.js';
import {
  addressBits,
  broadcastAddress,
  compareIp,
  formatCidr,
  formatIp,
  networkAddress,
  networkContains,
  nextIp,
  parseCidr,
  parseIp,
  sameIp,
  type IpAddress,
  type IpNetwork,
} from './ip-address.js';

/** One allocatable range: the addresses rangeStart..rangeEnd (both inclusive) of a subnet. */
export interface IpRange {
  /** The subnet, its address the network address. */
  readonly subnet: IpNetwork;
  readonly rangeStart: IpAddress;
  readonly rangeEnd: IpAddress;
  /** Handed out with every address of the range, never handed out itself. */
  readonly gateway: IpAddress;
}

function optionalAddress(raw: Record<string, unknown>, key: string, path: string): IpAddress | undefined {
  const value = raw[key];
  if (value === undefined || value === '') return undefined;
  if (typeof value !== 'string') throw invalidField(`${path}.${key}`, 'must be an IP address string');
  const ip = parseIp(value);
  if (ip === undefined) throw invalidField(`${path}.${key}`, `"${value}" is not an IP address`);
  return ip;
}

/**
 * Reads one range of the configuration and fills in upstream's defaults:
 * gateway and rangeStart default to network+1, rangeEnd to the last address
 * (the one before the broadcast for IPv4). Errors name the field under `path`.
 * @see containernetworking/plugins plugins/ipam/host-local/backend/allocator/range.go (Canonicalize, lastIP)
 */
export function parseRange(raw: unknown, path: string): IpRange {
  if (raw === null || typeof raw !== 'object' || Array.isArray(raw)) throw invalidField(path, 'must be an object');
  const fields = raw as Record<string, unknown>;
  const subnetText = fields['subnet'];
  if (subnetText === undefined || subnetText === '') throw invalidField(`${path}.subnet`, 'is required');
  if (typeof subnetText !== 'string') throw invalidField(`${path}.subnet`, 'must be a CIDR string');
  const written = parseCidr(subnetText);
  if (written === undefined) throw invalidField(`${path}.subnet`, `"${subnetText}" is not a CIDR`);
  const family = written.address.family;
  // A /31 or /32 (/127, /128) leaves nothing once network and gateway are taken.
  if (written.prefix > addressBits[family] - 2) throw invalidField(`${path}.subnet`, `network ${subnetText} is too small to allocate from`);
  const network = networkAddress(written);
  if (!sameIp(network, written.address)) {
    throw invalidField(`${path}.subnet`, `${subnetText} has host bits set; for a prefix of ${written.prefix} the network address is ${formatIp(network)}`);
  }
  const subnet: IpNetwork = { address: network, prefix: written.prefix };

  const gateway = optionalAddress(fields, 'gateway', path) ?? nextIp(network);
  // Upstream accepts a gateway outside the subnet (point-to-point setups), but not one of the other family.
  if (gateway.family !== family) throw invalidField(`${path}.gateway`, `${formatIp(gateway)} is not of the subnet's address family`);

  const rangeStart = optionalAddress(fields, 'rangeStart', path) ?? nextIp(network);
  if (!networkContains(subnet, rangeStart)) throw invalidField(`${path}.rangeStart`, `${formatIp(rangeStart)} is not in network ${formatCidr(subnet)}`);

  const broadcast = broadcastAddress(subnet);
  const rangeEnd = optionalAddress(fields, 'rangeEnd', path) ?? (family === 4 ? { family, value: broadcast.value - 1n } : broadcast);
  if (!networkContains(subnet, rangeEnd)) throw invalidField(`${path}.rangeEnd`, `${formatIp(rangeEnd)} is not in network ${formatCidr(subnet)}`);
  if (compareIp(rangeStart, rangeEnd) > 0) {
    throw invalidField(`${path}.rangeStart`, `${formatIp(rangeStart)} comes after rangeEnd ${formatIp(rangeEnd)}`);
  }
  return { subnet, rangeStart, rangeEnd, gateway };
}

/** True when `ip` is an address of the range (between rangeStart and rangeEnd, in the subnet). */
export function rangeContains(range: IpRange, ip: IpAddress): boolean {
  return networkContains(range.subnet, ip) && compareIp(ip, range.rangeStart) >= 0 && compareIp(ip, range.rangeEnd) <= 0;
}

/** True when two ranges share an address. */
export function rangesOverlap(a: IpRange, b: IpRange): boolean {
  if (a.subnet.address.family !== b.subnet.address.family) return false;
  return compareIp(a.rangeStart, b.rangeEnd) <= 0 && compareIp(b.rangeStart, a.rangeEnd) <= 0;
}

/** How many addresses the range can hand out (its gateway excluded). */
export function rangeCapacity(range: IpRange): bigint {
  const size = range.rangeEnd.value - range.rangeStart.value + 1n;
  return rangeContains(range, range.gateway) ? size - 1n : size;
}

/** `rangeStart-rangeEnd`, as upstream prints a range in its messages. */
export function formatRange(range: IpRange): string {
  return `${formatIp(range.rangeStart)}-${formatIp(range.rangeEnd)}`;
}
