import t from 'tap';
import { CniError, type JsonObject, type NetConf } from '../../../specs/cni/index.js';
import { formatIp } from '../../../reference-plugins/host-local-bridge/host-local/ip-address.js';
import { rangeCapacity } from '../../../reference-plugins/host-local-bridge/host-local/ip-range.js';
import { defaultDataDir, loadHostLocalConfig } from '../../../reference-plugins/host-local-bridge/host-local/ipam-config.js';
import { formatRangeSet } from '../../../reference-plugins/host-local-bridge/host-local/range-set.js';

function conf(ipam: JsonObject, extra: JsonObject = {}, cniVersion = '1.1.0'): NetConf {
  return { cniVersion, name: 'net1', type: 'kubeplug-bridge', ...extra, ipam: { type: 'host-local', ...ipam } };
}

function rangesOf(ipam: JsonObject, extra: JsonObject = {}): string[] {
  return loadHostLocalConfig(conf(ipam, extra), []).rangeSets.map(formatRangeSet);
}

t.test('defaults follow upstream: start after the network, end before the IPv4 broadcast, gateway network+1', async (t) => {
  const config = loadHostLocalConfig(conf({ ranges: [[{ subnet: '10.1.0.0/24' }], [{ subnet: '2001:db8::/120' }]] }), []);
  const [v4, v6] = config.rangeSets.map((set) => set.ranges[0]!);
  t.equal(formatRangeSet(config.rangeSets[0]!), '10.1.0.1-10.1.0.254');
  t.equal(formatIp(v4!.gateway), '10.1.0.1');
  t.equal(rangeCapacity(v4!), 253n, 'the gateway is never handed out');
  t.equal(formatRangeSet(config.rangeSets[1]!), '2001:db8::1-2001:db8::ff', 'IPv6 has no broadcast to skip');
  t.equal(formatIp(v6!.gateway), '2001:db8::1');
  t.equal(config.dataDir, defaultDataDir);
  t.equal(config.network, 'net1');
  t.same(config.routes, []);
});

t.test('explicit range bounds and gateway are kept', async (t) => {
  const config = loadHostLocalConfig(conf({ ranges: [[{ subnet: '10.1.0.0/24', rangeStart: '10.1.0.10', rangeEnd: '10.1.0.20', gateway: '10.1.0.254' }]] }), []);
  const range = config.rangeSets[0]!.ranges[0]!;
  t.equal(formatRangeSet(config.rangeSets[0]!), '10.1.0.10-10.1.0.20');
  t.equal(formatIp(range.gateway), '10.1.0.254');
  t.equal(rangeCapacity(range), 11n, 'a gateway outside the range costs nothing');
});

t.test('the legacy single range comes after runtimeConfig.ipRanges and before ipam.ranges', async (t) => {
  const ranges = rangesOf(
    { subnet: '10.2.0.0/24', rangeStart: '10.2.0.100', ranges: [[{ subnet: '10.3.0.0/24' }]] },
    { runtimeConfig: { ipRanges: [[{ subnet: '10.1.0.0/24' }]] } },
  );
  t.same(ranges, ['10.1.0.1-10.1.0.254', '10.2.0.100-10.2.0.254', '10.3.0.1-10.3.0.254']);
});

t.test('routes, dataDir, dns and resolvConf are read from the ipam section', async (t) => {
  const config = loadHostLocalConfig(
    conf({
      subnet: '10.1.0.0/24',
      dataDir: '/tmp/kp-data',
      resolvConf: '/etc/resolv.conf',
      dns: { nameservers: ['10.1.0.53'], search: ['cluster.local'] },
      routes: [{ dst: '0.0.0.0/0' }, { dst: '2001:DB8::/32', gw: '2001:db8::1', mtu: 1400 }],
    }),
    [],
  );
  t.equal(config.dataDir, '/tmp/kp-data');
  t.equal(config.resolvConf, '/etc/resolv.conf');
  t.same(config.dns, { nameservers: ['10.1.0.53'], search: ['cluster.local'] });
  t.same(config.routes, [{ dst: '0.0.0.0/0' }, { dst: '2001:db8::/32', gw: '2001:db8::1', mtu: 1400 }]);
});

t.test('requested addresses come from args.cni.ips (which overrides CNI_ARGS IP) and runtimeConfig.ips, each once', async (t) => {
  const config = loadHostLocalConfig(
    conf({ subnet: '10.1.0.0/24' }, { args: { cni: { ips: ['10.1.0.7/24', '2001:db8::7'] } }, runtimeConfig: { ips: ['10.1.0.9', '10.1.0.5'] } }),
    [['IP', '10.1.0.5']],
  );
  t.same(
    config.requestedAddresses.map((requested) => `${formatIp(requested.ip)} ${requested.source}`),
    ['10.1.0.7 args.cni.ips[0]', '2001:db8::7 args.cni.ips[1]', '10.1.0.9 runtimeConfig.ips[0]', '10.1.0.5 runtimeConfig.ips[1]'],
  );
});

t.test('CNI_ARGS IP is read when args carries no ips', async (t) => {
  const config = loadHostLocalConfig(conf({ subnet: '10.1.0.0/24' }), [['IP', '10.1.0.5']]);
  t.same(config.requestedAddresses.map((requested) => `${formatIp(requested.ip)} ${requested.source}`), ['10.1.0.5 CNI_ARGS IP']);
});

t.test('CNI_ARGS keys host-local does not read are refused unless IgnoreUnknown is true', async (t) => {
  const load = (args: [string, string][]): unknown => loadHostLocalConfig(conf({ subnet: '10.1.0.0/24' }), args);
  t.throws(() => load([['K8S_POD_NAME', 'web']]), { code: 4, msg: /unknown args \["K8S_POD_NAME=web"\]/ });
  t.throws(() => load([['ip', '10.1.0.5']]), { code: 4 }, 'keys are case-sensitive, as libcni matches Go field names');
  for (const value of ['1', 'true', 'True', 'TRUE']) {
    t.doesNotThrow(() => load([['K8S_POD_NAME', 'web'], ['IgnoreUnknown', value]]), `IgnoreUnknown=${value}, even after the unknown key`);
  }
  t.throws(() => load([['IgnoreUnknown', 'yes']]), { code: 4, msg: /IgnoreUnknown=yes/ });
  t.throws(() => load([['IgnoreUnknown', '0'], ['K8S_POD_NAME', 'web']]), { code: 4 });
  t.throws(() => load([['IP', '10.1.0.300']]), { code: 4, msg: /IP=10\.1\.0\.300/ });
  t.same(loadHostLocalConfig(conf({ subnet: '10.1.0.0/24' }), [['IP', '']]).requestedAddresses, [], 'an empty IP= asks for nothing');
});

// Each row: the ipam section (and extra top-level fields), the field the error must name.
const invalidConfigs: [title: string, ipam: JsonObject | undefined, field: string, extra?: JsonObject, cniVersion?: string][] = [
  ['no ipam section', undefined, 'ipam'],
  ['no ranges at all', {}, 'ipam.ranges'],
  ['ranges not an array', { ranges: { subnet: '10.1.0.0/24' } }, 'ipam.ranges'],
  ['an empty range set', { ranges: [[]] }, 'ipam.ranges[0]'],
  ['a range without subnet', { ranges: [[{ rangeStart: '10.1.0.5' }]] }, 'ipam.ranges[0][0].subnet'],
  ['a subnet that is not a CIDR', { ranges: [[{ subnet: '10.1.0.0' }]] }, 'ipam.ranges[0][0].subnet'],
  ['a subnet with host bits', { ranges: [[{ subnet: '10.1.0.5/24' }]] }, 'ipam.ranges[0][0].subnet'],
  ['a /31', { ranges: [[{ subnet: '10.1.0.0/31' }]] }, 'ipam.ranges[0][0].subnet'],
  ['a /127', { ranges: [[{ subnet: '2001:db8::/127' }]] }, 'ipam.ranges[0][0].subnet'],
  ['rangeStart outside the subnet', { ranges: [[{ subnet: '10.1.0.0/24' }, { subnet: '10.2.0.0/24', rangeStart: '10.3.0.5' }]] }, 'ipam.ranges[0][1].rangeStart'],
  ['rangeEnd outside the subnet', { ranges: [[{ subnet: '10.1.0.0/24', rangeEnd: '10.1.1.5' }]] }, 'ipam.ranges[0][0].rangeEnd'],
  ['rangeStart after rangeEnd', { ranges: [[{ subnet: '10.1.0.0/24', rangeStart: '10.1.0.50', rangeEnd: '10.1.0.40' }]] }, 'ipam.ranges[0][0].rangeStart'],
  ['a gateway that is not an address', { ranges: [[{ subnet: '10.1.0.0/24', gateway: '10.1.0' }]] }, 'ipam.ranges[0][0].gateway'],
  ['a gateway of the other family', { ranges: [[{ subnet: '10.1.0.0/24', gateway: '2001:db8::1' }]] }, 'ipam.ranges[0][0].gateway'],
  ['mixed families in one range set', { ranges: [[{ subnet: '10.1.0.0/24' }, { subnet: '2001:db8::/64' }]] }, 'ipam.ranges[0][1].subnet'],
  ['overlapping ranges in one set', { ranges: [[{ subnet: '10.1.0.0/24' }, { subnet: '10.1.0.0/16', rangeStart: '10.1.0.200', rangeEnd: '10.1.1.10' }]] }, 'ipam.ranges[0][1]'],
  ['overlapping range sets', { ranges: [[{ subnet: '10.1.0.0/24' }], [{ subnet: '10.1.0.128/25' }]] }, 'ipam.ranges[1]'],
  ['the legacy range overlapping ranges', { subnet: '10.1.0.0/24', ranges: [[{ subnet: '10.1.0.0/24' }]] }, 'ipam.ranges[0]'],
  ['a legacy subnet with host bits', { subnet: '10.1.0.1/24' }, 'ipam.subnet'],
  ['a bad runtimeConfig.ipRanges subnet', { subnet: '10.1.0.0/24' }, 'runtimeConfig.ipRanges[0][0].subnet', { runtimeConfig: { ipRanges: [[{ subnet: 'x' }]] } }],
  ['a route without dst', { subnet: '10.1.0.0/24', routes: [{ gw: '10.1.0.1' }] }, 'ipam.routes[0].dst'],
  ['a route with a bad gw', { subnet: '10.1.0.0/24', routes: [{ dst: '0.0.0.0/0', gw: 'router' }] }, 'ipam.routes[0].gw'],
  ['dns nameservers not a list', { subnet: '10.1.0.0/24', dns: { nameservers: '10.1.0.53' } }, 'ipam.dns.nameservers'],
  ['dataDir not a string', { subnet: '10.1.0.0/24', dataDir: 7 }, 'ipam.dataDir'],
  ['a requested runtimeConfig address that is not one', { subnet: '10.1.0.0/24' }, 'runtimeConfig.ips[1]', { runtimeConfig: { ips: ['10.1.0.5', 'ten'] } }],
  ['two IPv4 range sets for a 0.2.0 result', { ranges: [[{ subnet: '10.1.0.0/24' }], [{ subnet: '10.2.0.0/24' }]] }, 'ipam.ranges[1]', {}, '0.2.0'],
];

t.test('an invalid ipam section is INVALID_NETWORK_CONFIG naming the field', async (t) => {
  for (const [title, ipam, field, extra, cniVersion] of invalidConfigs) {
    const netConf: NetConf = ipam === undefined ? { cniVersion: '1.1.0', name: 'net1', type: 'x' } : conf(ipam, extra ?? {}, cniVersion ?? '1.1.0');
    try {
      loadHostLocalConfig(netConf, []);
      t.fail(`${title}: accepted`);
    } catch (error) {
      t.ok(error instanceof CniError, title);
      t.equal((error as CniError).code, 7, `${title}: code 7`);
      t.match((error as CniError).msg, `field "${field}"`, `${title}: names ${field}`);
    }
  }
});

t.test('one range set per family is fine for a 0.2.0 result', async (t) => {
  t.doesNotThrow(() => loadHostLocalConfig(conf({ ranges: [[{ subnet: '10.1.0.0/24' }], [{ subnet: '2001:db8::/64' }]] }, {}, '0.2.0'), []));
});

t.test('legacy range keys without ipam.subnet are ignored, as upstream ignores them', async (t) => {
  t.same(rangesOf({ rangeStart: '10.9.0.5', gateway: '10.9.0.1', ranges: [[{ subnet: '10.1.0.0/24' }]] }), ['10.1.0.1-10.1.0.254']);
});
