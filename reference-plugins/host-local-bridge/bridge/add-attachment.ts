import { setTimeout as sleep } from 'node:timers/promises';
import type { PluginRequest } from '../../../specs/cni/skeleton.js';
import type { Result100, ResultInterface } from '../../../specs/cni/types.js';
import { containerAddressLines, gatewayAddressLines, planGateways, type GatewayPlan } from './address-setup.js';
import { createAttachmentLinks, createVethPair, ensureVlanGateway, plugIntoBridge } from './attachment-links.js';
import { checkAddableConfig, parseBridgeConfig, type BridgeConfig } from './bridge-config.js';
import { bridgeError, hostCommandFailed } from './bridge-errors.js';
import type { BridgePluginOptions } from './bridge-plugin.js';
import { reportTraceIfAsked, runnerForInvocation, type CommandRunner } from './command-runner.js';
import { familyOfText } from './ip-address.js';
import { linksOf, type IpLink } from './ip-json.js';
import { setupIpMasquerade, teardownIpMasquerade } from './ip-masquerade.js';
import { IpamDelegate } from './ipam-delegation.js';
import { runIp, type IpLine } from './iproute.js';
import { assertIsBridge, readHostLinks } from './link-operations.js';
import { setupSpoofCheck, spoofCheckId, teardownSpoofCheck } from './mac-spoof-check.js';
import { requireNetworkNamespace } from './netns-path.js';
import { allSettledOrThrow, RollbackStack } from './rollback-stack.js';
import { containerSysctls, enableForwarding } from './sysctl.js';
import { vlanGatewayName } from './vlan.js';

/** Upstream's waits for the host port to come up (plugins/main/bridge/bridge.go: "check bridge port state"). */
const portStateWaitsMs = [0, 50, 500, 1000, 1000];

/** How long IPv6 duplicate address detection may take when `enabledad` lets it run (upstream's dadSettleTimeout). */
const dadSettleTimeoutMs = 5000;

/** Everything one ADD works with. */
interface AddContext {
  readonly request: PluginRequest;
  readonly config: BridgeConfig;
  readonly runner: CommandRunner;
  readonly rollback: RollbackStack;
  readonly services: BridgePluginOptions;
}

/**
 * ADD: connects the container to the bridge, doing what upstream's cmdAdd
 * does with independent steps run together: the bridge and veth pair while
 * IPAM allocates; then the container's addresses and routes; then the
 * gateway on the bridge, masquerading and the spoof check; last, the host
 * port must be up. Any failure unwinds everything this ADD made, the IPAM
 * reservation included; shared node state (the bridge, its gateway address,
 * forwarding) stays, as upstream leaves it. Five subprocesses (the IPAM
 * plugin's included), seven with ipMasq.
 */
export async function addAttachment(request: PluginRequest, services: BridgePluginOptions = {}): Promise<Result100> {
  const config = parseBridgeConfig(request);
  checkAddableConfig(config);
  await requireNetworkNamespace(request.netns);
  const runner = runnerForInvocation(request.env, services.launcher);
  const rollback = new RollbackStack();
  try {
    return await setUpAttachment({ request, config, runner, rollback, services });
  } catch (error) {
    for (const failure of await rollback.unwind()) {
      const reason = failure.error instanceof Error ? failure.error.message : String(failure.error);
      process.stderr.write(`kubeplug-bridge: rolling back a failed ADD, "${failure.description}" failed: ${reason}\n`);
    }
    throw error;
  } finally {
    reportTraceIfAsked(request.env, runner);
  }
}

async function setUpAttachment(context: AddContext): Promise<Result100> {
  const { request, config, runner, rollback, services } = context;
  const vlanGateway = config.isGateway && config.vlan.vlan !== 0 ? vlanGatewayName(config.bridge, config.vlan.vlan) : undefined;
  const ipam = config.ipamType === undefined ? undefined : new IpamDelegate({ type: config.ipamType, request, runner, services });
  if (ipam !== undefined) rollback.push(`release the addresses (IPAM ${config.ipamType} DEL)`, () => ipam.del());

  const hostNames = [config.bridge, ...(vlanGateway === undefined ? [] : [vlanGateway])];
  const { hostVeth, bridgeBefore, before, plan, container } = runner.launchesConcurrently
    ? await linkConcurrently(context, hostNames, ipam)
    : await linkInFewestProcesses(context, hostNames, ipam);

  const gatewayDevice = vlanGateway ?? config.bridge;
  const nodeLines: IpLine[] = [];
  if (plan !== undefined && config.isGateway) {
    if (vlanGateway !== undefined) await ensureVlanGateway({ runner, config, name: vlanGateway, exists: before.has(vlanGateway), bridge: bridgeBefore });
    const present = before.get(gatewayDevice)?.addr_info ?? [];
    const addressLines = gatewayAddressLines(gatewayDevice, present, plan.bridgeAddresses, { forceAddress: config.forceAddress });
    nodeLines.push(...addressLines);
    // Upstream sets the MAC to itself after adding an address, so it stops following the lowest port MAC.
    const pinnedMac = before.get(gatewayDevice)?.address;
    if (addressLines.length > 0 && pinnedMac !== undefined) nodeLines.push(['link', 'set', 'dev', gatewayDevice, 'address', pinnedMac]);
  }

  // The gateway, the masquerade rules and the spoof check touch different things: set them up together.
  const addresses = (plan?.result.ips ?? []).map((ip) => ip.address);
  const masquerade = { network: config.network, containerId: request.containerId };
  const spoofCheck = { port: hostVeth, mac: container.address ?? '', id: spoofCheckId(request.containerId, request.ifName) };
  if (plan !== undefined && config.ipMasq) {
    rollback.push('remove the IP masquerade chain', () => teardownIpMasquerade(runner, { ...masquerade, families: [...new Set(addresses.map(familyOfText))] }));
  }
  if (config.macSpoofCheck) rollback.push('remove the MAC spoof check', () => teardownSpoofCheck(runner, spoofCheck));
  const [node] = await allSettledOrThrow([
    (async () => {
      const links = await settleNodeLinks(context, { hostVeth, gatewayDevice, lines: nodeLines });
      for (const family of plan?.forwardingFamilies ?? []) {
        await enableForwarding(family).catch((error: unknown) => {
          throw hostCommandFailed('failed to enable forwarding', error);
        });
      }
      return links;
    })(),
    plan !== undefined && config.ipMasq ? setupIpMasquerade(runner, { ...masquerade, addresses }) : undefined,
    config.macSpoofCheck ? setupSpoofCheck(runner, spoofCheck) : undefined,
  ] as const);

  const interfaces: ResultInterface[] = [
    { name: config.bridge, ...macOf(node.get(config.bridge)) },
    { name: hostVeth, ...macOf(node.get(hostVeth)) },
    { name: request.ifName, ...macOf(container), sandbox: request.netns },
  ];
  if (vlanGateway !== undefined && plan !== undefined) interfaces.push({ name: vlanGateway, ...macOf(node.get(vlanGateway)) });
  const dns = config.dns ?? plan?.result.dns;
  return {
    cniVersion: '1.1.0',
    interfaces,
    ...(plan === undefined ? {} : { ips: plan.result.ips ?? [] }),
    ...(plan?.result.routes === undefined ? {} : { routes: plan.result.routes }),
    ...(dns === undefined ? {} : { dns }),
  };
}

/** What ADD knows once the pair exists, the host end is a bridge port and the container side is configured. */
interface LinkedAttachment {
  readonly hostVeth: string;
  /** The bridge as it was before this ADD (undefined when this ADD created it). */
  readonly bridgeBefore: IpLink | undefined;
  /** The bridge (and VLAN gateway) as read before this ADD, with addresses. */
  readonly before: Map<string, IpLink>;
  readonly plan: GatewayPlan | undefined;
  readonly container: IpLink;
}

/**
 * For child-process launchers, where each process costs this process a
 * fork: the bridge is read while IPAM allocates, then one iproute2 process
 * makes the bridge (when absent) and the pair and plugs the port, then the
 * container side is configured.
 */
async function linkInFewestProcesses(context: AddContext, hostNames: readonly string[], ipam: IpamDelegate | undefined): Promise<LinkedAttachment> {
  const { request, config, runner, rollback } = context;
  const [links, ipamResult] = await allSettledOrThrow([
    (async () => {
      const before = await readHostLinks(runner, hostNames);
      const bridgeFound = before.get(config.bridge);
      if (bridgeFound !== undefined) assertIsBridge(bridgeFound);
      const created = await createAttachmentLinks({ runner, rollback, config, netns: request.netns, ifName: request.ifName, bridgeBefore: bridgeFound });
      return { ...created, before };
    })(),
    ipam?.add(),
  ] as const);
  return { ...links, ...(await configureContainerSide(context, ipamResult)) };
}

/**
 * For launchers that start commands without costing this process (the node
 * agent's exec server): fewer steps one after another at the price of one
 * more process. The pair is made while the bridge is read and IPAM
 * allocates; then the port is plugged into the bridge while the container
 * side is configured.
 */
async function linkConcurrently(context: AddContext, hostNames: readonly string[], ipam: IpamDelegate | undefined): Promise<LinkedAttachment> {
  const { request, config, runner, rollback } = context;
  const [hostVeth, before, ipamResult] = await allSettledOrThrow([
    createVethPair({ runner, rollback, config, netns: request.netns, ifName: request.ifName }),
    readHostLinks(runner, hostNames).then((links) => {
      const bridgeFound = links.get(config.bridge);
      if (bridgeFound !== undefined) assertIsBridge(bridgeFound);
      return links;
    }),
    ipam?.add(),
  ] as const);
  const [bridgeBefore, side] = await allSettledOrThrow([
    plugIntoBridge({ runner, config, hostVeth, bridgeBefore: before.get(config.bridge) }),
    configureContainerSide(context, ipamResult),
  ] as const);
  return { hostVeth, bridgeBefore, before, ...side };
}

/** The container's addresses and routes from the IPAM result, or, without IPAM, only its link up. */
async function configureContainerSide(context: AddContext, ipamResult: Result100 | undefined): Promise<{ plan: GatewayPlan | undefined; container: IpLink }> {
  const { request, config } = context;
  if (ipamResult !== undefined) {
    const plan = planGateways(ipamResult, config);
    return { plan, container: await configureContainer(context, plan) };
  }
  // Layer 2 only: the interface comes up unless asked not to.
  const up: IpLine[] = config.disableContainerInterface ? [] : [['link', 'set', 'dev', request.ifName, 'up']];
  return { plan: undefined, container: await runContainerLines(context, [...up, ['link', 'show', 'dev', request.ifName]], []) };
}

const macOf = (link: IpLink | undefined): { mac?: string } => (link?.address === undefined ? {} : { mac: link.address });

/** Addresses, routes and the sysctls upstream sets, inside the container, in one process (two when DAD must settle). */
async function configureContainer(context: AddContext, plan: GatewayPlan): Promise<IpLink> {
  const { request, config } = context;
  const ifName = request.ifName;
  const hasIpv6 = (plan.result.ips ?? []).some((ip) => familyOfText(ip.address) === '6');
  const sysctls = containerSysctls(ifName, { enableDad: config.enableDad, hasIpv6 });
  const { addresses, routes } = containerAddressLines(ifName, plan.result, { enableDad: config.enableDad });
  const show: IpLine = ['link', 'show', 'dev', ifName];
  if (!(config.enableDad && hasIpv6)) return runContainerLines(context, [...addresses, ...routes, show], sysctls);
  await runContainerLines(context, [...addresses, show], sysctls);
  await settleAddresses(context);
  return runContainerLines(context, [...routes, show], []);
}

async function runContainerLines(context: AddContext, lines: readonly IpLine[], sysctls: ReturnType<typeof containerSysctls>): Promise<IpLink> {
  const { request, runner } = context;
  let outputs: unknown[];
  try {
    outputs = await runIp(runner, lines, { netns: request.netns, json: true, sysctls });
  } catch (error) {
    throw hostCommandFailed(`failed to configure "${request.ifName}" in ${request.netns}`, error);
  }
  const link = linksOf(outputs).find((candidate) => candidate.ifname === request.ifName);
  if (link === undefined) throw bridgeError('HOST_COMMAND_FAILED', `"${request.ifName}" vanished from ${request.netns} while being configured`);
  return link;
}

/** Waits until no IPv6 address of the container interface is tentative (upstream's ip.SettleAddresses). */
async function settleAddresses(context: AddContext): Promise<void> {
  const { request, runner } = context;
  const deadline = Date.now() + dadSettleTimeoutMs;
  for (;;) {
    const outputs = await runIp(runner, [['addr', 'show', 'dev', request.ifName]], { netns: request.netns, json: true });
    const link = linksOf(outputs)[0];
    const v6 = (link?.addr_info ?? []).filter((info) => info.family === 'inet6');
    const failed = v6.find((info) => info.dadfailed === true);
    if (failed !== undefined) throw bridgeError('HOST_COMMAND_FAILED', `link ${request.ifName} has address ${failed.local} in DADFAILED state`);
    if (!v6.some((info) => info.tentative === true)) return;
    if (Date.now() > deadline) {
      if (link?.operstate === 'UP') throw bridgeError('HOST_COMMAND_FAILED', `link ${request.ifName} still has tentative addresses after ${dadSettleTimeoutMs / 1000} seconds`);
      return;
    }
    await sleep(50);
  }
}

/**
 * Applies the node-side gateway commands and reads back the bridge and the
 * host port, in one process; then, as upstream does, waits for the port to
 * be up so the container's first packets are not dropped.
 */
async function settleNodeLinks(context: AddContext, options: { hostVeth: string; gatewayDevice: string; lines: readonly IpLine[] }): Promise<Map<string, IpLink>> {
  const { config, runner } = context;
  const names = [...new Set([options.hostVeth, config.bridge, options.gatewayDevice])];
  let lines = [...options.lines, ...names.map((name): IpLine => ['link', 'show', 'dev', name])];
  for (const [index, waitMs] of portStateWaitsMs.entries()) {
    if (waitMs > 0) await sleep(waitMs);
    let links: Map<string, IpLink>;
    try {
      links = new Map(linksOf(await runIp(runner, lines, { json: true })).map((link) => [link.ifname, link]));
    } catch (error) {
      throw hostCommandFailed(`failed to set up the gateway on "${options.gatewayDevice}"`, error);
    }
    lines = names.map((name): IpLine => ['link', 'show', 'dev', name]);
    const state = links.get(options.hostVeth)?.operstate ?? 'missing';
    if (config.disableContainerInterface || state === 'UP') return links;
    if (index === portStateWaitsMs.length - 1) throw bridgeError('HOST_COMMAND_FAILED', `bridge port in error state: ${state}`);
  }
  throw new Error('unreachable');
}
