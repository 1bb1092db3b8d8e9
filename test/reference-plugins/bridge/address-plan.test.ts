import t from 'tap';
import { containerAddressLines, gatewayAddressLines, planGateways } from '../../../reference-plugins/host-local-bridge/bridge/address-setup.js';
import { canonical, firstHostOf, parseCidr } from '../../../reference-plugins/host-local-bridge/bridge/ip-address.js';
import { masqueradeChainName, masqueradeComment, masqueradeRules } from '../../../reference-plugins/host-local-bridge/bridge/ip-masquerade.js';
import { parseJsonSequence } from '../../../reference-plugins/host-local-bridge/bridge/ip-json.js';

t.test('addresses print as iproute2 prints them', async (t) => {
  t.equal(canonical('FD00:0:0:0::05/64'), 'fd00::5/64');
  t.equal(canonical('2001:db8:0:0:1:0:0:1'), '2001:db8::1:0:0:1', 'the first of two equal zero runs is compressed');
  t.equal(canonical('::ffff:10.0.0.1'), '::ffff:a00:1');
  t.equal(canonical('10.001.0.5/24'), '10.001.0.5/24', 'not an address: left as written');
  t.equal(firstHostOf(parseCidr('10.88.7.9/16')!), '10.88.0.1');
  t.equal(firstHostOf(parseCidr('fd00:88::9/64')!), 'fd00:88::1');
});

t.test('isGateway fills missing gateways with the subnet\'s first host and puts them on the bridge', async (t) => {
  const plan = planGateways({ cniVersion: '1.0.0', ips: [{ address: '10.1.2.3/24' }, { address: 'fd00::3/64', gateway: 'fd00::fe' }] }, { isGateway: true, isDefaultGateway: false });
  t.same(plan.result.ips, [
    { address: '10.1.2.3/24', gateway: '10.1.2.1', interface: 2 },
    { address: 'fd00::3/64', gateway: 'fd00::fe', interface: 2 },
  ]);
  t.same(plan.bridgeAddresses.map((cidr) => `${cidr.family}:${cidr.prefix}`), ['4:24', '6:64']);
  t.same(plan.forwardingFamilies, ['4', '6']);
  t.equal(plan.result.routes, undefined, 'no default route without isDefaultGateway');
});

t.test('isDefaultGateway adds a default route per family unless IPAM gave one with a gateway', async (t) => {
  const given = { dst: '0.0.0.0/0', gw: '10.1.2.254' };
  const plan = planGateways({ cniVersion: '1.0.0', ips: [{ address: '10.1.2.3/24' }, { address: 'fd00::3/64' }], routes: [given] }, { isGateway: true, isDefaultGateway: true });
  t.same(plan.result.routes, [given, { dst: '::/0', gw: 'fd00::1' }]);
});

t.test('without isGateway nothing goes on the bridge and IPAM\'s gateway is kept as is', async (t) => {
  const plan = planGateways({ cniVersion: '1.0.0', ips: [{ address: '10.1.2.3/24' }] }, { isGateway: false, isDefaultGateway: false });
  t.same(plan.result.ips, [{ address: '10.1.2.3/24', interface: 2 }]);
  t.same(plan.bridgeAddresses, []);
});

t.test('container commands add addresses, bring the link up and append routes via the family gateway', async (t) => {
  const { addresses, routes } = containerAddressLines(
    'eth0',
    { cniVersion: '1.0.0', ips: [{ address: '10.1.2.3/24', gateway: '10.1.2.1' }, { address: 'fd00::3/64' }], routes: [{ dst: '10.9.0.0/16' }, { dst: '::/0', gw: 'fd00::1', priority: 10 }] },
    { enableDad: false },
  );
  t.same(addresses, [
    ['addr', 'add', '10.1.2.3/24', 'dev', 'eth0'],
    ['addr', 'add', 'fd00::3/64', 'dev', 'eth0', 'nodad'],
    ['link', 'set', 'dev', 'eth0', 'up'],
  ]);
  t.same(routes, [
    ['route', 'append', '10.9.0.0/16', 'via', '10.1.2.1', 'dev', 'eth0'],
    ['route', 'append', '::/0', 'via', 'fd00::1', 'dev', 'eth0', 'metric', '10'],
  ]);
});

t.test('the bridge keeps its gateway, refuses another IPv4 address, and replaces it with forceAddress', async (t) => {
  const gateway = [{ ...parseCidr('10.1.2.1/24')! }];
  const present = (local: string) => [{ family: 'inet', local, prefixlen: 24 }];
  t.same(gatewayAddressLines('cni0', present('10.1.2.1'), gateway, { forceAddress: false }), [], 'already there');
  t.throws(() => gatewayAddressLines('cni0', present('10.7.0.1'), gateway, { forceAddress: false }), {
    code: 7,
    msg: 'failed to set bridge addr: "cni0" already has an IP address different from 10.1.2.1/24',
  });
  t.same(gatewayAddressLines('cni0', present('10.7.0.1'), gateway, { forceAddress: true }), [
    ['addr', 'del', '10.7.0.1/24', 'dev', 'cni0'],
    ['addr', 'replace', '10.1.2.1/24', 'dev', 'cni0'],
  ]);
  const v6 = [{ ...parseCidr('fd00:2::1/64')! }];
  t.same(gatewayAddressLines('cni0', [{ family: 'inet6', local: 'fd00:1::1', prefixlen: 64 }], v6, { forceAddress: false }), [['addr', 'replace', 'fd00:2::1/64', 'dev', 'cni0']], 'IPv6 subnets that do not overlap coexist');
});

t.test('the masquerade chain is named and commented exactly as upstream names it', async (t) => {
  // Upstream's bridge v1.1.1 made this chain for network "kpnet", container "c1" (seen with iptables-save).
  t.equal(masqueradeChainName('kpnet', 'c1'), 'CNI-5bd9c2522b8ec920a0a803d0');
  t.equal(masqueradeComment('kpnet', 'c1'), 'name: "kpnet" id: "c1"');
  t.same(masqueradeRules('kpnet', 'c1', 'fd00:88::2/64'), [
    '-A CNI-5bd9c2522b8ec920a0a803d0 -d fd00:88::/64 -m comment --comment "name: \\"kpnet\\" id: \\"c1\\"" -j ACCEPT',
    '-A CNI-5bd9c2522b8ec920a0a803d0 ! -d ff00::/8 -m comment --comment "name: \\"kpnet\\" id: \\"c1\\"" -j MASQUERADE',
    '-A POSTROUTING -s fd00:88::2/128 -m comment --comment "name: \\"kpnet\\" id: \\"c1\\"" -j CNI-5bd9c2522b8ec920a0a803d0',
  ]);
});

t.test('batch JSON output splits into one value per show command', async (t) => {
  t.same(parseJsonSequence('[{"a":"]"}]\n[]\n[{"b":[1,2]}]\n'), [[{ a: ']' }], [], [{ b: [1, 2] }]]);
});
