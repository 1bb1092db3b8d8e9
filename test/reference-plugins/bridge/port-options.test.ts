import { spawnSync } from 'node:child_process';
import t from 'tap';
import {
  bridgeConf,
  callPlugin,
  createNamespace,
  createNode,
  exchangeOverTcp,
  missingPrerequisites,
  observeLink,
  observeSysctl,
  observeVeths,
  type Result100Like,
} from './fixtures/bridge-harness.js';

const skip = missingPrerequisites() ?? false;
const nftSkip = skip || (spawnSync('sh', ['-c', 'command -v nft'], { stdio: 'ignore' }).status === 0 ? false : 'needs nft');

interface NftRule {
  rule?: { chain: string; comment?: string; expr: unknown[] };
  chain?: { name: string };
}

async function bridgeNat(ns: { exec(command: string, args: readonly string[]): Promise<{ stdout: string }> }): Promise<NftRule[]> {
  const listing = await ns.exec('nft', ['-j', 'list', 'ruleset', 'bridge']);
  return (JSON.parse(listing.stdout) as { nftables: NftRule[] }).nftables;
}

t.test('macspoofchk lets only the container MAC through its port, and DEL removes the rules', { skip: nftSkip }, async (t) => {
  const node = await createNode(t);
  const container = await createNamespace(t, 'pod');
  const conf = bridgeConf(node, { extra: { macspoofchk: true } });
  const { result } = (await callPlugin(node, { verb: 'ADD', conf, netns: container.path })) as { result: Result100Like };
  const [port] = await observeVeths(node.ns);
  const mac = result.interfaces?.[2]?.mac;
  const rules = (await bridgeNat(node.ns)).filter((item) => item.rule?.comment === 'macspoofchk-ctr1-eth0').map((item) => item.rule!);
  t.match(rules, [
    { chain: 'PREROUTING', expr: [{ match: { right: port?.ifname } }, { jump: { target: 'cni-br-iface-ctr1-eth0' } }] },
    { chain: 'cni-br-iface-ctr1-eth0', expr: [{ jump: { target: 'cni-br-iface-ctr1-eth0-mac' } }] },
    { chain: 'cni-br-iface-ctr1-eth0-mac', expr: [{ match: { right: mac } }, { return: null }] },
    { chain: 'cni-br-iface-ctr1-eth0-mac', expr: [{ drop: null }] },
  ]);
  t.equal(await exchangeOverTcp(t, { serverNs: node.ns, clientNs: container, address: '10.88.0.1' }), 'pong:ping', 'the real MAC gets through');

  await container.exec('ip', ['link', 'set', 'dev', 'eth0', 'address', '02:00:00:00:0b:ad']);
  await t.rejects(exchangeOverTcp(t, { serverNs: node.ns, clientNs: container, address: '10.88.0.1' }), 'a spoofed MAC is dropped');

  await callPlugin(node, { verb: 'DEL', conf, netns: container.path });
  const left = await bridgeNat(node.ns);
  t.same(left.filter((item) => item.rule?.comment === 'macspoofchk-ctr1-eth0'), [], 'no rule left');
  t.same(left.filter((item) => item.chain?.name.startsWith('cni-br-iface-') === true), [], 'no chain left');
});

t.test('portIsolation makes the container port isolated', { skip }, async (t) => {
  const node = await createNode(t);
  const container = await createNamespace(t, 'pod');
  await callPlugin(node, { verb: 'ADD', conf: bridgeConf(node, { extra: { portIsolation: true } }), netns: container.path });
  const [port] = await observeVeths(node.ns);
  t.equal((port?.linkinfo?.info_slave_data as { isolated?: boolean } | undefined)?.isolated, true);
});

t.test('enabledad lets IPv6 DAD run and ADD returns once the address has settled', { skip }, async (t) => {
  const node = await createNode(t);
  const container = await createNamespace(t, 'pod');
  await callPlugin(node, { verb: 'ADD', conf: bridgeConf(node, { subnet6: 'fd00:88::/64', extra: { enabledad: true } }), netns: container.path });
  t.equal(await observeSysctl(container, '/proc/sys/net/ipv6/conf/eth0/accept_dad'), '1');
  const eth0 = await observeLink(container, 'eth0');
  const v6 = eth0?.addr_info.find((info) => info.local === 'fd00:88::2') as { tentative?: boolean } | undefined;
  t.ok(v6 !== undefined && v6.tentative !== true, 'the address is no longer tentative');
});

t.test('without enabledad the container skips DAD', { skip }, async (t) => {
  const node = await createNode(t);
  const container = await createNamespace(t, 'pod');
  await callPlugin(node, { verb: 'ADD', conf: bridgeConf(node, { subnet6: 'fd00:88::/64' }), netns: container.path });
  t.equal(await observeSysctl(container, '/proc/sys/net/ipv6/conf/eth0/accept_dad'), '0');
  t.equal(await observeSysctl(container, '/proc/sys/net/ipv4/conf/eth0/arp_notify'), '1');
});

t.test('two ADDs at once on a node without the bridge both succeed on one bridge', { skip }, async (t) => {
  const node = await createNode(t);
  const conf = bridgeConf(node);
  const containers = await Promise.all([createNamespace(t, 'pod'), createNamespace(t, 'pod')]);
  const results = await Promise.all(containers.map((container, index) => callPlugin(node, { verb: 'ADD', conf, netns: container.path, containerId: `ctr${index}` })));
  t.equal(results.length, 2);
  t.equal((await observeVeths(node.ns)).filter((veth) => veth.master === 'kpbr0').length, 2);
});
