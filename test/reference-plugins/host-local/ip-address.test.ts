import t from 'tap';
import {
  broadcastAddress,
  compareIp,
  formatIp,
  networkAddress,
  networkContains,
  nextIp,
  parseCidr,
  parseIp,
  parseIpAllowingPrefix,
} from '../../../reference-plugins/host-local-bridge/host-local/ip-address.js';

// Expected strings are what Go's net.ParseIP(text).String() prints (the names upstream gives its files).
const canonicalForms: [text: string, printed: string, family: 4 | 6][] = [
  ['10.1.2.3', '10.1.2.3', 4],
  ['0.0.0.0', '0.0.0.0', 4],
  ['255.255.255.255', '255.255.255.255', 4],
  ['::', '::', 6],
  ['::1', '::1', 6],
  ['2001:DB8::1', '2001:db8::1', 6],
  ['2001:0db8:0000:0000:0000:0000:0000:0001', '2001:db8::1', 6],
  ['2001:db8:0:0:1:0:0:1', '2001:db8::1:0:0:1', 6],
  ['2001:0:0:1:0:0:0:1', '2001:0:0:1::1', 6],
  ['2001:db8:1:2:3:4:5:6', '2001:db8:1:2:3:4:5:6', 6],
  ['2001:db8:0:1:1:1:1:1', '2001:db8:0:1:1:1:1:1', 6],
  ['fd00::', 'fd00::', 6],
  ['1::', '1::', 6],
  ['::ffff:10.1.2.3', '10.1.2.3', 4],
  ['::10.1.2.3', '::a01:203', 6],
  ['64:ff9b::192.0.2.33', '64:ff9b::c000:221', 6],
];

t.test('addresses print exactly as Go prints them', async (t) => {
  for (const [text, printed, family] of canonicalForms) {
    const ip = parseIp(text);
    t.equal(ip === undefined ? undefined : formatIp(ip), printed, text);
    t.equal(ip?.family, family, `${text} is IPv${family}`);
  }
});

t.test('text that is not an address does not parse', async (t) => {
  for (const text of ['', '10.1.2', '10.1.2.3.4', '10.1.2.256', '010.1.2.3', '10.1.2.-1', 'a.b.c.d', ':::', '1:2:3:4:5:6:7:8:9', '1:2:3:4:5:6:7', '1::2::3', '12345::', 'g::1', '1.2.3.4::', '::1%eth0', ' 10.1.2.3']) {
    t.equal(parseIp(text), undefined, JSON.stringify(text));
  }
});

t.test('CIDRs keep their host bits and refuse a prefix longer than the family', async (t) => {
  t.same(parseCidr('10.1.2.3/24'), { address: { family: 4, value: 0x0a010203n }, prefix: 24 });
  t.equal(parseCidr('10.1.2.3/33'), undefined);
  t.equal(parseCidr('2001:db8::/129'), undefined);
  t.equal(parseCidr('10.1.2.3'), undefined);
  t.equal(parseCidr('10.1.2.3/024'), undefined);
  t.equal(parseCidr('::ffff:10.1.2.0/120'), undefined, 'an IPv4-mapped network mixes families, as upstream says');
});

t.test('a requested address may carry a prefix, which is dropped', async (t) => {
  t.equal(formatIp(parseIpAllowingPrefix('10.1.2.3/24')!), '10.1.2.3');
  t.equal(formatIp(parseIpAllowingPrefix('2001:db8::7')!), '2001:db8::7');
  t.equal(parseIpAllowingPrefix('10.1.2.3/40'), undefined);
});

t.test('network math works on both families', async (t) => {
  const rows: [cidr: string, network: string, last: string][] = [
    ['10.1.2.3/24', '10.1.2.0', '10.1.2.255'],
    ['10.1.2.3/30', '10.1.2.0', '10.1.2.3'],
    ['10.0.0.0/8', '10.0.0.0', '10.255.255.255'],
    ['2001:db8::77/64', '2001:db8::', '2001:db8::ffff:ffff:ffff:ffff'],
    ['2001:db8::77/120', '2001:db8::', '2001:db8::ff'],
  ];
  for (const [cidr, network, last] of rows) {
    const parsed = parseCidr(cidr)!;
    t.equal(formatIp(networkAddress(parsed)), network, `${cidr} network`);
    t.equal(formatIp(broadcastAddress(parsed)), last, `${cidr} last address`);
  }
  const subnet = parseCidr('2001:db8::/64')!;
  t.ok(networkContains(subnet, parseIp('2001:db8::ffff')!));
  t.notOk(networkContains(subnet, parseIp('2001:db8:0:1::')!));
  t.notOk(networkContains(parseCidr('0.0.0.0/0')!, parseIp('::1')!), 'another family is never inside');
});

t.test('the next address carries across groups and wraps at the top', async (t) => {
  t.equal(formatIp(nextIp(parseIp('10.1.0.255')!)), '10.1.1.0');
  t.equal(formatIp(nextIp(parseIp('2001:db8::ffff')!)), '2001:db8::1:0');
  t.equal(formatIp(nextIp(parseIp('255.255.255.255')!)), '0.0.0.0');
});

t.test('IPv4 sorts before IPv6 and addresses sort numerically', async (t) => {
  const sorted = ['::1', '10.0.0.10', '10.0.0.9', '2001:db8::'].map((text) => parseIp(text)!).sort(compareIp).map(formatIp);
  t.same(sorted, ['10.0.0.9', '10.0.0.10', '::1', '2001:db8::']);
});
