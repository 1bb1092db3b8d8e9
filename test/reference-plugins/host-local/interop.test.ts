import fs from 'node:fs';
import path from 'node:path';
import t from 'tap';
import type { JsonObject } from '../../../specs/cni/index.js';
import { tempDir } from '../../helpers/temp-dir.js';
import {
  addressesOf,
  missingBuild,
  missingUpstream,
  netConf,
  ourHostLocal,
  reservationFiles,
  runHostLocal,
  upstreamHostLocal,
  upstreamVersions,
} from './host-local-fixture.js';

// Debian's host-local is a real peer: both plugins share one dataDir, as on a node that switches plugins.
const skip = missingBuild || missingUpstream;
const plugins = { ours: ourHostLocal, upstream: upstreamHostLocal } as const;
const dualStack = (dataDir: string): JsonObject => ({ dataDir, ranges: [[{ subnet: '10.1.0.0/24' }], [{ subnet: '2001:db8::/64' }]] });

for (const [reserver, releaser] of [['ours', 'upstream'], ['upstream', 'ours']] as const) {
  t.test(`${releaser} DEL releases what ${reserver} ADD reserved, in every version both speak`, { skip }, async (t) => {
    const dataDir = tempDir(t);
    for (const version of upstreamVersions) {
      const conf = netConf({ cniVersion: version, ipam: dualStack(dataDir) });
      const who = { containerId: `c-${version}` };
      const added = await runHostLocal(plugins[reserver], 'ADD', conf, who);
      t.equal(added.error, undefined, `${version} ADD`);
      t.equal(reservationFiles(dataDir).size, 2, `${version}: two reservations`);
      t.equal((await runHostLocal(plugins[releaser], 'DEL', conf, who)).error, undefined, `${version} DEL`);
      t.same([...reservationFiles(dataDir)], [], `${version}: all released`);
    }
  });
}

t.test('both plugins write the same files for the same requests', { skip }, async (t) => {
  const written: Record<string, Map<string, string>> = {};
  const lastReserved: Record<string, string[]> = {};
  // Non-canonical spellings check that file names are Go's canonical form.
  const requests = ['10.1.0.17', '2001:DB8:0:0:0:0:0:a', '2001:db8::1:0:0:5', '2001:db8:0:1:0:0:0:5', '::ffff:10.1.0.200'];
  for (const [name, binary] of Object.entries(plugins)) {
    const dataDir = tempDir(t);
    const conf = netConf({ cniVersion: '1.0.0', ipam: { dataDir, ranges: [[{ subnet: '10.1.0.0/24' }], [{ subnet: '2001:db8::/32' }], [{ subnet: '10.2.0.0/24' }]] } });
    for (const [index, ip] of requests.entries()) {
      const family = ip.includes('.') ? 'v4' : 'v6';
      const added = await runHostLocal(binary, 'ADD', conf, { containerId: `c${index}`, ifName: `net${index}`, args: [['IP', ip]] });
      t.equal(added.error, undefined, `${name} ADD IP=${ip} (${family})`);
    }
    written[name] = reservationFiles(dataDir);
    lastReserved[name] = [0, 1, 2].map((index) => fs.readFileSync(path.join(dataDir, 'kp-net', `last_reserved_ip.${index}`), 'utf8'));
  }
  t.same([...written['ours']!].sort(), [...written['upstream']!].sort());
  t.same(lastReserved['ours'], lastReserved['upstream']);
});

t.test('each plugin continues the other’s round robin from last_reserved_ip', { skip }, async (t) => {
  const dataDir = tempDir(t);
  const conf = netConf({ cniVersion: '1.0.0', ipam: { dataDir, subnet: '10.1.0.0/24' } });
  const sequence: string[] = [];
  for (let index = 0; index < 6; index += 1) {
    const binary = index % 2 === 0 ? ourHostLocal : upstreamHostLocal;
    sequence.push(...addressesOf((await runHostLocal(binary, 'ADD', conf, { containerId: `c${index}` })).result));
    if (index === 2) await runHostLocal(upstreamHostLocal, 'DEL', conf, { containerId: 'c0' });
  }
  t.same(sequence, ['10.1.0.2/24', '10.1.0.3/24', '10.1.0.4/24', '10.1.0.5/24', '10.1.0.6/24', '10.1.0.7/24'], 'a released address is not reused at once');
});

t.test('CHECK of each plugin finds the other’s reservation', { skip }, async (t) => {
  const dataDir = tempDir(t);
  const conf = netConf({ cniVersion: '1.0.0', ipam: dualStack(dataDir) });
  const ours = await runHostLocal(ourHostLocal, 'ADD', conf, { containerId: 'by-ours' });
  const upstream = await runHostLocal(upstreamHostLocal, 'ADD', conf, { containerId: 'by-upstream' });
  t.equal((await runHostLocal(upstreamHostLocal, 'CHECK', { ...conf, prevResult: ours.result as JsonObject }, { containerId: 'by-ours' })).error, undefined);
  t.equal((await runHostLocal(ourHostLocal, 'CHECK', { ...conf, prevResult: upstream.result as JsonObject }, { containerId: 'by-upstream' })).error, undefined);
});

t.test('our GC releases upstream’s stale reservations and keeps its valid ones', { skip }, async (t) => {
  const dataDir = tempDir(t);
  const conf = netConf({ cniVersion: '1.0.0', ipam: dualStack(dataDir) });
  await runHostLocal(upstreamHostLocal, 'ADD', conf, { containerId: 'live' });
  await runHostLocal(upstreamHostLocal, 'ADD', conf, { containerId: 'dead' });
  const gc = await runHostLocal(ourHostLocal, 'GC', { ...conf, cniVersion: '1.1.0', 'cni.dev/valid-attachments': [{ containerID: 'live', ifname: 'eth0' }] });
  t.equal(gc.error, undefined);
  t.same([...reservationFiles(dataDir).values()], ['live\r\neth0', 'live\r\neth0']);
});

t.test('both plugins adding at once never hand out one address twice', { skip }, async (t) => {
  const dataDir = tempDir(t);
  const conf = netConf({ cniVersion: '1.0.0', ipam: dualStack(dataDir) });
  const who = Array.from({ length: 40 }, (_, index) => ({ containerId: `c${index}`, binary: index % 2 === 0 ? ourHostLocal : upstreamHostLocal }));
  const added = await Promise.all(who.map(({ binary, containerId }) => runHostLocal(binary, 'ADD', conf, { containerId })));
  t.same(added.filter((answer) => answer.error !== undefined).map((answer) => answer.error?.message), [], 'every ADD succeeds');
  const addresses = added.flatMap((answer) => addressesOf(answer.result));
  t.equal(new Set(addresses).size, 80, '80 distinct addresses');
  const files = reservationFiles(dataDir);
  t.equal(files.size, 80, 'one file per address');
  for (const [index, answer] of added.entries()) {
    for (const address of addressesOf(answer.result)) t.equal(files.get(address.split('/')[0]!), `c${index}\r\neth0`);
  }
  // Released by the other plugin than the one that reserved.
  const deleted = await Promise.all(who.map(({ binary, containerId }) => runHostLocal(binary === ourHostLocal ? upstreamHostLocal : ourHostLocal, 'DEL', conf, { containerId })));
  t.same(deleted.filter((answer) => answer.error !== undefined).map((answer) => answer.error?.message), [], 'every DEL succeeds');
  t.same([...reservationFiles(dataDir)], []);
});
