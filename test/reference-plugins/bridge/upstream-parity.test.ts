import fs from 'node:fs';
import t from 'tap';
import {
  bridgeConf,
  callPlugin,
  callPluginFailing,
  createNamespace,
  createNode,
  exchangeOverTcp,
  missingPrerequisites,
  observeLink,
  observeNat,
  observeRoutes,
  observeVeths,
  reservedAddresses,
  upstreamBridgePath,
  type Result100Like,
  type TestLike,
} from './fixtures/bridge-harness.js';
import { masqueradeChainName } from '../../../reference-plugins/host-local-bridge/bridge/ip-masquerade.js';

/**
 * The same observations against Debian's upstream bridge (v1.1.1) and ours:
 * if upstream passes them, the harness is fair; if ours passes them too, the
 * two agree on what ADD and DEL do.
 */
const skip = missingPrerequisites() ?? (fs.existsSync(upstreamBridgePath) ? false : `needs ${upstreamBridgePath}`);

const plugins = [
  { name: 'kubeplug-bridge', plugin: 'kubeplug-bridge' },
  { name: "upstream's bridge", plugin: 'bridge' },
];

async function addOnFreshNode(t: TestLike, plugin: string, subnet6?: string) {
  const node = await createNode(t);
  const container = await createNamespace(t, 'pod');
  const conf = bridgeConf(node, { plugin, ...(subnet6 === undefined ? {} : { subnet6 }), extra: { ipMasq: true, hairpinMode: true } });
  const { result } = await callPlugin(node, { verb: 'ADD', conf, netns: container.path, containerId: 'ctr-parity' });
  return { node, container, conf, result: result as Result100Like };
}

for (const { name, plugin } of plugins) {
  t.test(`${name}: ADD wires the container to the gateway and DEL removes the attachment`, { skip }, async (t) => {
    const { node, container, conf } = await addOnFreshNode(t, plugin);
    t.match((await observeLink(node.ns, 'kpbr0'))?.addr_info, [{ local: '10.88.0.1', prefixlen: 24 }], 'gateway on the bridge');
    const [port] = await observeVeths(node.ns);
    t.equal(port?.master, 'kpbr0', 'host end on the bridge');
    t.equal(port?.linkinfo?.info_slave_data?.hairpin, true, 'hairpin on');
    t.match((await observeLink(container, 'eth0'))?.addr_info, [{ local: '10.88.0.2', prefixlen: 24 }], 'container address');
    t.ok((await observeRoutes(container)).some((route) => route.dst === 'default' && route.gateway === '10.88.0.1'), 'default route');
    t.ok((await observeNat(node.ns)).includes(`:${masqueradeChainName('kpnet', 'ctr-parity')} - [0:0]`), 'masquerade chain as upstream names it');
    t.equal(await exchangeOverTcp(t, { serverNs: node.ns, clientNs: container, address: '10.88.0.1' }), 'pong:ping', 'traffic flows');

    await callPlugin(node, { verb: 'DEL', conf, netns: container.path, containerId: 'ctr-parity' });
    t.same(await observeVeths(node.ns), [], 'no veth left');
    t.equal(await observeLink(container, 'eth0'), undefined, 'no eth0 left');
    t.same(reservedAddresses(node), [], 'address released');
    t.same((await observeNat(node.ns)).filter((line) => line.includes('CNI-')), [], 'chain removed');
  });

  t.test(`${name}: an existing CNI_IFNAME fails the ADD and leaves no veth`, { skip }, async (t) => {
    const node = await createNode(t);
    const container = await createNamespace(t, 'pod');
    await container.exec('ip', ['link', 'add', 'eth0', 'type', 'veth', 'peer', 'name', 'eth0peer']);
    const error = await callPluginFailing(node, { verb: 'ADD', conf: bridgeConf(node, { plugin }), netns: container.path });
    // v1.1.1 says "container veth name provided (eth0) already exists"; v1.9.1 (ours) quotes both names.
    t.match(error.msg, /container veth name .*eth0.* already exists/);
    t.same(await observeVeths(node.ns), []);
    t.same(reservedAddresses(node), []);
  });
}

t.test("ours and upstream's ADD results agree apart from generated names and MACs", { skip }, async (t) => {
  const normalize = (result: Result100Like) => ({
    ...result,
    interfaces: result.interfaces?.map((entry) => ({ ...entry, name: entry.name.replace(/^veth[0-9a-f]{8}$/, 'veth*'), mac: entry.mac === undefined ? undefined : 'mac', sandbox: entry.sandbox === undefined ? undefined : 'netns' })),
  });
  const ours = await addOnFreshNode(t, 'kubeplug-bridge', 'fd00:88::/64');
  const theirs = await addOnFreshNode(t, 'bridge', 'fd00:88::/64');
  t.same(normalize(ours.result), normalize(theirs.result));
});
