import { toResult100 } from '../../../specs/cni/result-conversion.js';
import type { PluginRequest } from '../../../specs/cni/skeleton.js';
import type { Result100, ResultInterface } from '../../../specs/cni/types.js';
import { parseBridgeConfig, type BridgeConfig } from './bridge-config.js';
import { bridgeError, hostCommandFailed, invalidConfig } from './bridge-errors.js';
import type { BridgePluginOptions } from './bridge-plugin.js';
import { reportTraceIfAsked, runnerForInvocation, type CommandRunner } from './command-runner.js';
import { canonical, familyOfText, formatCidr, networkOf, parseCidr } from './ip-address.js';
import { linksOf, type IpLink, type IpRoute } from './ip-json.js';
import { IpamDelegate } from './ipam-delegation.js';
import { IpCommandError, isMissingDevice, runIp } from './iproute.js';
import { requireNetworkNamespace } from './netns-path.js';

const mismatch = (msg: string): Error => bridgeError('ATTACHMENT_MISMATCH', msg);

/**
 * CHECK: verifies that what ADD set up is still there, as upstream's
 * cmdCheck: IPAM CHECK first, then from prevResult the bridge (a bridge,
 * same MAC, promiscuity as configured), the container interface (a veth in
 * CNI_NETNS with prevResult's MAC), its peer (a port of the bridge with
 * prevResult's MAC), the container's addresses and the routes. Reads both
 * namespaces concurrently, one process each.
 */
export async function checkAttachment(request: PluginRequest, services: BridgePluginOptions = {}): Promise<void> {
  const config = parseBridgeConfig(request);
  await requireNetworkNamespace(request.netns);
  const runner = runnerForInvocation(request.env, services.launcher);
  try {
    if (config.ipamType !== undefined) await new IpamDelegate({ type: config.ipamType, request, runner, services }).check();
    if (request.conf.prevResult === undefined) throw invalidConfig('Required prevResult missing');
    await checkAgainst(toResult100(request.conf.prevResult), { request, config, runner });
  } finally {
    reportTraceIfAsked(request.env, runner);
  }
}

interface ContainerView {
  readonly link: IpLink;
  readonly routes: readonly IpRoute[];
}

async function checkAgainst(result: Result100, context: { request: PluginRequest; config: BridgeConfig; runner: CommandRunner }): Promise<void> {
  const { request, config, runner } = context;
  const interfaces = result.interfaces ?? [];
  const bridgeEntry = interfaces.find((entry) => entry.name === config.bridge);
  const containerEntry = interfaces.find((entry) => entry.name === request.ifName && entry.sandbox === request.netns);
  if (bridgeEntry === undefined) throw mismatch(`CNI created bridge ${config.bridge} is not in prevResult`);
  if ((bridgeEntry.sandbox ?? '') !== '') throw mismatch(`Interface ${bridgeEntry.name} should not be in sandbox`);
  if (containerEntry === undefined) throw mismatch(`Sandbox in prevResult doesn't match configured netns: ${request.netns} (no interface ${request.ifName} there)`);

  const [nodeLinks, container] = await Promise.all([readNodeLinks(runner), readContainer(runner, request)]);

  const bridge = nodeLinks.get(config.bridge);
  if (bridge === undefined) throw mismatch(`CNI created bridge ${config.bridge} in host namespace was not found`);
  if (bridge.linkinfo?.info_kind !== 'bridge') throw mismatch(`Interface ${bridge.ifname} does not have link type of bridge`);
  expectMac(bridgeEntry, bridge, `Bridge interface ${bridge.ifname} Mac doesn't match: ${bridgeEntry.mac}`);
  const promisc = bridge.flags.includes('PROMISC');
  if (promisc !== config.promiscMode) {
    throw mismatch(`Bridge interface ${bridge.ifname} configured Promisc Mode ${config.promiscMode} doesn't match current state: ${promisc}`);
  }

  const link = container.link;
  if (link.linkinfo?.info_kind !== 'veth') throw mismatch(`Error: Container interface ${link.ifname} not of type veth`);
  expectMac(containerEntry, link, `Interface ${link.ifname} Mac ${containerEntry.mac} doesn't match container Mac: ${link.address}`);

  // The host end: a veth of prevResult whose peer is the container interface and whose master is the bridge.
  const hostEnd = interfaces
    .filter((entry) => entry !== bridgeEntry && entry !== containerEntry && (entry.sandbox ?? '') === '')
    .map((entry) => ({ entry, found: nodeLinks.get(entry.name) }))
    .find(({ found }) => found?.linkinfo?.info_kind === 'veth' && found.ifindex === link.link_index && found.link_index === link.ifindex && found.master === bridge.ifname);
  if (hostEnd === undefined) throw mismatch(`CNI veth created for bridge ${config.bridge} was not found`);
  expectMac(hostEnd.entry, hostEnd.found!, `Interface ${hostEnd.entry.name} Mac doesn't match: ${hostEnd.entry.mac} not found`);

  for (const ip of result.ips ?? []) {
    const wanted = parseCidr(ip.address);
    if (wanted === undefined) throw mismatch(`prevResult address ${ip.address} is not a CIDR`);
    const held = (link.addr_info ?? []).some((info) => canonical(`${info.local}/${info.prefixlen}`) === formatCidr(wanted));
    if (!held) throw mismatch(`Failed to match addr ${ip.address} on interface ${request.ifName}`);
    const subnet = formatCidr(networkOf(wanted));
    if (!container.routes.some((route) => canonical(route.dst) === subnet)) throw mismatch(`no route to ${subnet} for interface ${request.ifName}`);
  }
  for (const route of result.routes ?? []) {
    if (!container.routes.some((candidate) => routeMatches(candidate, route.dst, route.gw))) {
      throw mismatch(`Expected Route ${JSON.stringify(route)} not found in routing table`);
    }
  }
}

function expectMac(entry: ResultInterface, link: IpLink, message: string): void {
  if (entry.mac !== undefined && entry.mac !== '' && entry.mac.toLowerCase() !== link.address) throw mismatch(message);
}

/** iproute2 prints a default route as "default" in both families; the gateway (if any) tells them apart. */
function routeMatches(candidate: IpRoute, dst: string, gw: string | undefined): boolean {
  const wanted = canonical(dst);
  const isDefault = wanted === '0.0.0.0/0' || wanted === '::/0';
  if (isDefault) {
    if (candidate.dst !== 'default') return false;
    if (candidate.gateway !== undefined && familyOfText(candidate.gateway) !== familyOfText(wanted)) return false;
  } else if (canonical(candidate.dst.includes('/') ? candidate.dst : `${candidate.dst}/${familyOfText(candidate.dst) === '4' ? 32 : 128}`) !== wanted) {
    return false;
  }
  return gw === undefined || (candidate.gateway !== undefined && canonical(candidate.gateway) === canonical(gw));
}

async function readNodeLinks(runner: CommandRunner): Promise<Map<string, IpLink>> {
  try {
    const outputs = await runIp(runner, [['link', 'show']], { json: true, details: true });
    return new Map(linksOf(outputs).map((link) => [link.ifname, link]));
  } catch (error) {
    throw hostCommandFailed('failed to list the node\'s links', error);
  }
}

async function readContainer(runner: CommandRunner, request: PluginRequest): Promise<ContainerView> {
  let outputs: unknown[];
  try {
    outputs = await runIp(runner, [['addr', 'show', 'dev', request.ifName], ['route', 'show', 'table', 'all']], { netns: request.netns, json: true, details: true });
  } catch (error) {
    if (error instanceof IpCommandError && error.lineIndex === 0 && isMissingDevice(error.reason)) throw mismatch(`Interface name ${request.ifName} not found`);
    throw hostCommandFailed(`failed to read "${request.ifName}" in ${request.netns}`, error);
  }
  const link = linksOf(outputs).find((candidate) => candidate.ifname === request.ifName);
  if (link === undefined) throw mismatch(`Interface name ${request.ifName} not found`);
  const routes = (outputs[1] ?? []) as IpRoute[];
  return { link, routes };
}
