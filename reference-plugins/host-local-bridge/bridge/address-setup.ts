import type { IpConfig, Result100, Route } from '../../../specs/cni/types.js';
import { invalidConfig } from './bridge-errors.js';
import { canonical, contains, familyOfText, firstHostOf, formatCidr, parseAddress, parseCidr, type Cidr, type IpFamily } from './ip-address.js';
import type { IpAddressInfo } from './ip-json.js';
import type { IpLine } from './iproute.js';

/** Index of the container interface in the result's `interfaces` (bridge, host veth, container). */
export const containerInterfaceIndex = 2;

const defaultDestination = { '4': '0.0.0.0/0', '6': '::/0' } as const;

/** The IPAM result made into the bridge's, plus the gateway addresses the bridge must hold. */
export interface GatewayPlan {
  /** ips point at the container interface, gateways filled in, default routes added as configured. */
  readonly result: Result100;
  /** Gateway addresses with the prefix of their subnet, in IPAM order (upstream's gwsV4 then gwsV6). */
  readonly bridgeAddresses: readonly Cidr[];
  /** Families that have a gateway on the bridge, so forwarding must be on. */
  readonly forwardingFamilies: readonly IpFamily[];
}

/**
 * What upstream's calcGateways does (plugins/main/bridge/bridge.go): every
 * address belongs to the container interface; with isGateway an address
 * without a gateway gets its subnet's first host; with isDefaultGateway each
 * family gets a default route via its first gateway unless IPAM already gave
 * one with a gateway; the gateways (with isGateway) go on the bridge.
 */
export function planGateways(ipamResult: Result100, options: { isGateway: boolean; isDefaultGateway: boolean }): GatewayPlan {
  const routes: Route[] = [...(ipamResult.routes ?? [])];
  const defaultRouteFound = new Set<IpFamily>();
  const gateways: Record<IpFamily, Cidr[]> = { '4': [], '6': [] };
  const ips: IpConfig[] = (ipamResult.ips ?? []).map((ip) => {
    const cidr = parseCidr(ip.address)!;
    const gateway = ip.gateway ?? (options.isGateway ? firstHostOf(cidr) : undefined);
    if (options.isDefaultGateway && !defaultRouteFound.has(cidr.family)) {
      const given = routes.some((route) => route.gw !== undefined && canonical(route.dst) === defaultDestination[cidr.family]);
      if (!given) routes.push({ dst: defaultDestination[cidr.family], ...(gateway === undefined ? {} : { gw: gateway }) });
      defaultRouteFound.add(cidr.family);
    }
    const address = gateway === undefined ? undefined : parseAddress(gateway);
    if (options.isGateway && address !== undefined) gateways[cidr.family].push({ ...address, prefix: cidr.prefix });
    return { ...ip, interface: containerInterfaceIndex, ...(gateway === undefined ? {} : { gateway }) };
  });
  return {
    result: { ...ipamResult, ips, ...(routes.length === 0 ? {} : { routes }) },
    bridgeAddresses: [...gateways['4'], ...gateways['6']],
    forwardingFamilies: (['4', '6'] as const).filter((family) => gateways[family].length > 0),
  };
}

/**
 * Commands that address the container interface, bring it up and add the
 * routes, as upstream's ipam.ConfigureIface (pkg/ipam/ipam_linux.go): a
 * route without a gateway goes via the first gateway of its family, else
 * on-link; routes are appended (ECMP-safe). IPv6 addresses skip DAD unless
 * `enabledad` (upstream turns accept_dad off for the same effect).
 */
export function containerAddressLines(ifName: string, result: Result100, options: { enableDad: boolean }): { addresses: IpLine[]; routes: IpLine[] } {
  const firstGateway: Partial<Record<IpFamily, string>> = {};
  const addresses: IpLine[] = [];
  for (const ip of result.ips ?? []) {
    const family = familyOfText(ip.address);
    if (ip.gateway !== undefined && firstGateway[family] === undefined) firstGateway[family] = ip.gateway;
    addresses.push(['addr', 'add', ip.address, 'dev', ifName, ...(family === '6' && !options.enableDad ? ['nodad'] : [])]);
  }
  addresses.push(['link', 'set', 'dev', ifName, 'up']);
  const routes = (result.routes ?? []).map((route): IpLine => {
    const gateway = route.gw ?? firstGateway[familyOfText(route.dst)];
    return [
      'route', 'append', route.dst,
      ...(gateway === undefined ? [] : ['via', gateway]),
      'dev', ifName,
      ...(route.priority === undefined ? [] : ['metric', String(route.priority)]),
      ...(route.table === undefined ? [] : ['table', String(route.table)]),
      ...(route.scope === undefined ? [] : ['scope', String(route.scope)]),
      ...(route.mtu === undefined ? [] : ['mtu', String(route.mtu)]),
      ...(route.advmss === undefined ? [] : ['advmss', String(route.advmss)]),
    ];
  });
  return { addresses, routes };
}

const cidrOfInfo = (info: IpAddressInfo): Cidr | undefined => parseCidr(`${info.local}/${info.prefixlen}`);

/**
 * Commands that put the gateway addresses on the bridge (or the VLAN's
 * gateway interface), as upstream's ensureAddr: an address already there is
 * kept; another IPv4 address, or an overlapping IPv6 one, is replaced with
 * `forceAddress` and an error otherwise. Returns no commands when all are in
 * place.
 */
export function gatewayAddressLines(device: string, present: readonly IpAddressInfo[], wanted: readonly Cidr[], options: { forceAddress: boolean }): IpLine[] {
  const current = present.flatMap((info) => {
    const cidr = cidrOfInfo(info);
    return cidr === undefined ? [] : [cidr];
  });
  const lines: IpLine[] = [];
  for (const gateway of wanted) {
    const text = formatCidr(gateway);
    if (current.some((cidr) => formatCidr(cidr) === text)) continue;
    for (const cidr of [...current]) {
      if (cidr.family !== gateway.family) continue;
      if (gateway.family === '4' || contains(cidr, gateway) || contains(gateway, cidr)) {
        if (!options.forceAddress) {
          throw invalidConfig(`failed to set bridge addr: "${device}" already has an IP address different from ${text}`, 'set forceAddress to replace it');
        }
        lines.push(['addr', 'del', formatCidr(cidr), 'dev', device]);
        current.splice(current.indexOf(cidr), 1);
      }
    }
    // replace, not add: a concurrent ADD may have put the same gateway there since we looked (upstream ignores EEXIST).
    lines.push(['addr', 'replace', text, 'dev', device]);
    current.push(gateway);
  }
  return lines;
}
