import fs from 'node:fs';
import path from 'node:path';
import t from 'tap';
import { codeOf, errorOf, filesUnder, mountCapability, rpcs, skipUnlessRoot, startTestDriver, type TestDriver } from './dir-volume-fixture.js';

const skip = skipUnlessRoot;
const MiB = 1n << 20n;
const capability = mountCapability();

/** Stages a volume at a fresh staging directory, runs `action` on it, unstages. */
async function withStaged<T>(driver: TestDriver, volumeId: string, action: (dir: string) => T | Promise<T>): Promise<T> {
  const csi = rpcs(driver);
  const staging = fs.mkdtempSync(path.join(driver.nodeDir, 'staging-'));
  await csi.stage({ volumeId, stagingTargetPath: staging, volumeCapability: capability });
  try {
    return await action(staging);
  } finally {
    await csi.unstage(volumeId, staging);
  }
}

t.test('a snapshot keeps the data at the time it was cut, outlives its volume, and restores into a new volume', { skip }, async (t) => {
  const driver = await startTestDriver(t);
  const csi = rpcs(driver);
  const { volume } = await csi.createVolume({ name: 'source', volumeCapabilities: [capability], capacityRange: { requiredBytes: 16n * MiB, limitBytes: 0n } });
  const sourceId = volume!.volumeId;
  // The snapshot is cut while the volume is staged: the driver freezes the filesystem for the copy.
  const snapshot = await withStaged(driver, sourceId, async (dir) => {
    fs.writeFileSync(path.join(dir, 'data.txt'), 'before');
    const { snapshot } = await csi.createSnapshot({ name: 'snap-1', sourceVolumeId: sourceId });
    fs.writeFileSync(path.join(dir, 'data.txt'), 'after');
    return snapshot!;
  });
  t.match(snapshot, { sourceVolumeId: sourceId, readyToUse: true, sizeBytes: 16n * MiB }, 'the snapshot is ready and sized like its source');
  t.ok(snapshot.creationTime instanceof Date, 'it has a creation time');
  t.same((await csi.createSnapshot({ name: 'snap-1', sourceVolumeId: sourceId })).snapshot, snapshot, 'CreateSnapshot is idempotent by name');
  const other = await csi.createVolume({ name: 'other', volumeCapabilities: [capability], capacityRange: { requiredBytes: MiB, limitBytes: 0n } });
  t.equal(await codeOf(csi.createSnapshot({ name: 'snap-1', sourceVolumeId: other.volume!.volumeId })), 'ALREADY_EXISTS', 'the same name for another volume');
  t.equal(await codeOf(csi.createSnapshot({ name: 'snap-x', sourceVolumeId: 'v-00000000000000000000000000000000' })), 'NOT_FOUND', 'a snapshot of a missing volume');

  await csi.deleteVolume(sourceId);
  t.equal((await csi.listSnapshots({ sourceVolumeId: sourceId })).entries.length, 1, 'the snapshot is still listed after its volume is deleted');

  const restoreSource = { type: { $case: 'snapshot' as const, value: { snapshotId: snapshot.snapshotId } } };
  t.equal(
    await codeOf(csi.createVolume({ name: 'too-small', volumeCapabilities: [capability], capacityRange: { requiredBytes: 0n, limitBytes: 8n * MiB }, volumeContentSource: restoreSource })),
    'OUT_OF_RANGE',
    'a volume smaller than its snapshot',
  );
  const missing = await errorOf(csi.createVolume({ name: 'from-missing', volumeCapabilities: [capability], volumeContentSource: { type: { $case: 'snapshot', value: { snapshotId: 's-00000000000000000000000000000000' } } } }));
  t.equal(missing.code, 'NOT_FOUND', 'a missing source snapshot');
  const { volume: restored } = await csi.createVolume({ name: 'restored', volumeCapabilities: [capability], capacityRange: { requiredBytes: 32n * MiB, limitBytes: 0n }, volumeContentSource: restoreSource });
  t.same(restored!.contentSource, restoreSource, 'the new volume names its source');
  await withStaged(driver, restored!.volumeId, (dir) => {
    t.equal(fs.readFileSync(path.join(dir, 'data.txt'), 'utf8'), 'before', 'the restored volume holds the data from when the snapshot was cut');
    t.ok(fs.statfsSync(dir).blocks * fs.statfsSync(dir).bsize > 24 * 2 ** 20, 'its filesystem was grown to the larger size asked for');
  });

  const { volume: clone } = await csi.createVolume({ name: 'clone', volumeCapabilities: [capability], volumeContentSource: { type: { $case: 'volume', value: { volumeId: restored!.volumeId } } } });
  t.equal(clone!.capacityBytes, 32n * MiB, 'a clone without a range is as large as its source');
  await withStaged(driver, clone!.volumeId, (dir) => t.equal(fs.readFileSync(path.join(dir, 'data.txt'), 'utf8'), 'before', 'the clone holds its source\'s data'));

  await csi.deleteSnapshot(snapshot.snapshotId);
  await csi.deleteSnapshot(snapshot.snapshotId);
  t.equal((await csi.listSnapshots()).entries.length, 0, 'DeleteSnapshot twice succeeds and the snapshot is gone');
  for (const id of [other.volume!.volumeId, restored!.volumeId, clone!.volumeId]) await csi.deleteVolume(id);
  t.same(filesUnder(driver.root), [], 'nothing is left');
});

t.test('ListSnapshots filters by snapshot and source volume and pages, ABORTED on a foreign token', { skip }, async (t) => {
  const driver = await startTestDriver(t);
  const csi = rpcs(driver);
  const { volume } = await csi.createVolume({ name: 'v', volumeCapabilities: [capability], capacityRange: { requiredBytes: MiB, limitBytes: 0n } });
  const ids: string[] = [];
  for (let i = 0; i < 3; i += 1) ids.push((await csi.createSnapshot({ name: `s${i}`, sourceVolumeId: volume!.volumeId })).snapshot!.snapshotId);
  t.same((await csi.listSnapshots({ snapshotId: ids[1]! })).entries.map((entry) => entry.snapshot!.snapshotId), [ids[1]], 'by snapshot ID');
  t.equal((await csi.listSnapshots({ snapshotId: 'nope' })).entries.length, 0, 'an unknown snapshot ID lists nothing');
  t.equal((await csi.listSnapshots({ sourceVolumeId: 'v-00000000000000000000000000000000' })).entries.length, 0, 'another volume has none');
  const first = await csi.listSnapshots({ maxEntries: 2 });
  const second = await csi.listSnapshots({ maxEntries: 2, startingToken: first.nextToken });
  t.same([...first.entries, ...second.entries].map((entry) => entry.snapshot!.snapshotId), [...ids].sort(), 'two pages list all three in ID order');
  t.equal(second.nextToken, '', 'the last page has no next token');
  t.equal(await codeOf(csi.listSnapshots({ startingToken: 'v-0' })), 'ABORTED', 'a token the driver did not hand out');
});

t.test('ControllerExpandVolume grows an unstaged volume and its filesystem offline, and refuses a staged one', { skip }, async (t) => {
  const driver = await startTestDriver(t);
  const csi = rpcs(driver);
  const { volume } = await csi.createVolume({ name: 'grow', volumeCapabilities: [capability], capacityRange: { requiredBytes: 8n * MiB, limitBytes: 0n } });
  const volumeId = volume!.volumeId;
  await withStaged(driver, volumeId, async (dir) => {
    fs.writeFileSync(path.join(dir, 'keep.txt'), 'kept');
    t.equal(await codeOf(csi.expandVolume({ volumeId, capacityRange: { requiredBytes: 16n * MiB, limitBytes: 0n } })), 'FAILED_PRECONDITION', 'a staged volume is not expanded (offline only)');
  });
  const expanded = await csi.expandVolume({ volumeId, capacityRange: { requiredBytes: 20n * MiB, limitBytes: 0n } });
  t.same(expanded, { capacityBytes: 20n * MiB, nodeExpansionRequired: false }, 'the new size; no node step needed');
  t.same(await csi.expandVolume({ volumeId, capacityRange: { requiredBytes: 10n * MiB, limitBytes: 0n } }), { capacityBytes: 20n * MiB, nodeExpansionRequired: false }, 'a smaller request is OK and changes nothing');
  t.equal((await csi.getVolume(volumeId)).volume?.capacityBytes, 20n * MiB, 'ControllerGetVolume reports the new size');
  await withStaged(driver, volumeId, (dir) => {
    const stats = fs.statfsSync(dir);
    t.ok(stats.blocks * stats.bsize > 16 * 2 ** 20, 'the filesystem fills the grown image');
    t.equal(fs.readFileSync(path.join(dir, 'keep.txt'), 'utf8'), 'kept', 'the data survived');
  });
  t.equal(await codeOf(csi.expandVolume({ volumeId: 'v-00000000000000000000000000000000', capacityRange: { requiredBytes: MiB, limitBytes: 0n } })), 'NOT_FOUND', 'a missing volume');
  t.equal(await codeOf(csi.expandVolume({ volumeId })), 'INVALID_ARGUMENT', 'no capacity_range');
});
