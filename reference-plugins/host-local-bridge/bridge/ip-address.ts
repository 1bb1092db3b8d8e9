import { formatIp, parseIp } from '../host-local/ip-address.js';

/** An address family as CNI results spell it. */
export type IpFamily = '4' | '6';

/** An address with its prefix length, e.g. 10.1.0.5/24, as numbers for arithmetic. */
export interface Cidr {
  readonly family: IpFamily;
  /** The address bits (32 or 128 of them). */
  readonly value: bigint;
  readonly prefix: number;
}

const bitsOf = (family: IpFamily): number => (family === '4' ? 32 : 128);

/**
 * Parses a plain address (no prefix); undefined when it is not one. Unlike
 * host-local (which follows Go and reads ::ffff:1.2.3.4 as IPv4), the
 * bridge keeps what iproute2 keeps: an IPv6 address.
 */
export function parseAddress(text: string): { family: IpFamily; value: bigint } | undefined {
  const ip = parseIp(text);
  if (ip === undefined) return undefined;
  if (text.includes(':')) return { family: '6', value: ip.family === 4 ? (0xffffn << 32n) | ip.value : ip.value };
  return { family: '4', value: ip.value };
}

/** Parses `address/prefix`; undefined when it is not a CIDR. */
export function parseCidr(text: string): Cidr | undefined {
  const slash = text.indexOf('/');
  if (slash < 0) return undefined;
  const address = parseAddress(text.slice(0, slash));
  const prefixText = text.slice(slash + 1);
  if (address === undefined || !/^\d{1,3}$/.test(prefixText)) return undefined;
  const prefix = Number(prefixText);
  if (prefix > bitsOf(address.family)) return undefined;
  return { ...address, prefix };
}

/** Formats an address the way iproute2 prints it (RFC 5952 for IPv6, as host-local's formatter). */
export function formatAddress(family: IpFamily, value: bigint): string {
  return formatIp({ family: family === '4' ? 4 : 6, value });
}

/** The CIDR in iproute2's canonical spelling, e.g. `fd00::5/64`. */
export function formatCidr(cidr: Cidr): string {
  return `${formatAddress(cidr.family, cidr.value)}/${cidr.prefix}`;
}

/** The address of a CIDR without its host bits, e.g. 10.1.0.0 for 10.1.0.5/24. */
export function networkOf(cidr: Cidr): Cidr {
  const hostBits = BigInt(bitsOf(cidr.family) - cidr.prefix);
  return { ...cidr, value: (cidr.value >> hostBits) << hostBits };
}

/** True when `inner`'s address lies inside `outer`'s subnet. */
export function contains(outer: Cidr, inner: { family: IpFamily; value: bigint }): boolean {
  if (outer.family !== inner.family) return false;
  const hostBits = BigInt(bitsOf(outer.family) - outer.prefix);
  return outer.value >> hostBits === inner.value >> hostBits;
}

/** The first address after the network address: what upstream bridge picks as gateway when IPAM gives none. */
export function firstHostOf(cidr: Cidr): string {
  return formatAddress(cidr.family, networkOf(cidr).value + 1n);
}

/** The family of an address or CIDR text. */
export function familyOfText(text: string): IpFamily {
  return text.includes(':') ? '6' : '4';
}

/** The canonical spelling of an address or CIDR, or the text itself when it does not parse. */
export function canonical(text: string): string {
  const cidr = parseCidr(text);
  if (cidr !== undefined) return formatCidr(cidr);
  const address = parseAddress(text);
  return address === undefined ? text : formatAddress(address.family, address.value);
}
