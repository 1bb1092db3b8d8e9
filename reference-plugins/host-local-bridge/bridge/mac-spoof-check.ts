import { hostCommandFailed } from './bridge-errors.js';
import { CommandError, type CommandRunner } from './command-runner.js';

/**
 * `macspoofchk`: frames entering the bridge from the container's port must
 * carry the container's MAC, as upstream does it (containernetworking/plugins
 * pkg/link/spoofcheck.go, v1.9.1): in nftables' `bridge nat` table, a
 * PREROUTING rule matching the port jumps to `cni-br-iface-<id>`, which
 * jumps to `cni-br-iface-<id>-mac`: return for the container's MAC, drop
 * the rest. Every rule is commented `macspoofchk-<id>`, id being
 * `<containerID>-<ifname>`. Written as nft JSON, which needs no quoting of
 * names, in one transaction.
 */

const table = { family: 'bridge', table: 'nat' } as const;

/** The id upstream labels an attachment's rules with. */
export function spoofCheckId(containerId: string, ifName: string): string {
  return `${containerId}-${ifName}`;
}

const portChain = (id: string): string => `cni-br-iface-${id}`;
const macChain = (id: string): string => `cni-br-iface-${id}-mac`;
const comment = (id: string): string => `macspoofchk-${id}`;

async function applyNft(runner: CommandRunner, commands: readonly object[]): Promise<void> {
  // As an argument, not on stdin: nft opens /dev/stdin, which fails on the socket Node gives a child as stdin.
  await runner.run(['nft', '-j', JSON.stringify({ nftables: commands })]);
}

/** Installs the checks for a port; re-running replaces the chains' rules. */
export async function setupSpoofCheck(runner: CommandRunner, options: { port: string; mac: string; id: string }): Promise<void> {
  const { port, mac, id } = options;
  const rule = (chain: string, expr: object[]): object => ({ add: { rule: { ...table, chain, comment: comment(id), expr } } });
  try {
    await applyNft(runner, [
      { add: { table: { family: table.family, name: table.table } } },
      { add: { chain: { ...table, name: 'PREROUTING', type: 'filter', hook: 'prerouting', prio: -300, policy: 'accept' } } },
      { add: { chain: { ...table, name: portChain(id) } } },
      { add: { chain: { ...table, name: macChain(id) } } },
      { flush: { chain: { ...table, name: portChain(id) } } },
      { flush: { chain: { ...table, name: macChain(id) } } },
      rule('PREROUTING', [{ match: { op: '==', left: { meta: { key: 'iifname' } }, right: port } }, { jump: { target: portChain(id) } }]),
      rule(portChain(id), [{ jump: { target: macChain(id) } }]),
      rule(macChain(id), [{ match: { op: '==', left: { payload: { protocol: 'ether', field: 'saddr' } }, right: mac } }, { return: null }]),
      rule(macChain(id), [{ drop: null }]),
    ]);
  } catch (error) {
    throw hostCommandFailed('failed to setup spoof-check', error);
  }
}

interface NftListing {
  nftables?: { chain?: { name?: string }; rule?: { chain?: string; handle?: number; comment?: string } }[];
}

/** Removes an attachment's checks: the PREROUTING jump and both chains. Idempotent. */
export async function teardownSpoofCheck(runner: CommandRunner, options: { id: string }): Promise<void> {
  const { id } = options;
  let listing: NftListing;
  try {
    listing = JSON.parse((await runner.run(['nft', '-j', 'list', 'table', 'bridge', 'nat'])).stdout) as NftListing;
  } catch (error) {
    // No table (or no nft at all): nothing was set up.
    if (error instanceof CommandError && (error.exitCode === null || /No such file or directory/.test(error.stderr))) return;
    throw hostCommandFailed('failed to teardown spoof-check', error);
  }
  const items = listing.nftables ?? [];
  const chains = new Set(items.flatMap((item) => (item.chain?.name === undefined ? [] : [item.chain.name])));
  const jumps = items.flatMap((item) => (item.rule?.chain === 'PREROUTING' && item.rule.comment === comment(id) && item.rule.handle !== undefined ? [item.rule.handle] : []));
  const ours = [portChain(id), macChain(id)].filter((name) => chains.has(name));
  if (jumps.length === 0 && ours.length === 0) return;
  try {
    await applyNft(runner, [
      ...jumps.map((handle) => ({ delete: { rule: { ...table, chain: 'PREROUTING', handle } } })),
      // A chain must be empty and unreferenced to go: flush both first, then delete.
      ...ours.map((name) => ({ flush: { chain: { ...table, name } } })),
      ...ours.map((name) => ({ delete: { chain: { ...table, name } } })),
    ]);
  } catch (error) {
    throw hostCommandFailed('failed to teardown spoof-check', error);
  }
}
