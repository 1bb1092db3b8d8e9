import { randomBytes } from 'node:crypto';
import { invalidConfig } from './bridge-errors.js';
import type { CommandRunner } from './command-runner.js';
import { portModeLine, type PortMode } from './hairpin.js';
import { linksOf, type IpAddressInfo, type IpLink } from './ip-json.js';
import { IpCommandError, isMissingDevice, runIp, showIgnoringMissing, type IpLine } from './iproute.js';

/**
 * The links of an attachment: the bridge (shared, created on first use, never
 * removed by the plugin), and a veth pair per attachment whose container end
 * is created directly inside CNI_NETNS under CNI_IFNAME and whose host end
 * is a port of the bridge. Functions named `…Lines` only build iproute2
 * commands, so callers can group them into one process.
 */

/** A fresh host-side veth name as upstream makes them: `veth` + 8 hex digits (NetworkManager ignores `veth*`). */
export function randomVethName(): string {
  return `veth${randomBytes(4).toString('hex')}`;
}

/** A random unicast, locally administered MAC, as the kernel would pick. */
export function randomMac(): string {
  const bytes = randomBytes(6);
  bytes[0] = (bytes[0]! & 0xfe) | 0x02;
  return [...bytes].map((byte) => byte.toString(16).padStart(2, '0')).join(':');
}

/** Reads host links by name with details and addresses; absent names are absent from the map. */
export async function readHostLinks(runner: CommandRunner, names: readonly string[]): Promise<Map<string, IpLink>> {
  const outputs = await showIgnoringMissing(
    runner,
    names.map((name) => ['addr', 'show', 'dev', name]),
    { details: true },
  );
  return new Map(linksOf(outputs).map((link) => [link.ifname, link]));
}

/** Throws upstream's error when the bridge name is taken by another kind of link. */
export function assertIsBridge(link: IpLink): void {
  if (link.linkinfo?.info_kind !== 'bridge') throw invalidConfig(`failed to create bridge "${link.ifname}": "${link.ifname}" already exists but is not a bridge`);
}

/**
 * Commands that ensure the bridge: created when absent (with the MTU and,
 * for VLANs, filtering; with a fixed MAC when one is given), then up and,
 * when asked, promiscuous. An existing bridge keeps its settings, as upstream's
 * ensureBridge leaves them.
 */
export function ensureBridgeLines(options: { name: string; exists: boolean; mtu: number; promisc: boolean; vlanFiltering: boolean; mac?: string }): IpLine[] {
  const lines: IpLine[] = [];
  if (!options.exists) {
    lines.push([
      'link', 'add', 'name', options.name,
      ...(options.mac === undefined ? [] : ['address', options.mac]),
      ...(options.mtu > 0 ? ['mtu', String(options.mtu)] : []),
      'type', 'bridge',
      ...(options.vlanFiltering ? ['vlan_filtering', '1'] : []),
    ]);
  }
  lines.push(['link', 'set', 'dev', options.name, ...(options.promisc ? ['promisc', 'on'] : []), 'up']);
  return lines;
}

/** What a veth pair between the node and a container looks like. */
export interface VethPair {
  readonly hostName: string;
  readonly containerName: string;
  /** CNI_NETNS: the container end is born there, so it never appears on the node. */
  readonly netns: string;
  readonly mtu: number;
  readonly containerMac?: string;
  readonly bridge: string;
  readonly portMode: PortMode;
}

/** Index of the line of {@link vethPairLines} that creates the pair (its "File exists" is about a name). */
export const vethCreateLineIndex = 0;

/** Commands that create the pair, make the host end a bridge port with its mode, and set it up. */
export function vethPairLines(pair: VethPair): IpLine[] {
  return [vethCreateLine(pair), ...bridgePortLines(pair)];
}

/** The command that creates the pair, the container end born inside CNI_NETNS. */
export function vethCreateLine(pair: Omit<VethPair, 'bridge' | 'portMode'>): IpLine {
  const mtu = pair.mtu > 0 ? ['mtu', String(pair.mtu)] : [];
  return [
    'link', 'add', 'name', pair.hostName, ...mtu, 'type', 'veth',
    'peer', 'name', pair.containerName, ...mtu, ...(pair.containerMac === undefined ? [] : ['address', pair.containerMac]), 'netns', pair.netns,
  ];
}

/** Commands that make the host end a port of the bridge with its mode, and set it up. */
export function bridgePortLines(port: Pick<VethPair, 'hostName' | 'bridge' | 'portMode'>): IpLine[] {
  return [
    ['link', 'set', 'dev', port.hostName, 'master', port.bridge],
    portModeLine(port.hostName, port.portMode),
    ['link', 'set', 'dev', port.hostName, 'up'],
  ];
}

/** Deletes a link of the node by name (its veth peer goes with it); absent is fine. */
export async function deleteHostLink(runner: CommandRunner, name: string): Promise<void> {
  try {
    await runIp(runner, [['link', 'del', 'dev', name]]);
  } catch (error) {
    if (error instanceof IpCommandError && isMissingDevice(error.reason)) return;
    throw error;
  }
}

/** True when a link of that name exists in the namespace. */
export async function linkExists(runner: CommandRunner, name: string, netns?: string): Promise<boolean> {
  const outputs = await showIgnoringMissing(runner, [['link', 'show', 'dev', name]], netns === undefined ? {} : { netns });
  return linksOf(outputs).some((link) => link.ifname === name);
}

/**
 * Deletes the container's interface from inside its namespace (the host end
 * goes with it) and returns the addresses it had, or undefined when it was
 * not there. One process for both.
 */
export async function removeContainerInterface(runner: CommandRunner, netns: string, ifName: string): Promise<readonly IpAddressInfo[] | undefined> {
  try {
    const outputs = await runIp(runner, [['addr', 'show', 'dev', ifName], ['link', 'del', 'dev', ifName]], { netns, json: true });
    return linksOf(outputs).find((link) => link.ifname === ifName)?.addr_info ?? [];
  } catch (error) {
    if (error instanceof IpCommandError && error.lineIndex === 0 && isMissingDevice(error.reason)) return undefined;
    throw error;
  }
}
