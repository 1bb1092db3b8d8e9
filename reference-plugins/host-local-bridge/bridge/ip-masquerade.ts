import { createHash } from 'node:crypto';
import { hostCommandFailed } from './bridge-errors.js';
import { CommandError, type CommandRunner } from './command-runner.js';
import { familyOfText, formatAddress, formatCidr, networkOf, parseCidr, type IpFamily } from './ip-address.js';

/**
 * IP masquerading as upstream's iptables backend does it (containernetworking/
 * plugins pkg/ip/ipmasq_iptables_linux.go and pkg/utils/utils.go, v1.9.1):
 * one nat chain per network and container, `CNI-` + the first 24 hex digits
 * of sha512(network + containerID), holding "accept the container's subnet"
 * and "masquerade anything but multicast", jumped to from POSTROUTING for
 * each of the container's addresses; every rule carries the comment
 * `name: "<network>" id: "<containerID>"`. Two ADDs of one container on one
 * network share the chain (upstream ignores the interface name here too).
 *
 * Each family costs one iptables-save and at most one iptables-restore,
 * where upstream's go-iptables runs about eight iptables processes.
 */

const tools = {
  '4': { save: 'iptables-save', restore: 'iptables-restore', multicast: '224.0.0.0/4' },
  '6': { save: 'ip6tables-save', restore: 'ip6tables-restore', multicast: 'ff00::/8' },
} as const;

/** The chain upstream names for a network and container: exactly 28 characters. */
export function masqueradeChainName(network: string, containerId: string): string {
  return `CNI-${createHash('sha512').update(network + containerId).digest('hex')}`.slice(0, 28);
}

/** The comment on every rule, spelled as Go's %q spells it (JSON's quoting agrees for the names CNI allows). */
export function masqueradeComment(network: string, containerId: string): string {
  return `name: ${JSON.stringify(network)} id: ${JSON.stringify(containerId)}`;
}

// How iptables-save quotes a comment; rules we write use the same spelling, so saved lines compare as strings.
const savedComment = (comment: string): string => `"${comment.replace(/(["\\])/g, '\\$1')}"`;

/** The rules for one address (a CIDR from the IPAM result), in iptables-save spelling, chain rules first. */
export function masqueradeRules(network: string, containerId: string, address: string): string[] {
  const cidr = parseCidr(address);
  if (cidr === undefined) throw new Error(`not a CIDR: ${address}`);
  const chain = masqueradeChainName(network, containerId);
  const comment = `-m comment --comment ${savedComment(masqueradeComment(network, containerId))}`;
  const host = `${formatAddress(cidr.family, cidr.value)}/${cidr.family === '4' ? 32 : 128}`;
  return [
    `-A ${chain} -d ${formatCidr(networkOf(cidr))} ${comment} -j ACCEPT`,
    `-A ${chain} ! -d ${tools[cidr.family].multicast} ${comment} -j MASQUERADE`,
    `-A POSTROUTING -s ${host} ${comment} -j ${chain}`,
  ];
}

async function savedNat(runner: CommandRunner, family: IpFamily): Promise<string[] | undefined> {
  try {
    const { stdout } = await runner.run([tools[family].save, '-t', 'nat']);
    return stdout.split('\n');
  } catch (error) {
    // No iptables for this family on the node: nothing of ours can be there.
    if (error instanceof CommandError && error.exitCode === null) return undefined;
    throw error;
  }
}

async function restoreNat(runner: CommandRunner, family: IpFamily, lines: readonly string[]): Promise<void> {
  await runner.run([tools[family].restore, '--noflush', '-w'], { input: `*nat\n${lines.join('\n')}\nCOMMIT\n` });
}

const declares = (saved: readonly string[], chain: string): boolean => saved.some((line) => line.startsWith(`:${chain} `));

/**
 * Installs the masquerade rules for the container's addresses, adding only
 * what is missing (upstream's AppendUnique). Idempotent.
 */
export async function setupIpMasquerade(runner: CommandRunner, options: { network: string; containerId: string; addresses: readonly string[] }): Promise<void> {
  const chain = masqueradeChainName(options.network, options.containerId);
  const families = [...new Set(options.addresses.map(familyOfText))];
  await Promise.all(
    families.map(async (family) => {
      try {
        const saved = await savedNat(runner, family);
        if (saved === undefined) throw new Error(`${tools[family].save} is not installed`);
        const present = new Set(saved);
        const wanted = options.addresses.filter((address) => familyOfText(address) === family).flatMap((address) => masqueradeRules(options.network, options.containerId, address));
        // Declaring a chain that exists would flush it under --noflush, so declare only a new one.
        const changes = [...(declares(saved, chain) ? [] : [`:${chain} - [0:0]`]), ...wanted.filter((rule) => !present.has(rule))];
        if (changes.length > 0) await restoreNat(runner, family, changes);
      } catch (error) {
        throw hostCommandFailed(`failed to set up IP masquerade chain ${chain}`, error);
      }
    }),
  );
}

/** The restore lines that remove a chain and every POSTROUTING jump to it, or none when nothing is there. */
function removalLines(saved: readonly string[], chain: string): string[] {
  const jumps = saved.filter((line) => line.startsWith('-A POSTROUTING ') && line.endsWith(` -j ${chain}`)).map((line) => `-D${line.slice(2)}`);
  return [...jumps, ...(declares(saved, chain) ? [`-F ${chain}`, `-X ${chain}`] : [])];
}

/**
 * Removes the container's chain and the POSTROUTING jumps to it, whatever
 * addresses they name (so it works when the container's addresses are no
 * longer known). Idempotent; a missing iptables is nothing to remove.
 */
export async function teardownIpMasquerade(runner: CommandRunner, options: { network: string; containerId: string; families: readonly IpFamily[] }): Promise<void> {
  const chain = masqueradeChainName(options.network, options.containerId);
  await Promise.all(
    options.families.map(async (family) => {
      try {
        const saved = await savedNat(runner, family);
        const lines = saved === undefined ? [] : removalLines(saved, chain);
        if (lines.length > 0) await restoreNat(runner, family, lines);
      } catch (error) {
        throw hostCommandFailed(`failed to remove IP masquerade chain ${chain}`, error);
      }
    }),
  );
}

const commentPattern = /--comment "name: \\"([^"\\]*)\\" id: \\"([^"\\]*)\\""/;

/**
 * GC: removes the masquerade chains of this network whose container is not
 * among `keepContainerIds`. A chain counts as ours only when its rules'
 * comment names this network and its name is the hash of that network and
 * container, so other plugins' chains are never touched. Upstream's
 * iptables backend does not GC (a FIXME in pkg/ip/ipmasq_iptables_linux.go);
 * the comments make it possible.
 */
export async function collectStaleMasquerade(runner: CommandRunner, options: { network: string; keepContainerIds: ReadonlySet<string> }): Promise<void> {
  await Promise.all(
    (['4', '6'] as const).map(async (family) => {
      try {
        const saved = await savedNat(runner, family);
        if (saved === undefined) return;
        const stale = new Set<string>();
        for (const line of saved) {
          const rule = /^-A (CNI-[0-9a-f]{24}) /.exec(line);
          const comment = commentPattern.exec(line);
          if (rule?.[1] === undefined || comment?.[1] !== options.network || comment[2] === undefined) continue;
          if (masqueradeChainName(comment[1], comment[2]) === rule[1] && !options.keepContainerIds.has(comment[2])) stale.add(rule[1]);
        }
        const lines = [...stale].flatMap((chain) => removalLines(saved, chain));
        if (lines.length > 0) await restoreNat(runner, family, lines);
      } catch (error) {
        throw hostCommandFailed(`failed to collect stale IP masquerade chains of network "${options.network}"`, error);
      }
    }),
  );
}
