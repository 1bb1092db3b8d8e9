/**
 * IP addresses and networks as bigints, for IPv4 and IPv6 alike, parsed and
 * printed the way Go's `net` package does: host-local names its reservation
 * files by `net.IP.String()`, so our file names must match it byte for byte.
 */

/** An address family by its IP version. */
export type IpFamily = 4 | 6;

/** Bits in an address of each family. */
export const addressBits = { 4: 32, 6: 128 } as const;

/** One IP address; an IPv4-mapped IPv6 address is always stored as IPv4, as Go's `To4()` canonicalises it. */
export interface IpAddress {
  readonly family: IpFamily;
  readonly value: bigint;
}

/** An address with a prefix length, host bits kept (like CNI's `types.ParseCIDR`). */
export interface IpNetwork {
  readonly address: IpAddress;
  readonly prefix: number;
}

const ipv4Part = /^(0|[1-9][0-9]{0,2})$/;
const hexGroup = /^[0-9a-fA-F]{1,4}$/;

function parseIpv4(text: string): bigint | undefined {
  const parts = text.split('.');
  if (parts.length !== 4) return undefined;
  let value = 0n;
  for (const part of parts) {
    // Go's parser refuses leading zeros (Go 1.17+), which would otherwise read as octal elsewhere.
    if (!ipv4Part.test(part)) return undefined;
    const byte = Number(part);
    if (byte > 255) return undefined;
    value = (value << 8n) | BigInt(byte);
  }
  return value;
}

function parseGroups(text: string): bigint[] | undefined {
  if (text === '') return [];
  const groups: bigint[] = [];
  const pieces = text.split(':');
  for (const [index, piece] of pieces.entries()) {
    if (index === pieces.length - 1 && piece.includes('.')) {
      const ipv4 = parseIpv4(piece);
      if (ipv4 === undefined) return undefined;
      groups.push(ipv4 >> 16n, ipv4 & 0xffffn);
    } else {
      if (!hexGroup.test(piece)) return undefined;
      groups.push(BigInt(`0x${piece}`));
    }
  }
  return groups;
}

function parseIpv6(text: string): bigint | undefined {
  const halves = text.split('::');
  if (halves.length > 2) return undefined;
  const head = parseGroups(halves[0] ?? '');
  const tail = halves.length === 2 ? parseGroups(halves[1] ?? '') : [];
  if (head === undefined || tail === undefined) return undefined;
  // A dotted quad may only end the address.
  if (halves.length === 2 && (halves[0] ?? '').includes('.')) return undefined;
  const explicit = head.length + tail.length;
  if (halves.length === 1 ? explicit !== 8 : explicit > 7) return undefined;
  const groups = [...head, ...Array<bigint>(8 - explicit).fill(0n), ...tail];
  return groups.reduce((value, group) => (value << 16n) | group, 0n);
}

/** Parses an IPv4 or IPv6 address; undefined when the text is not one. */
export function parseIp(text: string): IpAddress | undefined {
  if (!text.includes(':')) {
    const value = parseIpv4(text);
    return value === undefined ? undefined : { family: 4, value };
  }
  const value = parseIpv6(text);
  if (value === undefined) return undefined;
  if (value >> 32n === 0xffffn) return { family: 4, value: value & 0xffffffffn };
  return { family: 6, value };
}

/** Parses `address/prefix`; undefined when it is not a CIDR. */
export function parseCidr(text: string): IpNetwork | undefined {
  const slash = text.indexOf('/');
  if (slash < 0) return undefined;
  const addressText = text.slice(0, slash);
  const prefixText = text.slice(slash + 1);
  if (!/^(0|[1-9][0-9]{0,2})$/.test(prefixText)) return undefined;
  const address = parseIp(addressText);
  if (address === undefined) return undefined;
  const prefix = Number(prefixText);
  // An IPv4-mapped address keeps an IPv6 mask in Go, which host-local then rejects as a family mismatch.
  const written: IpFamily = addressText.includes(':') ? 6 : 4;
  if (written !== address.family || prefix > addressBits[address.family]) return undefined;
  return { address, prefix };
}

/** Prints an address as Go's `net.IP.String()` does (RFC 5952 for IPv6). */
export function formatIp(ip: IpAddress): string {
  if (ip.family === 4) {
    return [24n, 16n, 8n, 0n].map((shift) => String((ip.value >> shift) & 0xffn)).join('.');
  }
  const groups = Array.from({ length: 8 }, (_, index) => Number((ip.value >> BigInt(112 - 16 * index)) & 0xffffn));
  // The first longest run of two or more zero groups becomes "::".
  let bestStart = -1;
  let bestLength = 1;
  for (let start = 0; start < 8; ) {
    if (groups[start] !== 0) {
      start += 1;
      continue;
    }
    let end = start;
    while (end < 8 && groups[end] === 0) end += 1;
    if (end - start > bestLength) {
      bestStart = start;
      bestLength = end - start;
    }
    start = end;
  }
  const hex = groups.map((group) => group.toString(16));
  if (bestStart < 0) return hex.join(':');
  return `${hex.slice(0, bestStart).join(':')}::${hex.slice(bestStart + bestLength).join(':')}`;
}

/** Prints a network as `address/prefix`. */
export function formatCidr(network: IpNetwork): string {
  return `${formatIp(network.address)}/${network.prefix}`;
}

/** Orders addresses: IPv4 before IPv6, then numerically. */
export function compareIp(a: IpAddress, b: IpAddress): number {
  if (a.family !== b.family) return a.family - b.family;
  return a.value < b.value ? -1 : a.value > b.value ? 1 : 0;
}

/** True when both are the same address. */
export function sameIp(a: IpAddress, b: IpAddress): boolean {
  return a.family === b.family && a.value === b.value;
}

/** The address after `ip`, wrapping to zero past the last one as Go's `ip.NextIP` does. */
export function nextIp(ip: IpAddress): IpAddress {
  return { family: ip.family, value: (ip.value + 1n) & allOnes(ip.family) };
}

/** The address `offset` after `ip` (no wrapping: callers stay inside a range). */
export function addToIp(ip: IpAddress, offset: bigint): IpAddress {
  return { family: ip.family, value: ip.value + offset };
}

function allOnes(family: IpFamily): bigint {
  return (1n << BigInt(addressBits[family])) - 1n;
}

function hostMask(network: IpNetwork): bigint {
  return (1n << BigInt(addressBits[network.address.family] - network.prefix)) - 1n;
}

/** The network's own address: the given address with its host bits cleared. */
export function networkAddress(network: IpNetwork): IpAddress {
  return { family: network.address.family, value: network.address.value & ~hostMask(network) & allOnes(network.address.family) };
}

/** The network's highest address (the IPv4 broadcast address). */
export function broadcastAddress(network: IpNetwork): IpAddress {
  return { family: network.address.family, value: networkAddress(network).value | hostMask(network) };
}

/** True when `ip` lies inside `network`. */
export function networkContains(network: IpNetwork, ip: IpAddress): boolean {
  return ip.family === network.address.family && (ip.value & ~hostMask(network)) === networkAddress(network).value;
}

/** Parses an address written with or without a prefix (`10.1.0.5` or `10.1.0.5/24`), as plugins' `ip.ParseIP` does; the prefix is dropped. */
export function parseIpAllowingPrefix(text: string): IpAddress | undefined {
  return text.includes('/') ? parseCidr(text)?.address : parseIp(text);
}
