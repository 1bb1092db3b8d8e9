import { CniError } from './cni-error.js';
import type { AnyResult, Ip020, IpConfig040, Result020, Result040, Result100, Route } from './types.js';
import { atLeast, isCniVersion } from './versions.js';

/** Which result shape a version uses. */
export function resultFamily(version: string): '020' | '040' | '100' {
  if (atLeast(version, '1.0.0')) return '100';
  if (atLeast(version, '0.3.0')) return '040';
  return '020';
}

/** The address family of a CIDR or address: 4 or 6. */
export function familyOf(address: string): '4' | '6' {
  return address.includes(':') ? '6' : '4';
}

/**
 * Converts a result to another spec version the way libcni does
 * (containernetworking/cni v1.3.0, pkg/types/{020,040,100} convert.go):
 * 1.x ↔ 0.3/0.4 differ by each address's `version` and by the interface
 * fields 1.1.0 added (0.3/0.4 keep name, mac, sandbox); going down to 0.1/0.2
 * keeps the first address of each family with its gateway, sorts routes by
 * family keeping dst and gw, and drops interfaces; going up from 0.1/0.2 turns
 * ip4/ip6 into `ips` and collects their routes. Nothing the target can
 * represent is lost.
 */
export function convertResult(result: AnyResult, toVersion: string): AnyResult {
  if (!isCniVersion(toVersion)) {
    throw new CniError({ code: 'INCOMPATIBLE_VERSION', msg: 'unsupported result version', details: toVersion });
  }
  const source = toResult100(result);
  switch (resultFamily(toVersion)) {
    case '100':
      return { ...source, cniVersion: toVersion };
    case '040':
      return to040(source, toVersion);
    case '020':
      return to020(source, toVersion);
  }
}

/** Reads a result of any version into the 1.0.0 shape (with its own cniVersion kept). */
export function toResult100(result: AnyResult): Result100 {
  const family = resultFamily(result.cniVersion);
  if (family === '020') return from020(result as Result020);
  const { ips, ...rest } = result as Result040;
  return {
    ...rest,
    ...(ips === undefined ? {} : { ips: ips.map(({ version: _version, ...ip }) => ip) }),
  };
}

function to040(source: Result100, cniVersion: string): Result040 {
  const { ips, interfaces, ...rest } = source;
  const converted: Result040 = { ...rest, cniVersion };
  // 0.3/0.4 interfaces know only name, mac and sandbox (libcni pkg/types/040).
  if (interfaces !== undefined) {
    converted.interfaces = interfaces.map(({ name, mac, sandbox }) => ({
      name,
      ...(mac === undefined ? {} : { mac }),
      ...(sandbox === undefined ? {} : { sandbox }),
    }));
  }
  if (ips !== undefined) {
    converted.ips = ips.map((ip): IpConfig040 => ({ ...ip, version: familyOf(ip.address) }));
  }
  return converted;
}

function to020(source: Result100, cniVersion: string): Result020 {
  const converted: Result020 = { cniVersion };
  for (const family of ['4', '6'] as const) {
    const ip = source.ips?.find((candidate) => familyOf(candidate.address) === family);
    if (ip === undefined) continue;
    // 0.1/0.2 routes know only dst and gw (libcni pkg/types/020).
    const routes = (source.routes ?? [])
      .filter((route) => familyOf(route.dst) === family)
      .map(({ dst, gw }) => ({ dst, ...(gw === undefined ? {} : { gw }) }));
    const part: Ip020 = { ip: ip.address };
    if (ip.gateway !== undefined) part.gateway = ip.gateway;
    if (routes.length > 0) part.routes = routes;
    if (family === '4') converted.ip4 = part;
    else converted.ip6 = part;
  }
  if (converted.ip4 === undefined && converted.ip6 === undefined) {
    throw new CniError({
      code: 'INCOMPATIBLE_VERSION',
      msg: `cannot convert to ${cniVersion}`,
      details: 'a 0.1.0/0.2.0 result needs at least one IP address',
    });
  }
  if (source.dns !== undefined) converted.dns = source.dns;
  return converted;
}

function from020(result: Result020): Result100 {
  const ips: Result100['ips'] = [];
  const routes: Route[] = [];
  for (const part of [result.ip4, result.ip6]) {
    if (part === undefined) continue;
    ips.push({ address: part.ip, ...(part.gateway === undefined ? {} : { gateway: part.gateway }) });
    routes.push(...(part.routes ?? []));
  }
  return {
    cniVersion: result.cniVersion,
    ...(ips.length === 0 ? {} : { ips }),
    ...(routes.length === 0 ? {} : { routes }),
    ...(result.dns === undefined ? {} : { dns: result.dns }),
  };
}
