import t from 'tap';
import {
  attachContainer,
  bridgeConf,
  callPlugin,
  createNode,
  exchangeOverTcp,
  missingPrerequisites,
  observeLink,
  observeRoutes,
  observeSysctl,
  observeVeths,
  reservedAddresses,
} from './fixtures/bridge-harness.js';

const skip = missingPrerequisites() ?? false;

t.test('ADD creates the bridge, a veth pair on it and the IPAM address with a default route', { skip }, async (t) => {
  const node = await createNode(t);
  const conf = bridgeConf(node);
  const { container, result } = await attachContainer(t, node, conf);

  const bridge = await observeLink(node.ns, 'kpbr0');
  t.equal(bridge?.linkinfo?.info_kind, 'bridge', 'the bridge exists');
  t.ok(bridge?.flags.includes('UP'), 'the bridge is up');
  t.match(bridge?.addr_info, [{ family: 'inet', local: '10.88.0.1', prefixlen: 24 }], 'the gateway address is on the bridge');

  const [hostVeth, ...others] = await observeVeths(node.ns);
  t.same(others, [], 'exactly one veth on the node');
  t.equal(hostVeth?.master, 'kpbr0', 'the host end is a port of the bridge');
  t.equal(hostVeth?.operstate, 'UP', 'the host end is up');

  const eth0 = await observeLink(container, 'eth0');
  t.equal(eth0?.linkinfo?.info_kind, 'veth', 'the container end is a veth named CNI_IFNAME');
  t.equal(eth0?.link_index, hostVeth?.ifindex, 'the container end is the peer of the host end');
  t.match(eth0?.addr_info, [{ family: 'inet', local: '10.88.0.2', prefixlen: 24 }]);
  t.ok((await observeRoutes(container)).some((route) => route.dst === 'default' && route.gateway === '10.88.0.1'), 'default route via the gateway');

  t.same(result.interfaces, [
    { name: 'kpbr0', mac: bridge?.address },
    { name: hostVeth?.ifname, mac: hostVeth?.address },
    { name: 'eth0', mac: eth0?.address, sandbox: container.path },
  ]);
  t.same(result.ips, [{ address: '10.88.0.2/24', gateway: '10.88.0.1', interface: 2 }]);
  t.same(result.routes, [{ dst: '0.0.0.0/0', gw: '10.88.0.1' }]);
  t.equal(await observeSysctl(node.ns, '/proc/sys/net/ipv4/ip_forward'), '1', 'forwarding is on in the node namespace');
  t.same(reservedAddresses(node), ['10.88.0.2'], 'host-local holds the address');
});

t.test('a container reaches its gateway over the bridge', { skip }, async (t) => {
  const node = await createNode(t);
  const { container } = await attachContainer(t, node, bridgeConf(node));
  t.equal(await exchangeOverTcp(t, { serverNs: node.ns, clientNs: container, address: '10.88.0.1' }), 'pong:ping');
});

t.test('two containers on one bridge reach each other', { skip }, async (t) => {
  const node = await createNode(t);
  const conf = bridgeConf(node);
  const first = await attachContainer(t, node, conf, { containerId: 'ctr1' });
  const second = await attachContainer(t, node, conf, { containerId: 'ctr2' });
  t.equal(second.result.ips?.[0]?.address, '10.88.0.3/24', 'the second container gets the next address');
  t.equal((await observeVeths(node.ns)).filter((veth) => veth.master === 'kpbr0').length, 2, 'two ports on the bridge');
  t.equal(await exchangeOverTcp(t, { serverNs: first.container, clientNs: second.container, address: '10.88.0.2' }), 'pong:ping');
});

t.test('an IPv4 and IPv6 dual-stack ADD addresses both families and routes both defaults', { skip }, async (t) => {
  const node = await createNode(t);
  const { container, result } = await attachContainer(t, node, bridgeConf(node, { subnet6: 'fd00:88::/64' }));
  t.same(result.ips?.map((ip) => ip.address), ['10.88.0.2/24', 'fd00:88::2/64']);
  t.same(result.routes, [{ dst: '0.0.0.0/0', gw: '10.88.0.1' }, { dst: '::/0', gw: 'fd00:88::1' }]);
  const eth0 = await observeLink(container, 'eth0');
  t.ok(eth0?.addr_info.some((info) => info.local === 'fd00:88::2' && info.prefixlen === 64), 'the IPv6 address is on eth0');
  t.ok((await observeRoutes(container)).some((route) => route.dst === 'default' && route.gateway === 'fd00:88::1'), 'IPv6 default route');
  t.equal(await observeSysctl(node.ns, '/proc/sys/net/ipv6/conf/all/forwarding'), '1');
});

t.test('hairpin mode is on for the port when asked and off otherwise', { skip }, async (t) => {
  const node = await createNode(t);
  await attachContainer(t, node, bridgeConf(node, { extra: { hairpinMode: true } }), { containerId: 'ctr1' });
  const [hairpinned] = await observeVeths(node.ns);
  t.equal(hairpinned?.linkinfo?.info_slave_data?.hairpin, true, 'hairpinMode: true');
  await attachContainer(t, node, bridgeConf(node), { containerId: 'ctr2' });
  const plain = (await observeVeths(node.ns)).find((veth) => veth.ifname !== hairpinned?.ifname);
  t.equal(plain?.linkinfo?.info_slave_data?.hairpin, false, 'default: off');
});

t.test('mtu applies to the bridge and both ends of the veth', { skip }, async (t) => {
  const node = await createNode(t);
  const { container } = await attachContainer(t, node, bridgeConf(node, { extra: { mtu: 1400 } }));
  t.equal((await observeLink(node.ns, 'kpbr0'))?.mtu, 1400, 'bridge');
  t.equal((await observeVeths(node.ns))[0]?.mtu, 1400, 'host end');
  t.equal((await observeLink(container, 'eth0'))?.mtu, 1400, 'container end');
});

t.test('promiscMode makes the bridge promiscuous', { skip }, async (t) => {
  const node = await createNode(t);
  await attachContainer(t, node, bridgeConf(node, { extra: { promiscMode: true } }));
  t.ok((await observeLink(node.ns, 'kpbr0'))?.flags.includes('PROMISC'));
});

t.test('isGateway alone puts the gateway on the bridge without a default route', { skip }, async (t) => {
  const node = await createNode(t);
  const { container, result } = await attachContainer(t, node, bridgeConf(node, { extra: { isDefaultGateway: false, isGateway: true } }));
  t.same(result.ips, [{ address: '10.88.0.2/24', gateway: '10.88.0.1', interface: 2 }]);
  t.equal(result.routes, undefined, 'no routes in the result');
  t.notOk((await observeRoutes(container)).some((route) => route.dst === 'default'), 'no default route in the container');
  t.match((await observeLink(node.ns, 'kpbr0'))?.addr_info, [{ local: '10.88.0.1' }]);
});

t.test('without isGateway the bridge gets no address and forwarding stays off', { skip }, async (t) => {
  const node = await createNode(t);
  const { result } = await attachContainer(t, node, bridgeConf(node, { extra: { isDefaultGateway: false } }));
  t.same(result.ips, [{ address: '10.88.0.2/24', gateway: '10.88.0.1', interface: 2 }], "host-local's gateway is reported as given");
  t.same((await observeLink(node.ns, 'kpbr0'))?.addr_info.filter((info) => info.family === 'inet'), []);
  t.equal(await observeSysctl(node.ns, '/proc/sys/net/ipv4/ip_forward'), '0');
});

t.test('a layer 2 attachment (no ipam) brings the container interface up without addresses', { skip }, async (t) => {
  const node = await createNode(t);
  const conf = { cniVersion: '1.0.0', name: 'kpnet', type: 'kubeplug-bridge', bridge: 'kpbr0' };
  const { container, result } = await attachContainer(t, node, conf);
  const eth0 = await observeLink(container, 'eth0');
  t.ok(eth0?.flags.includes('UP'), 'eth0 is up');
  t.same(eth0?.addr_info.filter((info) => info.scope === 'global'), []);
  t.equal(result.interfaces?.length, 3);
  t.equal(result.ips, undefined);
  await callPlugin(node, { verb: 'DEL', conf, netns: container.path });
  t.same(await observeVeths(node.ns), []);
});

t.test('disableContainerInterface leaves the container end down', { skip }, async (t) => {
  const node = await createNode(t);
  const conf = { cniVersion: '1.0.0', name: 'kpnet', type: 'kubeplug-bridge', bridge: 'kpbr0', disableContainerInterface: true };
  const { container } = await attachContainer(t, node, conf);
  t.notOk((await observeLink(container, 'eth0'))?.flags.includes('UP'));
});

t.test('the MAC asked for in runtimeConfig is given to the container interface', { skip }, async (t) => {
  const node = await createNode(t);
  const { container, result } = await attachContainer(t, node, bridgeConf(node, { extra: { runtimeConfig: { mac: '02:42:ac:11:00:99' } } }));
  t.equal((await observeLink(container, 'eth0'))?.address, '02:42:ac:11:00:99');
  t.equal(result.interfaces?.[2]?.mac, '02:42:ac:11:00:99');
});

t.test('dns in the configuration replaces the IPAM DNS in the result', { skip }, async (t) => {
  const node = await createNode(t);
  const dns = { nameservers: ['10.88.0.10'], search: ['example.test'] };
  const { result } = await attachContainer(t, node, bridgeConf(node, { extra: { dns } }));
  t.same(result.dns, dns);
});
