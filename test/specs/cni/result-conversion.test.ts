import t from 'tap';
import { convertResult, toResult100, type Result020, type Result040, type Result100 } from '../../../specs/cni/index.js';

const dualStack: Result100 = {
  cniVersion: '1.0.0',
  interfaces: [{ name: 'eth0', mac: '0a:58:0a:01:00:05', sandbox: '/run/netns/x' }],
  ips: [
    { address: '10.1.0.5/24', gateway: '10.1.0.1', interface: 0 },
    { address: 'fd00::5/64', gateway: 'fd00::1', interface: 0 },
  ],
  routes: [{ dst: '0.0.0.0/0', gw: '10.1.0.1' }, { dst: '::/0' }],
  dns: { nameservers: ['10.96.0.10'] },
};

t.test('1.0.0 to 0.4.0 adds each address family and keeps everything else', async (t) => {
  const converted = convertResult(dualStack, '0.4.0') as Result040;
  t.equal(converted.cniVersion, '0.4.0');
  t.same(converted.ips?.map((ip) => ip.version), ['4', '6']);
  t.same(converted.interfaces, dualStack.interfaces);
  t.same(converted.routes, dualStack.routes);
});

t.test('0.4.0 back to 1.0.0 is lossless', async (t) => {
  t.same(convertResult(convertResult(dualStack, '0.4.0'), '1.0.0'), dualStack);
});

t.test('1.1.0 to 1.0.0 and back keeps 1.1.0 route and interface fields', async (t) => {
  const rich: Result100 = { ...dualStack, cniVersion: '1.1.0', routes: [{ dst: '0.0.0.0/0', gw: '10.1.0.1', mtu: 1400, table: 100, scope: 0 }] };
  t.same(convertResult(convertResult(rich, '1.0.0'), '1.1.0'), rich);
});

t.test('1.0.0 to 0.2.0 keeps the first address of each family with its routes and gateway', async (t) => {
  const converted = convertResult(dualStack, '0.2.0') as Result020;
  t.same(converted, {
    cniVersion: '0.2.0',
    ip4: { ip: '10.1.0.5/24', gateway: '10.1.0.1', routes: [{ dst: '0.0.0.0/0', gw: '10.1.0.1' }] },
    ip6: { ip: 'fd00::5/64', gateway: 'fd00::1', routes: [{ dst: '::/0' }] },
    dns: { nameservers: ['10.96.0.10'] },
  });
});

t.test('0.1.0 up to 1.1.0 turns ip4/ip6 into ips and collects routes', async (t) => {
  const old: Result020 = { cniVersion: '0.1.0', ip4: { ip: '10.1.0.5/24', gateway: '10.1.0.1', routes: [{ dst: '0.0.0.0/0' }] } };
  t.same(toResult100(old), { cniVersion: '0.1.0', ips: [{ address: '10.1.0.5/24', gateway: '10.1.0.1' }], routes: [{ dst: '0.0.0.0/0' }] });
  t.same(convertResult(convertResult(old, '1.1.0'), '0.1.0'), old, 'round trip through 1.1.0');
});

t.test('a result without addresses cannot become 0.2.0', async (t) => {
  t.throws(() => convertResult({ cniVersion: '1.0.0', interfaces: [{ name: 'eth0' }] }, '0.2.0'), { code: 1 });
});

t.test('an unknown target version is INCOMPATIBLE_VERSION', async (t) => {
  t.throws(() => convertResult(dualStack, '2.0.0'), { name: 'CniError', code: 1 });
});

t.test('down to 0.4.0, interfaces keep only name, mac and sandbox', async (t) => {
  const rich: Result100 = { cniVersion: '1.1.0', interfaces: [{ name: 'eth0', mac: 'aa:bb:cc:dd:ee:ff', mtu: 1400, sandbox: '/x', pciID: '0000:00:01.0' }], ips: [{ address: '10.0.0.2/24' }] };
  t.same((convertResult(rich, '0.4.0') as Result040).interfaces, [{ name: 'eth0', mac: 'aa:bb:cc:dd:ee:ff', sandbox: '/x' }]);
});

t.test('down to 0.2.0, routes keep only dst and gw', async (t) => {
  const rich: Result100 = { cniVersion: '1.1.0', ips: [{ address: '10.0.0.2/24' }], routes: [{ dst: '0.0.0.0/0', gw: '10.0.0.1', mtu: 1400, table: 5 }] };
  t.same((convertResult(rich, '0.2.0') as Result020).ip4?.routes, [{ dst: '0.0.0.0/0', gw: '10.0.0.1' }]);
});
