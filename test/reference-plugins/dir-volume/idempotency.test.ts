import fs from 'node:fs';
import path from 'node:path';
import t from 'tap';
import { VolumeCapability_AccessMode_Mode as Mode } from '../../../specs/csi/index.js';
import { nodeTopologyKey } from '../../../reference-plugins/dir-volume/index.js';
import { blockCapability, codeOf, errorOf, filesUnder, mountCapability, mountsUnder, rpcs, skipUnlessRoot, startTestDriver } from './dir-volume-fixture.js';

const skip = skipUnlessRoot;
const MiB = 1n << 20n;

t.test('CreateVolume is idempotent by name and refuses the same name with incompatible arguments', { skip }, async (t) => {
  const driver = await startTestDriver(t);
  const csi = rpcs(driver);
  const request = { name: 'pvc-a', volumeCapabilities: [mountCapability()], capacityRange: { requiredBytes: 10n * MiB, limitBytes: 0n } };
  const first = await csi.createVolume(request);
  const again = await csi.createVolume(request);
  t.same(again.volume, first.volume, 'the same request gives the same volume');
  t.match(first.volume!.volumeId, /^v-[0-9a-f]{32}$/, 'the ID is the driver\'s own');
  t.same(first.volume!.accessibleTopology, [{ segments: { [nodeTopologyKey]: 'node-1' } }], 'the volume is accessible from this node only');
  t.equal((await csi.listVolumes()).entries.length, 1, 'one volume exists');
  const cases: [string, object][] = [
    ['a range the volume does not satisfy', { capacityRange: { requiredBytes: 20n * MiB, limitBytes: 0n } }],
    ['an access type it was not created for', { volumeCapabilities: [blockCapability()] }],
    ['other parameters', { parameters: { 'csi.storage.k8s.io/pvc/name': 'other' } }],
  ];
  for (const [title, change] of cases) {
    const error = await errorOf(csi.createVolume({ ...request, ...change }));
    t.equal(error.code, 'ALREADY_EXISTS', title);
    t.match(error.message, first.volume!.volumeId, `${title}: the message names the volume`);
  }
  await csi.deleteVolume(first.volume!.volumeId);
  await csi.deleteVolume(first.volume!.volumeId);
  t.pass('DeleteVolume twice succeeds');
  t.same(filesUnder(driver.root), [], 'nothing is left');
});

t.test('stage, publish, unpublish and unstage are idempotent, and conflicting repeats get the spec\'s codes', { skip }, async (t) => {
  const driver = await startTestDriver(t);
  const csi = rpcs(driver);
  const staging = path.join(driver.nodeDir, 'staging');
  const target = path.join(driver.nodeDir, 'target');
  fs.mkdirSync(staging);
  const capability = mountCapability();
  const { volume } = await csi.createVolume({ name: 'pvc-b', volumeCapabilities: [capability] });
  const volumeId = volume!.volumeId;
  await csi.stage({ volumeId, stagingTargetPath: staging, volumeCapability: capability });
  await csi.stage({ volumeId, stagingTargetPath: staging, volumeCapability: capability });
  t.same(mountsUnder(driver.nodeDir), [staging], 'staging twice mounts once');
  t.equal(await codeOf(csi.stage({ volumeId, stagingTargetPath: staging, volumeCapability: mountCapability(Mode.SINGLE_NODE_READER_ONLY) })), 'ALREADY_EXISTS', 'staging again with another capability');
  const publish = { volumeId, stagingTargetPath: staging, targetPath: target, volumeCapability: capability };
  await csi.publish(publish);
  await csi.publish(publish);
  t.same(mountsUnder(driver.nodeDir), [staging, target], 'publishing twice mounts once');
  t.equal(await codeOf(csi.publish({ ...publish, readonly: true })), 'ALREADY_EXISTS', 'same target, other readonly flag');
  t.equal(await codeOf(csi.publish({ ...publish, targetPath: `${target}-2` })), 'FAILED_PRECONDITION', 'a second target for SINGLE_NODE_WRITER');
  t.notOk(fs.existsSync(`${target}-2`), 'the refused target was not created');
  t.equal(await codeOf(csi.unstage(volumeId, staging)), 'FAILED_PRECONDITION', 'unstaging while published');
  await csi.unpublish(volumeId, target);
  await csi.unpublish(volumeId, target);
  await csi.unstage(volumeId, staging);
  await csi.unstage(volumeId, staging);
  t.same(mountsUnder(driver.nodeDir), [], 'nothing is mounted');
  t.equal(await codeOf(csi.publish(publish)), 'FAILED_PRECONDITION', 'publishing an unstaged volume');
  await csi.deleteVolume(volumeId);
  t.equal(await codeOf(csi.unpublish(volumeId, target)), 'NOT_FOUND', 'unpublishing a deleted volume');
});

t.test('a second operation on a volume in flight is ABORTED, naming the volume; other volumes proceed', { skip }, async (t) => {
  const driver = await startTestDriver(t);
  const csi = rpcs(driver);
  const request = { name: 'contended', volumeCapabilities: [mountCapability()], capacityRange: { requiredBytes: 512n * MiB, limitBytes: 0n } };
  const outcomes = await Promise.all([
    ...Array.from({ length: 4 }, () => csi.createVolume(request).then((response) => response.volume!.volumeId, (error: unknown) => error)),
    csi.createVolume({ ...request, name: 'other' }).then(() => 'other OK'),
  ]);
  const ids = outcomes.filter((outcome): outcome is string => typeof outcome === 'string' && outcome.startsWith('v-'));
  const aborted = outcomes.filter((outcome) => outcome instanceof Error);
  t.ok(ids.length >= 1 && new Set(ids).size === 1, 'every create that ran returned the same volume');
  t.ok(aborted.length >= 1, 'the overlapping creates were refused');
  for (const error of aborted) t.match(error, { code: 'ABORTED', message: new RegExp(ids[0]!) }, 'ABORTED names the volume');
  t.equal(outcomes[4], 'other OK', 'a create of another name was not held up');
  t.equal((await csi.listVolumes()).entries.length, 2, 'two volumes exist, not more');
});

t.test('hostile names, IDs and paths never reach the filesystem', { skip }, async (t) => {
  const driver = await startTestDriver(t);
  const csi = rpcs(driver);
  const staging = path.join(driver.nodeDir, 'staging');
  fs.mkdirSync(staging);
  const capability = mountCapability();
  for (const name of ['../../etc/passwd', 'a/b', '..', 'name with spaces and ünïcode']) {
    const { volume } = await csi.createVolume({ name, volumeCapabilities: [capability], capacityRange: { requiredBytes: MiB, limitBytes: 0n } });
    t.match(volume!.volumeId, /^v-[0-9a-f]{32}$/, `${JSON.stringify(name)} maps to a plain ID`);
  }
  t.equal(filesUnder(driver.root).every((file) => /^volumes\/v-[0-9a-f]{32}\.(img|json)$/.test(file)), true, 'only the driver\'s own file names exist');
  t.equal(await codeOf(csi.createVolume({ name: 'nul\u0000name', volumeCapabilities: [capability] })), 'INVALID_ARGUMENT', 'a name with NUL');
  t.equal(await codeOf(csi.createVolume({ name: 'x'.repeat(129), volumeCapabilities: [capability] })), 'INVALID_ARGUMENT', 'a name over 128 bytes');
  const { volume } = await csi.createVolume({ name: 'fine', volumeCapabilities: [capability] });
  const volumeId = volume!.volumeId;

  const badIds = ['../volumes/x', `${volumeId}/../../x`, 'v-00000000000000000000000000000000', ''];
  for (const id of badIds) {
    const wanted = id === '' ? 'INVALID_ARGUMENT' : 'NOT_FOUND';
    t.equal(await codeOf(csi.stage({ volumeId: id, stagingTargetPath: staging, volumeCapability: capability })), wanted, `stage with volume_id ${JSON.stringify(id)}`);
    t.equal(await codeOf(csi.getVolume(id)), wanted, `ControllerGetVolume with ${JSON.stringify(id)}`);
  }
  t.equal(await codeOf(csi.deleteVolume('../../etc')), 'OK', 'deleting an ID the driver never made is OK and touches nothing');
  t.equal(await codeOf(csi.listVolumes({ startingToken: 'garbage' })), 'ABORTED', 'an invalid starting_token is ABORTED');

  const badPaths: [string, string][] = [
    ['relative', 'staging'],
    ['with ..', `${driver.nodeDir}/../node/staging`],
    ['inside the driver root', path.join(driver.root, 'volumes')],
    ['the root\'s parent', driver.dir],
  ];
  for (const [title, stagingTargetPath] of badPaths) {
    t.equal(await codeOf(csi.stage({ volumeId, stagingTargetPath, volumeCapability: capability })), 'INVALID_ARGUMENT', `staging path ${title}`);
  }
  t.equal(await codeOf(csi.stage({ volumeId, stagingTargetPath: staging, volumeCapability: mountCapability(Mode.SINGLE_NODE_WRITER, ['loop=/etc/passwd']) })), 'INVALID_ARGUMENT', 'a mount flag naming a file');
  t.equal(await codeOf(csi.stage({ volumeId, stagingTargetPath: staging, volumeCapability: mountCapability(Mode.MULTI_NODE_MULTI_WRITER) })), 'FAILED_PRECONDITION', 'a multi-node mode at stage');
  t.equal(await codeOf(csi.createVolume({ name: 'multi', volumeCapabilities: [mountCapability(Mode.MULTI_NODE_READER_ONLY)] })), 'INVALID_ARGUMENT', 'a multi-node mode at create');
  t.equal(await codeOf(csi.createVolume({ name: 'p', volumeCapabilities: [capability], parameters: { replicas: '3' } })), 'INVALID_ARGUMENT', 'an unknown parameter');
  t.equal(
    await codeOf(csi.createVolume({ name: 't', volumeCapabilities: [capability], accessibilityRequirements: { requisite: [{ segments: { [nodeTopologyKey]: 'node-2' } }], preferred: [] } })),
    'RESOURCE_EXHAUSTED',
    'a requisite topology without this node',
  );
  const validation = await csi.validate({ volumeId, volumeCapabilities: [mountCapability(Mode.MULTI_NODE_MULTI_WRITER)] });
  t.equal(validation.confirmed, undefined, 'ValidateVolumeCapabilities does not confirm a multi-node mode');
  t.ok((await csi.validate({ volumeId, volumeCapabilities: [capability] })).confirmed, 'and confirms a single-node one');
  t.same(mountsUnder(driver.nodeDir), [], 'nothing was mounted');
});

t.test('ListVolumes pages in a stable order', { skip }, async (t) => {
  const driver = await startTestDriver(t);
  const csi = rpcs(driver);
  for (let i = 0; i < 5; i += 1) await csi.createVolume({ name: `page-${i}`, volumeCapabilities: [blockCapability()], capacityRange: { requiredBytes: MiB, limitBytes: 0n } });
  const seen: string[] = [];
  let token = '';
  do {
    const page = await csi.listVolumes({ maxEntries: 2, startingToken: token });
    t.ok(page.entries.length <= 2, 'no page holds more than max_entries');
    t.ok(page.entries.every((entry) => entry.status?.volumeCondition?.abnormal === false), 'every entry carries a normal volume condition');
    seen.push(...page.entries.map((entry) => entry.volume!.volumeId));
    token = page.nextToken;
  } while (token !== '');
  t.equal(seen.length, 5, 'all five volumes were listed');
  t.same([...seen].sort(), seen, 'in ID order');
  t.equal(await codeOf(csi.listVolumes({ maxEntries: -1 })), 'INVALID_ARGUMENT', 'a negative max_entries');
});
