import t from 'tap';
import type { JsonObject } from '../../../specs/cni/index.js';
import { tempDir } from '../../helpers/temp-dir.js';
import { addressesOf, missingBuild, netConf, ourHostLocal, reservationFiles, runHostLocal } from './host-local-fixture.js';

const skip = missingBuild;

// This file starts hundreds of Node processes, which on a loaded two-CPU machine can outlast the 120 s a file
// gets: extend this process's own timeout and, through tap's `# timeout=` comment, the runner's.
t.setTimeout(300_000);
t.comment('timeout=300000');
const dualStack = (dataDir: string): JsonObject => ({ dataDir, ranges: [[{ subnet: '10.1.0.0/24' }], [{ subnet: '2001:db8::/64' }]] });

t.test('100 concurrent ADDs get 100 distinct addresses per family and DEL frees them all', { skip, timeout: 290_000 }, async (t) => {
  const dataDir = tempDir(t);
  const conf = netConf({ ipam: dualStack(dataDir) });
  const containers = Array.from({ length: 100 }, (_, index) => `ctr${index}`);
  const added = await Promise.all(containers.map((containerId) => runHostLocal(ourHostLocal, 'ADD', conf, { containerId })));
  t.same(added.filter((answer) => answer.error !== undefined).map((answer) => answer.error?.message), [], 'every ADD succeeds');
  const addresses = added.flatMap((answer) => addressesOf(answer.result));
  t.equal(new Set(addresses.filter((address) => address.includes('.'))).size, 100, '100 distinct IPv4 addresses');
  t.equal(new Set(addresses.filter((address) => address.includes(':'))).size, 100, '100 distinct IPv6 addresses');
  const files = reservationFiles(dataDir);
  t.equal(files.size, 200);
  added.forEach((answer, index) => {
    for (const address of addressesOf(answer.result)) t.equal(files.get(address.split('/')[0]!), `ctr${index}\r\neth0`, `${address} is ctr${index}'s`);
  });
  const deleted = await Promise.all(containers.map((containerId) => runHostLocal(ourHostLocal, 'DEL', conf, { containerId })));
  t.same(deleted.filter((answer) => answer.error !== undefined).map((answer) => answer.error?.message), [], 'every DEL succeeds');
  t.same([...reservationFiles(dataDir)], []);
});
