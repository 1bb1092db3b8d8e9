import net from 'node:net';

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

/** Parses a plain address (no prefix); undefined when it is not one. */
export function parseAddress(text: string): { family: IpFamily; value: bigint } | undefined {
  const kind = net.isIP(text);
  if (kind === 4) {
    return { family: '4', value: text.split('.').reduce((sum, part) => (sum << 8n) | BigInt(Number(part)), 0n) };
  }
  if (kind !== 6) return undefined;
  // An embedded IPv4 tail (::ffff:1.2.3.4) becomes two hex groups first.
  const tail = /(\d+\.\d+\.\d+\.\d+)$/.exec(text);
  let body = text;
  if (tail?.[1] !== undefined) {
    const v4 = parseAddress(tail[1])!.value;
    body = `${text.slice(0, tail.index)}${(v4 >> 16n).toString(16)}:${(v4 & 0xffffn).toString(16)}`;
  }
  const [head = '', rest] = body.split('::');
  const headGroups = head === '' ? [] : head.split(':');
  const restGroups = rest === undefined || rest === '' ? [] : rest.split(':');
  const groups = rest === undefined ? headGroups : [...headGroups, ...Array<string>(8 - headGroups.length - restGroups.length).fill('0'), ...restGroups];
  return { family: '6', value: groups.reduce((sum, group) => (sum << 16n) | BigInt(parseInt(group, 16)), 0n) };
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

/** Formats an address the way iproute2 prints it (RFC 5952 for IPv6). */
export function formatAddress(family: IpFamily, value: bigint): string {
  if (family === '4') return [24n, 16n, 8n, 0n].map((shift) => String((value >> shift) & 0xffn)).join('.');
  const groups = [112n, 96n, 80n, 64n, 48n, 32n, 16n, 0n].map((shift) => Number((value >> shift) & 0xffffn));
  // RFC 5952: compress the longest run of two or more zero groups, the first on a tie.
  let bestStart = -1;
  let bestLength = 1;
  for (let start = 0; start < 8; start += 1) {
    let length = 0;
    while (start + length < 8 && groups[start + length] === 0) length += 1;
    if (length > bestLength) {
      bestStart = start;
      bestLength = length;
    }
  }
  const hex = groups.map((group) => group.toString(16));
  if (bestStart < 0) return hex.join(':');
  return `${hex.slice(0, bestStart).join(':')}::${hex.slice(bestStart + bestLength).join(':')}`;
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
