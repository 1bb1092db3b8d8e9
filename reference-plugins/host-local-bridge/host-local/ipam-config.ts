import type { Dns, JsonObject, NetConf, Route } from '../../../specs/cni/types.js';
import { atLeast } from '../../../specs/cni/versions.js';
import { invalidField } from './host-local-errors.js';
import { parseIpamArgs } from './ipam-args.js';
import { formatIp, parseCidr, parseIp, parseIpAllowingPrefix, sameIp, type IpAddress } from './ip-address.js';
import { parseRange } from './ip-range.js';
import { parseRangeSet, rangeSetFamily, rangeSetsOverlap, type RangeSet } from './range-set.js';

/** Where host-local keeps reservations when `ipam.dataDir` is unset (upstream's default). */
export const defaultDataDir = '/var/lib/cni/networks';

/** An address the runtime asked for, and where the request came from. */
export interface RequestedAddress {
  readonly ip: IpAddress;
  readonly source: string;
}

/** Everything host-local acts on, read from the network config and CNI_ARGS. */
export interface HostLocalConfig {
  /** The network's name: reservations live in `<dataDir>/<network>/`. */
  readonly network: string;
  readonly cniVersion: string;
  readonly dataDir: string;
  /** In allocation order: runtimeConfig.ipRanges, then the legacy single range, then ipam.ranges. */
  readonly rangeSets: readonly RangeSet[];
  readonly routes: readonly Route[];
  readonly dns?: Dns;
  /** A resolv.conf to read DNS settings from at ADD (upstream's `resolvConf`). */
  readonly resolvConf?: string;
  /** Specific addresses to hand out, each from the range set that holds it. */
  readonly requestedAddresses: readonly RequestedAddress[];
}

function isObject(value: unknown): value is JsonObject {
  return value !== null && typeof value === 'object' && !Array.isArray(value);
}

function optionalString(object: JsonObject, key: string, path: string): string | undefined {
  const value = object[key];
  if (value === undefined || value === '') return undefined;
  if (typeof value !== 'string') throw invalidField(path, 'must be a string');
  return value;
}

function stringList(value: unknown, path: string): string[] | undefined {
  if (value === undefined) return undefined;
  if (!Array.isArray(value) || !value.every((item) => typeof item === 'string')) throw invalidField(path, 'must be an array of strings');
  return value as string[];
}

function parseRangeSets(value: unknown, path: string): RangeSet[] {
  if (value === undefined) return [];
  if (!Array.isArray(value)) throw invalidField(path, 'must be an array of range sets');
  return value.map((set, index) => parseRangeSet(set, `${path}[${index}]`));
}

/**
 * The legacy form: one range written straight into the ipam section, used
 * only when `subnet` is set; without it upstream ignores rangeStart, rangeEnd
 * and gateway there, and so do we, so its configs keep working.
 */
function parseLegacyRange(ipam: JsonObject): RangeSet[] {
  if (ipam['subnet'] === undefined || ipam['subnet'] === '') return [];
  // Errors name the fields where they were written: ipam.subnet, not ipam[0].subnet.
  return [{ ranges: [parseRange(ipam, 'ipam')], path: 'ipam' }];
}

function parseRoutes(value: unknown): Route[] {
  if (value === undefined || value === null) return [];
  if (!Array.isArray(value)) throw invalidField('ipam.routes', 'must be an array of routes');
  return value.map((raw, index): Route => {
    const path = `ipam.routes[${index}]`;
    if (!isObject(raw)) throw invalidField(path, 'must be an object');
    if (typeof raw['dst'] !== 'string') throw invalidField(`${path}.dst`, 'is required and must be a CIDR string');
    const dst = parseCidr(raw['dst']);
    if (dst === undefined) throw invalidField(`${path}.dst`, `"${raw['dst']}" is not a CIDR`);
    // Re-printed in Go's canonical form, as upstream's result is re-marshalled from parsed routes.
    const route: Route = { dst: `${formatIp(dst.address)}/${dst.prefix}` };
    if (raw['gw'] !== undefined && raw['gw'] !== '') {
      const gw = typeof raw['gw'] === 'string' ? parseIp(raw['gw']) : undefined;
      if (gw === undefined) throw invalidField(`${path}.gw`, 'must be an IP address');
      route.gw = formatIp(gw);
    }
    for (const key of ['mtu', 'advmss', 'priority', 'table', 'scope'] as const) {
      const number = raw[key];
      if (number === undefined) continue;
      if (typeof number !== 'number' || !Number.isInteger(number)) throw invalidField(`${path}.${key}`, 'must be an integer');
      route[key] = number;
    }
    return route;
  });
}

function parseDns(value: unknown): Dns | undefined {
  if (value === undefined) return undefined;
  if (!isObject(value)) throw invalidField('ipam.dns', 'must be an object');
  const dns: Dns = {};
  const nameservers = stringList(value['nameservers'], 'ipam.dns.nameservers');
  const search = stringList(value['search'], 'ipam.dns.search');
  const options = stringList(value['options'], 'ipam.dns.options');
  const domain = value['domain'];
  if (domain !== undefined && typeof domain !== 'string') throw invalidField('ipam.dns.domain', 'must be a string');
  if (nameservers !== undefined) dns.nameservers = nameservers;
  if (typeof domain === 'string') dns.domain = domain;
  if (search !== undefined) dns.search = search;
  if (options !== undefined) dns.options = options;
  return dns;
}

function requestedFromList(value: unknown, path: string): RequestedAddress[] {
  if (value === undefined || value === null) return [];
  if (!Array.isArray(value)) throw invalidField(path, 'must be an array of IP addresses');
  return value.map((item, index) => {
    const ip = typeof item === 'string' ? parseIpAllowingPrefix(item) : undefined;
    if (ip === undefined) throw invalidField(`${path}[${index}]`, `${JSON.stringify(item)} is not an IP address`);
    return { ip, source: `${path}[${index}]` };
  });
}

/**
 * Reads host-local's configuration from the whole network config (IPAM
 * plugins get their caller's config, `ipam` section included) and CNI_ARGS.
 * Problems are INVALID_NETWORK_CONFIG naming the field, or
 * INVALID_ENVIRONMENT for CNI_ARGS.
 * @see containernetworking/plugins plugins/ipam/host-local/backend/allocator/config.go (LoadIPAMConfig)
 */
export function loadHostLocalConfig(conf: NetConf, cniArgs: readonly (readonly [string, string])[]): HostLocalConfig {
  const ipam = conf.ipam;
  if (!isObject(ipam)) throw invalidField('ipam', 'is required (host-local reads its ranges from it)');
  const envArgs = parseIpamArgs(cniArgs);
  const runtimeConfig = isObject(conf.runtimeConfig) ? conf.runtimeConfig : {};
  const cniArgsInConfig = isObject(conf.args) && isObject(conf.args['cni']) ? conf.args['cni'] : {};

  // A key given in args wins over the same key in CNI_ARGS (CONVENTIONS.md; CNI-CONV-021), where upstream
  // host-local asks for both; then runtimeConfig.ips; one address is asked for once.
  const fromArgs = requestedFromList(cniArgsInConfig['ips'], 'args.cni.ips');
  const requested: RequestedAddress[] = [
    ...(envArgs.ip === undefined || fromArgs.length > 0 ? [] : [{ ip: envArgs.ip, source: 'CNI_ARGS IP' }]),
    ...fromArgs,
    ...requestedFromList(runtimeConfig['ips'], 'runtimeConfig.ips'),
  ].filter((request, index, all) => all.findIndex((other) => sameIp(other.ip, request.ip)) === index);

  const rangeSets = [
    ...parseRangeSets(runtimeConfig['ipRanges'], 'runtimeConfig.ipRanges'),
    ...parseLegacyRange(ipam),
    ...parseRangeSets(ipam['ranges'], 'ipam.ranges'),
  ];
  if (rangeSets.length === 0) throw invalidField('ipam.ranges', 'is required: no IP ranges specified');

  // 0.1.0 and 0.2.0 results hold one address per family.
  if (!atLeast(conf.cniVersion, '0.3.0')) {
    for (const family of [4, 6] as const) {
      const sets = rangeSets.filter((set) => rangeSetFamily(set) === family);
      if (sets.length > 1) throw invalidField(sets[1]?.path ?? 'ipam.ranges', `is a second IPv${family} range set, which CNI version ${conf.cniVersion} cannot return`);
    }
  }
  rangeSets.forEach((set, index) => {
    const earlier = rangeSets.slice(0, index).find((other) => rangeSetsOverlap(other, set));
    if (earlier !== undefined) throw invalidField(set.path, `overlaps with ${earlier.path}`);
  });

  const dataDir = optionalString(ipam, 'dataDir', 'ipam.dataDir') ?? defaultDataDir;
  const resolvConf = optionalString(ipam, 'resolvConf', 'ipam.resolvConf');
  const dns = parseDns(ipam['dns']);
  return {
    network: conf.name,
    cniVersion: conf.cniVersion,
    dataDir,
    rangeSets,
    routes: parseRoutes(ipam['routes']),
    ...(dns === undefined ? {} : { dns }),
    ...(resolvConf === undefined ? {} : { resolvConf }),
    requestedAddresses: requested,
  };
}
