import fs from 'node:fs';
import path from 'node:path';
import t from 'tap';
import { codeOf, errorOf, filesUnder, mountCapability, rpcs, skipUnlessRoot, startTestDriver } from './dir-volume-fixture.js';

const skip = skipUnlessRoot;
const MiB = 1n << 20n;

t.test('writing past a volume\'s size fails with ENOSPC', { skip }, async (t) => {
  const driver = await startTestDriver(t);
  const csi = rpcs(driver);
  const staging = path.join(driver.nodeDir, 'staging');
  fs.mkdirSync(staging);
  const capability = mountCapability();
  const { volume } = await csi.createVolume({ name: 'small', volumeCapabilities: [capability], capacityRange: { requiredBytes: 8n * MiB, limitBytes: 8n * MiB } });
  t.equal(volume!.capacityBytes, 8n * MiB, 'the volume has exactly the size asked for');
  await csi.stage({ volumeId: volume!.volumeId, stagingTargetPath: staging, volumeCapability: capability });
  t.teardown(() => csi.unstage(volume!.volumeId, staging).catch(() => undefined));
  const chunk = Buffer.alloc(1 << 20, 7);
  const fd = fs.openSync(path.join(staging, 'fill'), 'w');
  let written = 0;
  try {
    t.throws(
      () => {
        for (let i = 0; i < 16; i += 1) {
          fs.writeSync(fd, chunk);
          written += chunk.length;
        }
        fs.fsyncSync(fd);
      },
      { code: 'ENOSPC' },
      'the filesystem is full before 16 MiB',
    );
  } finally {
    fs.closeSync(fd);
  }
  t.ok(written >= 6 << 20, `most of the 8 MiB was usable (${written >> 20} MiB written)`);
  fs.rmSync(path.join(staging, 'fill'));
});

t.test('--capacity bounds what may be allocated: GetCapacity reports what is left and a create beyond it creates nothing', { skip }, async (t) => {
  const driver = await startTestDriver(t, { capacityBytes: 100 * 2 ** 20 });
  const csi = rpcs(driver);
  t.equal((await csi.getCapacity()).availableCapacity, 100n * MiB, 'all 100 MiB are available at first');
  const { volume } = await csi.createVolume({ name: 'first', volumeCapabilities: [mountCapability()] });
  t.equal(volume!.capacityBytes, 64n * MiB, 'no range gives the default 64 MiB');
  t.equal((await csi.getCapacity()).availableCapacity, 36n * MiB, 'GetCapacity reports what is left');
  const before = filesUnder(driver.root);
  const refused = await errorOf(csi.createVolume({ name: 'second', volumeCapabilities: [mountCapability()], capacityRange: { requiredBytes: 40n * MiB, limitBytes: 0n } }));
  t.equal(refused.code, 'RESOURCE_EXHAUSTED', 'a create beyond the capacity is RESOURCE_EXHAUSTED');
  t.match(refused.message, /41943040 bytes/, 'the message says how much was asked');
  t.same(filesUnder(driver.root), before, 'nothing was created');
  t.equal(await codeOf(csi.createVolume({ name: 'third', volumeCapabilities: [mountCapability()], capacityRange: { requiredBytes: 36n * MiB, limitBytes: 0n } })), 'OK', 'what is left can still be used');
  t.equal(await codeOf(csi.createSnapshot({ name: 'snap', sourceVolumeId: volume!.volumeId })), 'RESOURCE_EXHAUSTED', 'a snapshot needs capacity too');
  t.equal((await csi.getCapacity({ volumeCapabilities: [mountCapability(3)] })).availableCapacity, 0n, 'nothing is available for a multi-node mode');
});

// Each row: required bytes, limit bytes, the size wanted or the code.
const ranges: [title: string, required: bigint, limit: bigint, wanted: bigint | string][] = [
  ['no range: the default size', 0n, 0n, 64n * MiB],
  ['required is rounded up to whole MiB', 5n * MiB + 1n, 0n, 6n * MiB],
  ['limit alone caps the default', 0n, 10n * MiB, 10n * MiB],
  ['an exact size', 3n * MiB, 3n * MiB, 3n * MiB],
  ['no whole MiB between required and limit', 5n * MiB + 1n, 6n * MiB - 1n, 'OUT_OF_RANGE'],
  ['required above limit', 8n * MiB, 4n * MiB, 'OUT_OF_RANGE'],
  ['a limit below one MiB', 0n, 1000n, 'OUT_OF_RANGE'],
  ['negative required', -1n, 0n, 'INVALID_ARGUMENT'],
];

t.test('capacity ranges are honoured, rounded up to whole MiB and never above the limit', { skip }, async (t) => {
  const driver = await startTestDriver(t);
  const csi = rpcs(driver);
  for (const [index, [title, requiredBytes, limitBytes, wanted]] of ranges.entries()) {
    const request = { name: `range-${index}`, volumeCapabilities: [mountCapability()], capacityRange: { requiredBytes, limitBytes } };
    if (typeof wanted === 'string') t.equal(await codeOf(csi.createVolume(request)), wanted, title);
    else t.equal((await csi.createVolume(request)).volume?.capacityBytes, wanted, title);
  }
});

t.test('--max-volumes-per-node is reported by NodeGetInfo and a stage beyond it is RESOURCE_EXHAUSTED', { skip }, async (t) => {
  const driver = await startTestDriver(t, { maxVolumesPerNode: 1 });
  const csi = rpcs(driver);
  t.equal((await csi.nodeInfo()).maxVolumesPerNode, 1n, 'NodeGetInfo reports the maximum');
  const capability = mountCapability();
  const ids: string[] = [];
  for (const name of ['one', 'two']) ids.push((await csi.createVolume({ name, volumeCapabilities: [capability], capacityRange: { requiredBytes: MiB, limitBytes: 0n } })).volume!.volumeId);
  const staging = ids.map((_, index) => path.join(driver.nodeDir, `staging-${index}`));
  staging.forEach((dir) => fs.mkdirSync(dir));
  await csi.stage({ volumeId: ids[0]!, stagingTargetPath: staging[0]!, volumeCapability: capability });
  t.equal(await codeOf(csi.stage({ volumeId: ids[1]!, stagingTargetPath: staging[1]!, volumeCapability: capability })), 'RESOURCE_EXHAUSTED', 'a second stage is refused');
  await csi.unstage(ids[0]!, staging[0]!);
  t.equal(await codeOf(csi.stage({ volumeId: ids[1]!, stagingTargetPath: staging[1]!, volumeCapability: capability })), 'OK', 'after an unstage there is room again');
  await csi.unstage(ids[1]!, staging[1]!);
});
