import fs from 'node:fs';
import path from 'node:path';
import t from 'tap';
import { atLeast, cniSupportedVersions, runPluginProcess, type JsonObject } from '../../../specs/cni/index.js';
import { tempDir } from '../../helpers/temp-dir.js';
import { addressesOf, missingBuild, netConf, ourHostLocal, reservationFiles, runHostLocal } from './host-local-fixture.js';

const skip = missingBuild;
const dualStack = (dataDir: string): JsonObject => ({ dataDir, ranges: [[{ subnet: '10.1.0.0/24' }], [{ subnet: '2001:db8::/64' }]] });

// What each version's ADD result looks like for one IPv4 and one IPv6 set.
const wantedResults: Record<string, (v4: string, v6: string) => unknown> = {
  '0.1.0': (v4, v6) => ({ cniVersion: '0.1.0', ip4: { ip: v4, gateway: '10.1.0.1' }, ip6: { ip: v6, gateway: '2001:db8::1' } }),
  '0.2.0': (v4, v6) => ({ cniVersion: '0.2.0', ip4: { ip: v4, gateway: '10.1.0.1' }, ip6: { ip: v6, gateway: '2001:db8::1' } }),
  '0.3.0': (v4, v6) => ({ cniVersion: '0.3.0', ips: [{ address: v4, gateway: '10.1.0.1', version: '4' }, { address: v6, gateway: '2001:db8::1', version: '6' }] }),
  '0.3.1': (v4, v6) => ({ cniVersion: '0.3.1', ips: [{ address: v4, gateway: '10.1.0.1', version: '4' }, { address: v6, gateway: '2001:db8::1', version: '6' }] }),
  '0.4.0': (v4, v6) => ({ cniVersion: '0.4.0', ips: [{ address: v4, gateway: '10.1.0.1', version: '4' }, { address: v6, gateway: '2001:db8::1', version: '6' }] }),
  '1.0.0': (v4, v6) => ({ cniVersion: '1.0.0', ips: [{ address: v4, gateway: '10.1.0.1' }, { address: v6, gateway: '2001:db8::1' }] }),
  '1.1.0': (v4, v6) => ({ cniVersion: '1.1.0', ips: [{ address: v4, gateway: '10.1.0.1' }, { address: v6, gateway: '2001:db8::1' }] }),
};

for (const version of cniSupportedVersions) {
  t.test(`ADD, CHECK, DEL and a repeated DEL work in spec ${version}`, { skip }, async (t) => {
    const dataDir = tempDir(t);
    const conf = netConf({ cniVersion: version, ipam: dualStack(dataDir) });
    const who = { containerId: `ctr-${version.replaceAll('.', '')}` };
    const added = await runHostLocal(ourHostLocal, 'ADD', conf, who);
    t.equal(added.error, undefined);
    t.same(added.result, wantedResults[version]!('10.1.0.2/24', '2001:db8::2/64'));
    t.same([...reservationFiles(dataDir)], [['10.1.0.2', `${who.containerId}\r\neth0`], ['2001:db8::2', `${who.containerId}\r\neth0`]]);
    if (atLeast(version, '0.4.0')) {
      const checked = await runHostLocal(ourHostLocal, 'CHECK', { ...conf, prevResult: added.result as JsonObject }, who);
      t.equal(checked.error, undefined, 'CHECK passes with the ADD result as prevResult');
    }
    t.equal((await runHostLocal(ourHostLocal, 'DEL', conf, who)).error, undefined);
    t.same([...reservationFiles(dataDir)], []);
    t.equal((await runHostLocal(ourHostLocal, 'DEL', conf, who)).error, undefined, 'DEL of nothing succeeds');
  });
}

t.test('VERSION lists every spec version from 0.1.0 to 1.1.0', { skip }, async (t) => {
  const { result } = await runHostLocal(ourHostLocal, 'VERSION', { cniVersion: '1.1.0' });
  t.same(result, { cniVersion: '1.1.0', supportedVersions: [...cniSupportedVersions] });
});

t.test('DEL succeeds without CNI_NETNS and without any reservation', { skip }, async (t) => {
  const dataDir = tempDir(t);
  const run = await runPluginProcess(ourHostLocal, { CNI_COMMAND: 'DEL', CNI_CONTAINERID: 'never-added', CNI_IFNAME: 'eth0', CNI_PATH: '' }, JSON.stringify(netConf({ ipam: dualStack(dataDir) })));
  t.equal(run.exitCode, 0, run.stdout);
  t.equal(run.stdout, '');
});

t.test('ADD returns the configured routes and DNS, or DNS from resolvConf', { skip }, async (t) => {
  const dataDir = tempDir(t);
  const resolvConf = path.join(dataDir, 'resolv.conf');
  fs.writeFileSync(resolvConf, '# generated\nnameserver 10.1.0.53\nnameserver 10.1.0.54\nsearch svc.cluster.local cluster.local\noptions ndots:5\n');
  const routes = [{ dst: '0.0.0.0/0' }, { dst: '10.96.0.0/12', gw: '10.1.0.254' }];
  const fromConfig = await runHostLocal(ourHostLocal, 'ADD', netConf({ ipam: { dataDir, subnet: '10.1.0.0/24', routes, dns: { nameservers: ['10.1.0.10'], domain: 'cluster.local' } } }), { containerId: 'a' });
  t.match(fromConfig.result, { routes, dns: { nameservers: ['10.1.0.10'], domain: 'cluster.local' } });
  t.notOk('interfaces' in (fromConfig.result as object), 'IPAM creates no interface');
  const fromFile = await runHostLocal(ourHostLocal, 'ADD', netConf({ ipam: { dataDir, subnet: '10.1.0.0/24', resolvConf } }), { containerId: 'b' });
  t.same((fromFile.result as JsonObject)['dns'], { nameservers: ['10.1.0.53', '10.1.0.54'], search: ['svc.cluster.local', 'cluster.local'], options: ['ndots:5'] });
});

t.test('a second ADD for the same attachment fails with 101 and keeps the first address', { skip }, async (t) => {
  const dataDir = tempDir(t);
  const conf = netConf({ ipam: dualStack(dataDir) });
  await runHostLocal(ourHostLocal, 'ADD', conf, { containerId: 'a' });
  const again = await runHostLocal(ourHostLocal, 'ADD', conf, { containerId: 'a' });
  t.match(again.error, { code: 101, msg: /10\.1\.0\.2 has been allocated to a, duplicate allocation is not allowed/ });
  t.same([...reservationFiles(dataDir).keys()], ['10.1.0.2', '2001:db8::2']);
});

t.test('an exhausted range set fails ADD with 100 and STATUS with 50 until an address is released', { skip }, async (t) => {
  const dataDir = tempDir(t);
  // 10.1.0.1 is the gateway: .2 and .3 are all there is.
  const conf = netConf({ ipam: { dataDir, ranges: [[{ subnet: '10.1.0.0/24', rangeEnd: '10.1.0.3' }], [{ subnet: '2001:db8::/64' }]] } });
  t.equal((await runHostLocal(ourHostLocal, 'STATUS', conf)).error, undefined, 'STATUS succeeds while addresses are free');
  await runHostLocal(ourHostLocal, 'ADD', conf, { containerId: 'a' });
  await runHostLocal(ourHostLocal, 'ADD', conf, { containerId: 'b' });
  const third = await runHostLocal(ourHostLocal, 'ADD', conf, { containerId: 'c' });
  t.match(third.error, { code: 100, msg: 'failed to allocate for range 0: no IP addresses available in range set: 10.1.0.1-10.1.0.3' });
  t.match((await runHostLocal(ourHostLocal, 'STATUS', conf)).error, { code: 50, msg: /no IP addresses available in range set: 10\.1\.0\.1-10\.1\.0\.3/ });
  await runHostLocal(ourHostLocal, 'DEL', conf, { containerId: 'a' });
  t.equal((await runHostLocal(ourHostLocal, 'STATUS', conf)).error, undefined, 'STATUS succeeds again');
  t.same(addressesOf((await runHostLocal(ourHostLocal, 'ADD', conf, { containerId: 'c' })).result), ['10.1.0.2/24', '2001:db8::4/64']);
});

t.test('a failure in a later range set releases what the ADD took in earlier ones', { skip }, async (t) => {
  const dataDir = tempDir(t);
  const conf = netConf({ ipam: { dataDir, ranges: [[{ subnet: '10.1.0.0/24' }], [{ subnet: '10.2.0.0/24', rangeEnd: '10.2.0.2' }]] } });
  await runHostLocal(ourHostLocal, 'ADD', conf, { containerId: 'a' });
  const failed = await runHostLocal(ourHostLocal, 'ADD', conf, { containerId: 'b' });
  t.match(failed.error, { code: 100, msg: /failed to allocate for range 1/ });
  t.same([...reservationFiles(dataDir)], [['10.1.0.2', 'a\r\neth0'], ['10.2.0.2', 'a\r\neth0']], 'b holds nothing');
});

t.test('requested addresses come from CNI_ARGS and runtimeConfig, and an unmet request reserves nothing', { skip }, async (t) => {
  const dataDir = tempDir(t);
  const conf = netConf({ ipam: dualStack(dataDir) });
  const viaArgs = await runHostLocal(ourHostLocal, 'ADD', conf, { containerId: 'a', args: [['IgnoreUnknown', '1'], ['K8S_POD_NAME', 'web'], ['IP', '10.1.0.50']] });
  t.same(addressesOf(viaArgs.result), ['10.1.0.50/24', '2001:db8::2/64']);
  const viaRuntime = await runHostLocal(ourHostLocal, 'ADD', { ...conf, runtimeConfig: { ips: ['10.1.0.60/24', '2001:db8::60'] } }, { containerId: 'b' });
  t.same(addressesOf(viaRuntime.result), ['10.1.0.60/24', '2001:db8::60/64']);
  const taken = await runHostLocal(ourHostLocal, 'ADD', conf, { containerId: 'c', args: [['IP', '10.1.0.50']] });
  t.match(taken.error, { code: 102, msg: /requested IP address 10\.1\.0\.50 \(CNI_ARGS IP\) is not available/ });
  const outside = await runHostLocal(ourHostLocal, 'ADD', { ...conf, runtimeConfig: { ips: ['10.9.0.5'] } }, { containerId: 'd' });
  t.match(outside.error, { code: 102, msg: 'failed to allocate all requested IPs: 10.9.0.5' });
  t.same([...reservationFiles(dataDir).keys()].sort(), ['10.1.0.50', '10.1.0.60', '2001:db8::2', '2001:db8::60'], 'c and d hold nothing');
});

t.test('CNI_ARGS keys host-local does not know fail with 4 unless IgnoreUnknown is set', { skip }, async (t) => {
  const dataDir = tempDir(t);
  const failed = await runHostLocal(ourHostLocal, 'ADD', netConf({ ipam: dualStack(dataDir) }), { containerId: 'a', args: [['K8S_POD_NAMESPACE', 'default']] });
  t.match(failed.error, { code: 4, msg: /unknown args/ });
});

t.test('an invalid range fails with 7 naming the field', { skip }, async (t) => {
  const dataDir = tempDir(t);
  const conf = netConf({ ipam: { dataDir, ranges: [[{ subnet: '10.1.0.0/24' }, { subnet: '10.2.0.0/24', rangeStart: '10.3.0.1' }]] } });
  const failed = await runHostLocal(ourHostLocal, 'ADD', conf, { containerId: 'a' });
  t.match(failed.error, { code: 7, msg: /field "ipam\.ranges\[0\]\[1\]\.rangeStart"/ });
});

t.test('a data directory that cannot be created fails with IO_FAILURE (5)', { skip }, async (t) => {
  const dir = tempDir(t);
  fs.writeFileSync(path.join(dir, 'file'), '');
  const failed = await runHostLocal(ourHostLocal, 'ADD', netConf({ ipam: { dataDir: path.join(dir, 'file'), subnet: '10.1.0.0/24' } }), { containerId: 'a' });
  t.match(failed.error, { code: 5, msg: /cannot create data directory/ });
});

t.test('CHECK fails with 103 without a reservation and with 104 when prevResult differs from it', { skip }, async (t) => {
  const dataDir = tempDir(t);
  const conf = netConf({ ipam: dualStack(dataDir) });
  t.match((await runHostLocal(ourHostLocal, 'CHECK', conf, { containerId: 'a' })).error, { code: 103, msg: /Failed to find address added by container a/ });
  const added = await runHostLocal(ourHostLocal, 'ADD', conf, { containerId: 'a' });
  t.equal((await runHostLocal(ourHostLocal, 'CHECK', conf, { containerId: 'a' })).error, undefined, 'without prevResult a reservation is enough, as upstream');
  const wrong = { cniVersion: '1.1.0', ips: [{ address: '10.1.0.9/24' }, { address: '2001:db8::2/64' }] };
  t.match((await runHostLocal(ourHostLocal, 'CHECK', { ...conf, prevResult: wrong }, { containerId: 'a' })).error, {
    code: 104,
    details: 'in prevResult but not reserved: [10.1.0.9]; reserved but not in prevResult: [10.1.0.2]',
  });
  const withForeign = { ...(added.result as JsonObject), ips: [...((added.result as { ips: object[] }).ips), { address: '192.168.9.9/24' }] };
  t.equal((await runHostLocal(ourHostLocal, 'CHECK', { ...conf, prevResult: withForeign }, { containerId: 'a' })).error, undefined, 'addresses outside our ranges are another plugin’s');
  t.match((await runHostLocal(ourHostLocal, 'CHECK', conf, { containerId: 'a', ifName: 'eth1' })).error, { code: 103 }, 'another interface is another attachment');
});

t.test('GC releases every reservation no valid attachment holds', { skip }, async (t) => {
  const dataDir = tempDir(t);
  const conf = netConf({ ipam: dualStack(dataDir) });
  for (const [containerId, ifName] of [['keep', 'eth0'], ['keep', 'eth1'], ['drop', 'eth0']] as const) {
    await runHostLocal(ourHostLocal, 'ADD', conf, { containerId, ifName });
  }
  const dir = path.join(dataDir, 'kp-net');
  fs.writeFileSync(path.join(dir, '10.1.0.100'), 'legacy');
  fs.writeFileSync(path.join(dir, '10.1.0.101'), 'gone');
  fs.writeFileSync(path.join(dir, '10.1.0.102'), '');
  const valid = [{ containerID: 'keep', ifname: 'eth0' }, { containerID: 'legacy', ifname: 'eth0' }];
  t.equal((await runHostLocal(ourHostLocal, 'GC', { ...conf, 'cni.dev/valid-attachments': valid })).error, undefined);
  t.same([...reservationFiles(dataDir)], [['10.1.0.100', 'legacy'], ['10.1.0.2', 'keep\r\neth0'], ['2001:db8::2', 'keep\r\neth0']]);
  t.equal((await runHostLocal(ourHostLocal, 'GC', conf)).error, undefined, 'no list means nothing is valid');
  t.same([...reservationFiles(dataDir)], []);
});

t.test('an empty reservation file left by a crashed upstream ADD is taken back', { skip }, async (t) => {
  const dataDir = tempDir(t);
  fs.mkdirSync(path.join(dataDir, 'kp-net'));
  fs.writeFileSync(path.join(dataDir, 'kp-net', '10.1.0.2'), '');
  const added = await runHostLocal(ourHostLocal, 'ADD', netConf({ ipam: { dataDir, subnet: '10.1.0.0/24' } }), { containerId: 'a' });
  t.same(addressesOf(added.result), ['10.1.0.2/24']);
});
