import { CniError } from '../../../specs/cni/cni-error.js';
import type { BridgeConfig } from './bridge-config.js';
import { hostCommandFailed } from './bridge-errors.js';
import type { CommandRunner } from './command-runner.js';
import type { IpLink } from './ip-json.js';
import { IpCommandError, isAlreadyExists, runIp, type IpLine } from './iproute.js';
import {
  assertIsBridge,
  bridgePortLines,
  deleteHostLink,
  ensureBridgeLines,
  linkExists,
  randomMac,
  randomVethName,
  readHostLinks,
  vethCreateLine,
  vethCreateLineIndex,
  vethPairLines,
} from './link-operations.js';
import type { RollbackStack } from './rollback-stack.js';
import { interfaceSysctl, writeOwnSysctlBestEffort } from './sysctl.js';
import { needsVlanFiltering, portVlanLines } from './vlan.js';

/** How often a clash of the random host veth name is retried (upstream's makeVeth tries 10 times). */
const vethNameAttempts = 10;

/** What ADD needs to know after the links exist. */
export interface AttachmentLinks {
  readonly hostVeth: string;
  /** The bridge as it was before this ADD (undefined when this ADD created it). */
  readonly bridgeBefore: IpLink | undefined;
}

/**
 * Creates the bridge when absent and the veth pair, attaches the host end
 * with its port mode, in one iproute2 process, then gives the port its
 * VLANs. The veth's undo is registered before the attempt; the bridge is
 * shared by every attachment and stays, as upstream leaves it.
 */
export async function createAttachmentLinks(options: {
  runner: CommandRunner;
  rollback: RollbackStack;
  config: BridgeConfig;
  netns: string;
  ifName: string;
  bridgeBefore: IpLink | undefined;
}): Promise<AttachmentLinks> {
  const { runner, rollback, config, netns, ifName } = options;
  let bridgeBefore = options.bridgeBefore;
  // Upstream pins the bridge MAC when it puts a gateway on it; choosing it at creation pins it from the start.
  const createdBridgeMac = config.isGateway && config.vlan.vlan === 0 ? randomMac() : undefined;
  for (let attempt = 1; ; attempt += 1) {
    const hostVeth = randomVethName();
    const bridgeLines = bridgeLinesFor(config, bridgeBefore, createdBridgeMac);
    const pairLines = vethPairLines({
      hostName: hostVeth,
      containerName: ifName,
      netns,
      mtu: config.mtu,
      bridge: config.bridge,
      portMode: { hairpin: config.hairpinMode, isolated: config.portIsolation },
      ...(config.mac === undefined ? {} : { containerMac: config.mac }),
    });
    const createLine = bridgeLines.length + vethCreateLineIndex;
    // Until iproute2 says the pair was never made, assume it was.
    let pairMade = true;
    rollback.push(`delete veth ${hostVeth}`, async () => {
      if (pairMade) await deleteHostLink(runner, hostVeth);
    });
    try {
      await runIp(runner, [...bridgeLines, ...pairLines]);
    } catch (error) {
      if (!(error instanceof IpCommandError)) throw error;
      if (error.lineIndex !== undefined && error.lineIndex <= createLine) pairMade = false;
      const clash = isAlreadyExists(error.reason) && attempt < vethNameAttempts;
      if (clash && error.lineIndex === 0 && bridgeBefore === undefined) {
        // Another ADD created the bridge since we looked: use theirs.
        bridgeBefore = (await readHostLinks(runner, [config.bridge])).get(config.bridge);
        if (bridgeBefore !== undefined) assertIsBridge(bridgeBefore);
        continue;
      }
      if (clash && error.lineIndex === createLine) {
        if (await linkExists(runner, ifName, netns)) throw containerNameTaken(ifName, hostVeth, netns);
        continue; // the random host name was taken: draw another
      }
      throw hostCommandFailed(`failed to set up bridge "${config.bridge}" and veth for "${ifName}"`, error);
    }
    await finishPort(runner, hostVeth, config, bridgeBefore);
    return { hostVeth, bridgeBefore };
  }
}

/**
 * Creates the veth pair alone, the container end born in CNI_NETNS (for the
 * concurrent ADD, which plugs the host end into the bridge later with
 * {@link plugIntoBridge}). Returns the host end's name; its undo is
 * registered before the attempt.
 */
export async function createVethPair(options: { runner: CommandRunner; rollback: RollbackStack; config: BridgeConfig; netns: string; ifName: string }): Promise<string> {
  const { runner, rollback, config, netns, ifName } = options;
  for (let attempt = 1; ; attempt += 1) {
    const hostVeth = randomVethName();
    let pairMade = true;
    rollback.push(`delete veth ${hostVeth}`, async () => {
      if (pairMade) await deleteHostLink(runner, hostVeth);
    });
    try {
      await runIp(runner, [vethCreateLine({ hostName: hostVeth, containerName: ifName, netns, mtu: config.mtu, ...(config.mac === undefined ? {} : { containerMac: config.mac }) })]);
      return hostVeth;
    } catch (error) {
      if (!(error instanceof IpCommandError)) throw error;
      pairMade = false;
      if (isAlreadyExists(error.reason) && attempt < vethNameAttempts) {
        if (await linkExists(runner, ifName, netns)) throw containerNameTaken(ifName, hostVeth, netns);
        continue; // the random host name was taken: draw another
      }
      throw hostCommandFailed(`failed to set up veth for "${ifName}"`, error);
    }
  }
}

/**
 * Makes the bridge when absent (or takes the one another ADD just made) and
 * plugs the host end of a pair into it with its port mode and VLANs.
 * Returns the bridge as it was before (undefined when this call made it).
 */
export async function plugIntoBridge(options: { runner: CommandRunner; config: BridgeConfig; hostVeth: string; bridgeBefore: IpLink | undefined }): Promise<IpLink | undefined> {
  const { runner, config, hostVeth } = options;
  let bridgeBefore = options.bridgeBefore;
  const createdBridgeMac = config.isGateway && config.vlan.vlan === 0 ? randomMac() : undefined;
  for (let attempt = 1; ; attempt += 1) {
    const bridgeLines = bridgeLinesFor(config, bridgeBefore, createdBridgeMac);
    try {
      await runIp(runner, [...bridgeLines, ...bridgePortLines({ hostName: hostVeth, bridge: config.bridge, portMode: { hairpin: config.hairpinMode, isolated: config.portIsolation } })]);
    } catch (error) {
      if (!(error instanceof IpCommandError)) throw error;
      if (isAlreadyExists(error.reason) && error.lineIndex === 0 && bridgeBefore === undefined && attempt < vethNameAttempts) {
        // Another ADD created the bridge since we looked: use theirs.
        bridgeBefore = (await readHostLinks(runner, [config.bridge])).get(config.bridge);
        if (bridgeBefore !== undefined) assertIsBridge(bridgeBefore);
        continue;
      }
      throw hostCommandFailed(`failed to set up bridge "${config.bridge}" for "${hostVeth}"`, error);
    }
    await finishPort(runner, hostVeth, config, bridgeBefore);
    return bridgeBefore;
  }
}

/** The commands that ensure the configured bridge (see ensureBridgeLines), made with `mac` when absent. */
function bridgeLinesFor(config: BridgeConfig, bridgeBefore: IpLink | undefined, mac: string | undefined): IpLine[] {
  return ensureBridgeLines({
    name: config.bridge,
    exists: bridgeBefore !== undefined,
    mtu: config.mtu,
    promisc: config.promiscMode,
    vlanFiltering: needsVlanFiltering(config.vlan),
    ...(mac === undefined ? {} : { mac }),
  });
}

function containerNameTaken(ifName: string, hostVeth: string, netns: string): CniError {
  return new CniError({
    code: 'INVALID_ENVIRONMENT',
    msg: `container veth name ("${ifName}") peer provided ("${hostVeth}") already exists`,
    details: `CNI_IFNAME "${ifName}" is taken in CNI_NETNS ${netns}`,
  });
}

/** What follows plugging a port: no router advertisements on the node's side, then the port's VLANs. */
async function finishPort(runner: CommandRunner, hostVeth: string, config: BridgeConfig, bridgeBefore: IpLink | undefined): Promise<void> {
  // Upstream's "we want to own the routes for this interface".
  await writeOwnSysctlBestEffort(interfaceSysctl('ipv6', config.bridge, 'accept_ra'), '0');
  await writeOwnSysctlBestEffort(interfaceSysctl('ipv6', hostVeth, 'accept_ra'), '0');
  await tagPort(runner, hostVeth, config, bridgeBefore);
}

async function tagPort(runner: CommandRunner, port: string, config: BridgeConfig, bridge: IpLink | undefined): Promise<void> {
  const lines = portVlanLines(port, config.vlan, bridge?.linkinfo?.info_data?.vlan_default_pvid ?? 1);
  if (lines.length === 0) return;
  try {
    await runIp(runner, lines, { program: 'bridge' });
  } catch (error) {
    throw hostCommandFailed(`failed to setup vlan tag on interface "${port}"`, error);
  }
}

/**
 * The VLAN's gateway interface, as upstream's ensureVlanInterface: a veth
 * pair on the node whose end `<bridge>.<vlan>` holds the gateway address and
 * whose other end is an access port of the VLAN. Created once per VLAN and
 * shared, like the bridge, so it is not rolled back.
 */
export async function ensureVlanGateway(options: { runner: CommandRunner; config: BridgeConfig; name: string; exists: boolean; bridge: IpLink | undefined }): Promise<void> {
  if (options.exists) return;
  const { runner, config, name } = options;
  const port = randomVethName();
  try {
    await runIp(runner, [
      ['link', 'add', 'name', port, 'type', 'veth', 'peer', 'name', name],
      ['link', 'set', 'dev', port, 'master', config.bridge],
      ['link', 'set', 'dev', port, 'type', 'bridge_slave', 'hairpin', 'off'],
      ['link', 'set', 'dev', port, 'up'],
      ['link', 'set', 'dev', name, 'up'],
    ]);
    await tagPort(runner, port, { ...config, vlan: { ...config.vlan, trunk: [] } }, options.bridge);
  } catch (error) {
    throw hostCommandFailed(`failed to create vlan interface "${name}"`, error);
  }
}
