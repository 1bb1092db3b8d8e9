import fs from 'node:fs';
import path from 'node:path';
import t from 'tap';
import { VolumeCapability_AccessMode_Mode as Mode, VolumeUsage_Unit } from '../../../specs/csi/index.js';
import { blockCapability, codeOf, filesUnder, loopsUnder, mountCapability, mountsUnder, rpcs, skipUnlessRoot, startTestDriver } from './dir-volume-fixture.js';

const skip = skipUnlessRoot;

t.test('a mount volume goes through create, stage, publish, unpublish, unstage and delete, with the mount table to match', { skip }, async (t) => {
  const driver = await startTestDriver(t);
  const csi = rpcs(driver);
  const staging = path.join(driver.nodeDir, 'staging');
  const target = path.join(driver.nodeDir, 'target');
  const readOnlyTarget = path.join(driver.nodeDir, 'read-only');
  fs.mkdirSync(staging);
  const capability = mountCapability(Mode.SINGLE_NODE_MULTI_WRITER);

  const started = performance.now();
  const { volume } = await csi.createVolume({ name: 'pvc-1', volumeCapabilities: [capability] });
  const volumeId = volume!.volumeId;
  await csi.stage({ volumeId, stagingTargetPath: staging, volumeCapability: capability });
  await csi.publish({ volumeId, stagingTargetPath: staging, targetPath: target, volumeCapability: capability });
  const published = performance.now();
  t.same(mountsUnder(driver.nodeDir), [staging, target], 'staged and published mounts are in the mount table');
  t.equal(loopsUnder(driver.root).length, 1, 'one loop device backs the volume');

  fs.writeFileSync(path.join(target, 'hello.txt'), 'hello');
  t.equal(fs.readFileSync(path.join(staging, 'hello.txt'), 'utf8'), 'hello', 'a file written through the target is in the volume');

  await csi.publish({ volumeId, stagingTargetPath: staging, targetPath: readOnlyTarget, volumeCapability: capability, readonly: true });
  t.equal(fs.readFileSync(path.join(readOnlyTarget, 'hello.txt'), 'utf8'), 'hello', 'the read-only publication shows the same files');
  t.throws(() => fs.writeFileSync(path.join(readOnlyTarget, 'nope.txt'), 'x'), { code: 'EROFS' }, 'the read-only publication refuses writes');

  const stats = await csi.stats({ volumeId, volumePath: target, stagingTargetPath: staging });
  const bytes = stats.usage.find((usage) => usage.unit === VolumeUsage_Unit.BYTES);
  t.ok(bytes !== undefined && bytes.total > 0n && bytes.total <= volume!.capacityBytes, 'stats report the filesystem size in bytes');
  t.ok(stats.usage.some((usage) => usage.unit === VolumeUsage_Unit.INODES && usage.used > 0n), 'stats report inodes');
  t.equal(stats.volumeCondition?.abnormal, false, 'the volume is healthy');

  const unpublishStarted = performance.now();
  await csi.unpublish(volumeId, readOnlyTarget);
  await csi.unpublish(volumeId, target);
  t.notOk(fs.existsSync(target), 'the target the driver created is removed');
  await csi.unstage(volumeId, staging);
  await csi.deleteVolume(volumeId);
  const finished = performance.now();
  t.comment(`lifecycle: create+stage+publish ${Math.round(published - started)} ms, unpublish×2+unstage+delete ${Math.round(finished - unpublishStarted)} ms`);

  t.same(mountsUnder(driver.nodeDir), [], 'nothing is mounted any more');
  t.same(loopsUnder(driver.root), [], 'no loop device is left');
  t.same(filesUnder(driver.root), [], 'no image, record or temp file is left');
  t.ok(fs.existsSync(staging), 'the staging directory, which the CO made, stays');
});

t.test('one create→stage→publish→unpublish→unstage→delete lifecycle takes little time in process', { skip }, async (t) => {
  const driver = await startTestDriver(t);
  const csi = rpcs(driver);
  const staging = path.join(driver.nodeDir, 'staging');
  fs.mkdirSync(staging);
  const capability = mountCapability();
  const durations: number[] = [];
  for (let round = 0; round < 3; round += 1) {
    const started = performance.now();
    const { volume } = await csi.createVolume({ name: `timed-${round}`, volumeCapabilities: [capability] });
    const volumeId = volume!.volumeId;
    const target = path.join(driver.nodeDir, `target-${round}`);
    await csi.stage({ volumeId, stagingTargetPath: staging, volumeCapability: capability });
    await csi.publish({ volumeId, stagingTargetPath: staging, targetPath: target, volumeCapability: capability });
    await csi.unpublish(volumeId, target);
    await csi.unstage(volumeId, staging);
    await csi.deleteVolume(volumeId);
    durations.push(performance.now() - started);
  }
  t.comment(`lifecycle latency, 3 rounds: ${durations.map((ms) => `${Math.round(ms)} ms`).join(', ')}`);
  t.ok(Math.min(...durations) < 2000, 'a lifecycle finishes well within two seconds');
  t.same(filesUnder(driver.root), [], 'nothing is left');
});

t.test('a block volume is attached at stage and its device bound onto a file at publish; a read-only publication cannot write', { skip }, async (t) => {
  const driver = await startTestDriver(t);
  const csi = rpcs(driver);
  const staging = path.join(driver.nodeDir, 'staging');
  const target = path.join(driver.nodeDir, 'device');
  const readOnlyTarget = path.join(driver.nodeDir, 'device-ro');
  fs.mkdirSync(staging);
  const capability = blockCapability(Mode.SINGLE_NODE_MULTI_WRITER);
  const { volume } = await csi.createVolume({ name: 'raw', volumeCapabilities: [capability], capacityRange: { requiredBytes: 4n << 20n, limitBytes: 0n } });
  const volumeId = volume!.volumeId;
  await csi.stage({ volumeId, stagingTargetPath: staging, volumeCapability: capability });
  t.equal(loopsUnder(driver.root).length, 1, 'staging attached a loop device');
  await csi.publish({ volumeId, stagingTargetPath: staging, targetPath: target, volumeCapability: capability });
  t.ok(fs.statSync(target).isBlockDevice(), 'the target is the block device');

  const fd = fs.openSync(target, 'r+');
  fs.writeSync(fd, Buffer.from('raw bytes'), 0, 9, 4096);
  fs.fsyncSync(fd);
  fs.closeSync(fd);
  const image = fs.readFileSync(path.join(driver.root, 'volumes', `${volumeId}.img`));
  t.equal(image.subarray(4096, 4105).toString(), 'raw bytes', 'bytes written to the device land in the image');

  await csi.publish({ volumeId, stagingTargetPath: staging, targetPath: readOnlyTarget, volumeCapability: capability, readonly: true });
  t.equal(loopsUnder(driver.root).length, 2, 'the read-only publication has its own loop device');
  const readOnlyFd = fs.openSync(readOnlyTarget, 'r+');
  try {
    t.throws(() => fs.writeSync(readOnlyFd, Buffer.from('x'), 0, 1, 0), 'the read-only device refuses writes');
  } finally {
    fs.closeSync(readOnlyFd);
  }
  const stats = await csi.stats({ volumeId, volumePath: target });
  t.equal(stats.usage[0]?.total, 4n << 20n, 'stats report the device size');

  await csi.unpublish(volumeId, readOnlyTarget);
  await csi.unpublish(volumeId, target);
  t.notOk(fs.existsSync(target), 'the device file the driver created is removed');
  t.equal(await codeOf(csi.deleteVolume(volumeId)), 'FAILED_PRECONDITION', 'a staged volume cannot be deleted');
  await csi.unstage(volumeId, staging);
  await csi.deleteVolume(volumeId);
  t.same(mountsUnder(driver.nodeDir), [], 'nothing is mounted');
  t.same(loopsUnder(driver.root), [], 'no loop device is left');
  t.same(filesUnder(driver.root), [], 'nothing is left on disk');
});
