/**
 * The parts of iproute2's JSON output (`ip -j`, `ip -d -j`) the plugin reads.
 * Field names are iproute2's; everything not listed is ignored.
 */

/** One address of `ip -j addr show`. */
export interface IpAddressInfo {
  readonly family: 'inet' | 'inet6' | string;
  readonly local: string;
  readonly prefixlen: number;
  readonly scope?: string;
  readonly tentative?: boolean;
  readonly dadfailed?: boolean;
}

/** One link of `ip -j [-d] link show` or `ip -j [-d] addr show`. */
export interface IpLink {
  readonly ifindex: number;
  readonly ifname: string;
  /** For a veth: the peer's ifindex, in the peer's namespace. */
  readonly link_index?: number;
  readonly flags: readonly string[];
  readonly mtu: number;
  readonly master?: string;
  readonly operstate: string;
  readonly address?: string;
  readonly linkinfo?: {
    readonly info_kind?: string;
    readonly info_data?: { readonly vlan_filtering?: number; readonly vlan_default_pvid?: number };
    readonly info_slave_kind?: string;
    readonly info_slave_data?: { readonly state?: string; readonly hairpin?: boolean; readonly isolated?: boolean };
  };
  readonly addr_info?: readonly IpAddressInfo[];
}

/** One route of `ip -j route show table all`. */
export interface IpRoute {
  /** A prefix, a plain address for a host route, or "default". */
  readonly dst: string;
  readonly gateway?: string;
  readonly dev?: string;
  readonly type?: string;
  readonly table?: string;
  readonly metric?: number;
}

/**
 * Splits output holding several JSON texts one after another (what
 * `ip -j -batch -` prints: one array per show command) into their values.
 */
export function parseJsonSequence(text: string): unknown[] {
  const values: unknown[] = [];
  let depth = 0;
  let start = -1;
  let inString = false;
  for (let i = 0; i < text.length; i += 1) {
    const char = text[i];
    if (inString) {
      if (char === '\\') i += 1;
      else if (char === '"') inString = false;
      continue;
    }
    if (char === '"') inString = true;
    else if (char === '[' || char === '{') {
      if (depth === 0) start = i;
      depth += 1;
    } else if (char === ']' || char === '}') {
      depth -= 1;
      if (depth === 0) values.push(JSON.parse(text.slice(start, i + 1)));
    }
  }
  return values;
}

/** The links of JSON outputs that list links, flattened. */
export function linksOf(outputs: readonly unknown[]): IpLink[] {
  return outputs.flatMap((output) => (Array.isArray(output) ? (output as IpLink[]).filter((link) => typeof link?.ifname === 'string') : []));
}
