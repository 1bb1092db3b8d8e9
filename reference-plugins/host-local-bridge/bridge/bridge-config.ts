import { CniError } from '../../../specs/cni/cni-error.js';
import { resultFamily } from '../../../specs/cni/result-conversion.js';
import type { PluginRequest } from '../../../specs/cni/skeleton.js';
import type { Dns, NetConf } from '../../../specs/cni/types.js';
import { interfaceNameProblem } from '../../../specs/cni/validate.js';
import { invalidConfig } from './bridge-errors.js';
import { maxVlanId, parseVlanTrunk, type VlanSettings } from './vlan.js';

/** The bridge name upstream uses when the configuration names none. */
export const defaultBridgeName = 'cni0';

/**
 * kubeplug-bridge's configuration, decoded and defaulted. Field names and
 * defaults are upstream's (containernetworking/plugins
 * plugins/main/bridge/bridge.go, NetConf and loadNetConf, v1.9.1).
 */
export interface BridgeConfig {
  readonly network: string;
  readonly cniVersion: string;
  /** `bridge`: the host bridge, created when absent. */
  readonly bridge: string;
  /** `isGateway`, or implied by `isDefaultGateway`: the gateway address goes on the bridge. */
  readonly isGateway: boolean;
  /** `isDefaultGateway`: a default route via the gateway in the container. */
  readonly isDefaultGateway: boolean;
  /** `forceAddress`: replace a different gateway address already on the bridge instead of failing. */
  readonly forceAddress: boolean;
  /** `ipMasq`: masquerade traffic leaving the container's subnet. */
  readonly ipMasq: boolean;
  /** `mtu`: 0 leaves the kernel's default. */
  readonly mtu: number;
  readonly hairpinMode: boolean;
  readonly promiscMode: boolean;
  readonly vlan: VlanSettings;
  /** `macspoofchk`: drop frames from the port whose source MAC is not the container's. */
  readonly macSpoofCheck: boolean;
  /** `enabledad`: let IPv6 duplicate address detection run on the container's addresses. */
  readonly enableDad: boolean;
  /** `disableContainerInterface`: leave the container end down (layer 2 only). */
  readonly disableContainerInterface: boolean;
  /** `portIsolation`: isolated ports of a bridge cannot talk to each other. */
  readonly portIsolation: boolean;
  /** The container MAC asked for: runtimeConfig.mac, else args.cni.mac, else CNI_ARGS MAC. */
  readonly mac?: string;
  /** `ipam.type`, when addresses are delegated (layer 3); absent for a layer 2 attachment. */
  readonly ipamType?: string;
  /** `dns`, when set: it replaces the IPAM plugin's DNS in the result. */
  readonly dns?: Dns;
}

function flag(conf: NetConf, field: string): boolean {
  const value = conf[field];
  if (value === undefined || value === null) return false;
  if (typeof value !== 'boolean') throw invalidConfig(`invalid network configuration: field "${field}" must be a boolean`);
  return value;
}

function integer(conf: NetConf, field: string): number {
  const value = conf[field];
  if (value === undefined || value === null) return 0;
  if (typeof value !== 'number' || !Number.isInteger(value)) throw invalidConfig(`invalid network configuration: field "${field}" must be an integer`);
  return value;
}

/** A MAC in the kernel's spelling (lowercase, colons), or a config error naming where it came from. */
export function normalizeMac(text: string, source: string): string {
  const match = /^([0-9a-f]{2})[:-]([0-9a-f]{2})[:-]([0-9a-f]{2})[:-]([0-9a-f]{2})[:-]([0-9a-f]{2})[:-]([0-9a-f]{2})$/i.exec(text);
  if (match === null) throw invalidConfig(`invalid MAC address "${text}" in ${source}`);
  return match.slice(1).join(':').toLowerCase();
}

function requestedMac(conf: NetConf, cniArgs: readonly (readonly [string, string])[]): string | undefined {
  const runtimeMac = (conf.runtimeConfig as { mac?: unknown } | undefined)?.mac;
  if (typeof runtimeMac === 'string' && runtimeMac !== '') return normalizeMac(runtimeMac, 'runtimeConfig.mac');
  const argsMac = ((conf.args as { cni?: { mac?: unknown } } | undefined)?.cni ?? {}).mac;
  if (typeof argsMac === 'string' && argsMac !== '') return normalizeMac(argsMac, 'args.cni.mac');
  // Upstream rejects unknown CNI_ARGS keys unless IgnoreUnknown is set; runtimes add keys freely, so we read MAC and ignore the rest.
  const envMac = cniArgs.find(([key]) => key === 'MAC')?.[1];
  if (envMac !== undefined && envMac !== '') return normalizeMac(envMac, 'CNI_ARGS MAC');
  return undefined;
}

function dnsOf(conf: NetConf): Dns | undefined {
  const dns = conf.dns;
  if (dns === undefined) return undefined;
  const set = dns.nameservers !== undefined || dns.search !== undefined || dns.options !== undefined || (dns.domain ?? '') !== '';
  return set ? dns : undefined;
}

/**
 * Decodes and checks the plugin configuration. Problems are
 * INVALID_NETWORK_CONFIG (7) naming the field; an ipMasq backend we do not
 * implement is UNSUPPORTED_FIELD (2).
 */
export function parseBridgeConfig(request: Pick<PluginRequest, 'conf' | 'args'>): BridgeConfig {
  const { conf } = request;
  const bridgeValue = conf['bridge'];
  if (bridgeValue !== undefined && typeof bridgeValue !== 'string') throw invalidConfig('invalid network configuration: field "bridge" must be a string');
  const bridge = bridgeValue === undefined || bridgeValue === '' ? defaultBridgeName : bridgeValue;
  const nameProblem = interfaceNameProblem(bridge);
  if (nameProblem !== undefined) throw invalidConfig('invalid network configuration: field "bridge" is not an interface name', nameProblem);

  const vlan = integer(conf, 'vlan');
  if (vlan < 0 || vlan > maxVlanId) throw invalidConfig(`invalid VLAN ID ${vlan} (must be between 0 and ${maxVlanId})`);
  const mtu = integer(conf, 'mtu');
  if (mtu < 0) throw invalidConfig('invalid network configuration: field "mtu" must not be negative');

  const ipMasq = flag(conf, 'ipMasq');
  const backend = conf['ipMasqBackend'];
  if (ipMasq && backend !== undefined && backend !== null && backend !== 'iptables') {
    // Upstream also has an nftables backend; kubeplug-bridge implements the default, iptables.
    throw new CniError({ code: 'UNSUPPORTED_FIELD', msg: `unsupported field "ipMasqBackend": ${JSON.stringify(backend)}`, details: 'kubeplug-bridge masquerades with iptables only' });
  }

  const isDefaultGateway = flag(conf, 'isDefaultGateway');
  const mac = requestedMac(conf, request.args);
  const dns = dnsOf(conf);
  return {
    network: conf.name,
    cniVersion: conf.cniVersion,
    bridge,
    isGateway: isDefaultGateway || flag(conf, 'isGateway'),
    isDefaultGateway,
    forceAddress: flag(conf, 'forceAddress'),
    ipMasq,
    mtu,
    hairpinMode: flag(conf, 'hairpinMode'),
    promiscMode: flag(conf, 'promiscMode'),
    vlan: { vlan, trunk: parseVlanTrunk(conf['vlanTrunk']), preserveDefaultVlan: flag(conf, 'preserveDefaultVlan') },
    macSpoofCheck: flag(conf, 'macspoofchk'),
    enableDad: flag(conf, 'enabledad'),
    disableContainerInterface: flag(conf, 'disableContainerInterface'),
    portIsolation: flag(conf, 'portIsolation'),
    ...(mac === undefined ? {} : { mac }),
    ...(conf.ipam?.type === undefined || conf.ipam.type === '' ? {} : { ipamType: conf.ipam.type }),
    ...(dns === undefined ? {} : { dns }),
  };
}

/** Rules ADD enforces before touching anything (upstream cmdAdd's checks, and one of ours). */
export function checkAddableConfig(config: BridgeConfig): void {
  if (config.ipamType === undefined && resultFamily(config.cniVersion) === '020') {
    // A 0.1.0/0.2.0 result must hold an address: refuse now rather than after making links the result cannot report.
    throw new CniError({ code: 'INCOMPATIBLE_VERSION', msg: `a layer 2 attachment (no ipam) cannot be reported in a ${config.cniVersion} result`, details: 'use cniVersion 0.3.0 or later, or configure ipam' });
  }
  if (config.ipamType !== undefined && config.disableContainerInterface) {
    throw invalidConfig('cannot use IPAM when DisableContainerInterface flag is set');
  }
  if (config.hairpinMode && config.promiscMode) {
    throw invalidConfig('cannot set hairpin mode and promiscuous mode at the same time');
  }
}
