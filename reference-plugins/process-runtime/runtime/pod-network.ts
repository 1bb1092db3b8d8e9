import fs from 'node:fs/promises';
import path from 'node:path';
import {
  CniInvoker,
  loadNetworkConfig,
  toResult100,
  type AnyResult,
  type JsonObject,
  type NetConfList,
} from '../../../specs/cni/index.js';
import { Protocol, type PodSandboxConfig } from '../../../specs/cri/index.js';

/** The interface every pod gets, as the kubelet's runtimes name it. */
export const podInterfaceName = 'eth0';

/** The network configuration in use: the first `.conf`/`.conflist`/`.json` file in the folder by name, as libcni orders them. */
export async function findNetworkConfigFile(confDir: string): Promise<string | undefined> {
  let names: string[];
  try {
    names = await fs.readdir(confDir);
  } catch {
    return undefined;
  }
  const candidates = names.filter((name) => /\.(conf|conflist|json)$/.test(name)).sort();
  return candidates[0] === undefined ? undefined : path.join(confDir, candidates[0]);
}

/** Loads the network list RunPodSandbox uses. @throws Error naming the folder when there is none. */
export async function loadPodNetwork(confDir: string): Promise<NetConfList> {
  const file = await findNetworkConfigFile(confDir);
  if (file === undefined) throw new Error(`no CNI network configuration (.conf, .conflist or .json) in ${confDir}`);
  return loadNetworkConfig(file);
}

/** The pod's identity as CNI_ARGS, as the kubelet's runtimes pass it. */
export function podCniArgs(sandboxId: string, config: PodSandboxConfig): [string, string][] {
  const m = config.metadata;
  return [
    ['IgnoreUnknown', '1'],
    ['K8S_POD_NAMESPACE', m?.namespace ?? ''],
    ['K8S_POD_NAME', m?.name ?? ''],
    ['K8S_POD_INFRA_CONTAINER_ID', sandboxId],
    ['K8S_POD_UID', m?.uid ?? ''],
  ];
}

const protocolNames: Partial<Record<Protocol, string>> = { [Protocol.TCP]: 'tcp', [Protocol.UDP]: 'udp', [Protocol.SCTP]: 'sctp' };

/** The capability arguments: portMappings (only ports with a host port, as containerd) and dns. */
export function podCapabilityArgs(config: PodSandboxConfig): JsonObject {
  const portMappings = config.portMappings
    .filter((p) => p.hostPort > 0)
    .map((p) => ({ hostPort: p.hostPort, containerPort: p.containerPort, protocol: protocolNames[p.protocol] ?? 'tcp', ...(p.hostIp === '' ? {} : { hostIP: p.hostIp }) }));
  const dns = config.dnsConfig;
  return {
    portMappings,
    ...(dns === undefined ? {} : { dns: { servers: dns.servers, searches: dns.searches, options: dns.options } }),
  };
}

/** The pod's addresses from a CNI result: those on the pod's interface, IPv4 first. */
export function podAddresses(result: AnyResult, netnsPath: string): { ip?: string; additionalIps: string[] } {
  const converted = toResult100(result);
  const interfaces = converted.interfaces ?? [];
  const ips = (converted.ips ?? []).filter((ip) => {
    if (ip.interface === undefined) return true;
    const owner = interfaces[ip.interface];
    return owner === undefined || owner.sandbox === undefined || owner.sandbox === netnsPath || owner.name === podInterfaceName;
  });
  const addresses = ips.map((ip) => ip.address.split('/')[0] ?? ip.address);
  addresses.sort((a, b) => Number(a.includes(':')) - Number(b.includes(':')));
  const [ip, ...additionalIps] = addresses;
  return { ...(ip === undefined ? {} : { ip }), additionalIps };
}

/** Attaches the pod's namespace to the network (CNI ADD); returns the addresses. */
export async function attachPodNetwork(o: {
  invoker: CniInvoker;
  network: NetConfList;
  sandboxId: string;
  netnsPath: string;
  config: PodSandboxConfig;
}): Promise<{ ip?: string; additionalIps: string[] }> {
  const result = await o.invoker.addNetworkList(o.network, {
    containerId: o.sandboxId,
    netns: o.netnsPath,
    ifName: podInterfaceName,
    args: podCniArgs(o.sandboxId, o.config),
    capabilityArgs: podCapabilityArgs(o.config),
  });
  return podAddresses(result, o.netnsPath);
}

/** Detaches the pod (CNI DEL with the same network, args and capabilities as ADD). Plugins make DEL idempotent. */
export async function detachPodNetwork(o: {
  invoker: CniInvoker;
  network: NetConfList;
  sandboxId: string;
  netnsPath: string;
  config: PodSandboxConfig;
}): Promise<void> {
  await o.invoker.delNetworkList(o.network, {
    containerId: o.sandboxId,
    netns: o.netnsPath,
    ifName: podInterfaceName,
    args: podCniArgs(o.sandboxId, o.config),
    capabilityArgs: podCapabilityArgs(o.config),
  });
}
