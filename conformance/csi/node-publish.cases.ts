import { spawn } from 'node:child_process';
import fs from 'node:fs/promises';
import path from 'node:path';
import { VolumeCapability_AccessMode_Mode as Mode, type VolumeCapability } from '../../specs/csi/index.js';
import type { CaseContext, Suite } from '../framework/index.js';
import { callNode } from './csi-calls.js';
import type { CsiSubject } from './csi-subject.js';
import { describeOutcome, expectStatus } from './expect-status.js';
import { mountsAtPath, mountsUnder } from './mount-checks.js';
import { isReadOnly } from './mount-table.js';
import {
  attachToThisNode,
  missingVolume,
  pathKind,
  prepareNodeVolume,
  publishForCase,
  publishRequest,
  stageRequest,
  stagesVolumes,
  tryCreateVolume,
  tryRead,
  tryWrite,
  type NodeVolume,
} from './node-volumes.js';
import {
  blockCapability,
  createTestVolume,
  deferNodeUnpublish,
  deferNodeUnstage,
  makeStagingPath,
  makeTargetPath,
  mountCapability,
} from './test-volumes.js';
import { unsupportedCapabilityOf } from './unsupported-capability.js';

type Ctx = CaseContext<CsiSubject>;

const createsVolumes = 'controller.CREATE_DELETE_VOLUME';

/** Declares the NodePublishVolume cases (specs/csi/SPEC.md, CSI-NODE): every path checked in the node's mount table. */
export function declareNodePublishCases(suite: Suite<CsiSubject>): void {
  suite.declare({
    ids: ['CSI-NODE-024'],
    title: 'NodePublishVolume without a volume ID or a target path is refused with INVALID_ARGUMENT',
    async run(ctx: Ctx) {
      const nodeVolume: NodeVolume = {
        volume: missingVolume(ctx),
        capability: mountCapability(),
        publishContext: {},
        stagingPath: stagesVolumes(ctx) ? await makeStagingPath(ctx) : '',
      };
      const targetPath = await makeTargetPath(ctx);
      deferNodeUnpublish(ctx, nodeVolume.volume.volumeId, targetPath);
      const noId = await callNode(ctx, 'nodePublishVolume', publishRequest(ctx, nodeVolume, targetPath, { volumeId: '' }));
      expectStatus(ctx, noId, 'INVALID_ARGUMENT', { ids: ['CSI-NODE-024'], what: 'NodePublishVolume without volume_id' });
      const noTarget = await callNode(ctx, 'nodePublishVolume', publishRequest(ctx, nodeVolume, ''));
      expectStatus(ctx, noTarget, 'INVALID_ARGUMENT', { ids: ['CSI-NODE-024'], what: 'NodePublishVolume without target_path' });
    },
  });

  suite.declare({
    ids: ['CSI-NODE-024'],
    title: 'NodePublishVolume of a ready volume without a capability is refused with INVALID_ARGUMENT',
    needs: { capabilities: [createsVolumes] },
    async run(ctx: Ctx) {
      const nodeVolume = await prepareNodeVolume(ctx, { ids: ['CSI-NODE-024'] });
      const targetPath = await makeTargetPath(ctx);
      deferNodeUnpublish(ctx, nodeVolume.volume.volumeId, targetPath);
      const answer = await callNode(ctx, 'nodePublishVolume', publishRequest(ctx, nodeVolume, targetPath, { volumeCapability: undefined }));
      expectStatus(ctx, answer, 'INVALID_ARGUMENT', { ids: ['CSI-NODE-024'], what: 'NodePublishVolume without volume_capability' });
    },
  });

  suite.declare({
    ids: ['CSI-NODE-025'],
    title: 'NodePublishVolume of a volume that does not exist fails with NOT_FOUND and creates nothing',
    async run(ctx: Ctx) {
      const nodeVolume: NodeVolume = {
        volume: missingVolume(ctx),
        capability: mountCapability(),
        publishContext: {},
        stagingPath: stagesVolumes(ctx) ? await makeStagingPath(ctx) : '',
      };
      const targetPath = await makeTargetPath(ctx);
      deferNodeUnpublish(ctx, nodeVolume.volume.volumeId, targetPath);
      const answer = await callNode(ctx, 'nodePublishVolume', publishRequest(ctx, nodeVolume, targetPath));
      expectStatus(ctx, answer, 'NOT_FOUND', { ids: ['CSI-NODE-025'], what: `NodePublishVolume of unknown volume ${nodeVolume.volume.volumeId}` });
      ctx.check((await pathKind(targetPath)) === 'missing', {
        ids: ['CSI-NODE-025'],
        what: 'the refused publish created nothing at the target path',
        expected: 'missing',
        got: await pathKind(targetPath),
      });
    },
  });

  suite.declare({
    ids: ['CSI-NODE-023'],
    title: 'A staging plugin refuses NodePublishVolume without a staging path with FAILED_PRECONDITION',
    needs: { capabilities: ['node.STAGE_UNSTAGE_VOLUME', createsVolumes] },
    async run(ctx: Ctx) {
      const nodeVolume = await prepareNodeVolume(ctx, { ids: ['CSI-NODE-023'] });
      const targetPath = await makeTargetPath(ctx);
      deferNodeUnpublish(ctx, nodeVolume.volume.volumeId, targetPath);
      const answer = await callNode(ctx, 'nodePublishVolume', publishRequest(ctx, nodeVolume, targetPath, { stagingTargetPath: '' }));
      expectStatus(ctx, answer, 'FAILED_PRECONDITION', { ids: ['CSI-NODE-023'], what: 'NodePublishVolume with an empty staging_target_path' });
      const mounts = await mountsUnder(targetPath);
      ctx.check(mounts.length === 0, {
        ids: ['CSI-NODE-023'],
        what: 'the refused publish mounted nothing at the target',
        expected: [],
        got: mounts.map((entry) => entry.mountPoint),
      });
    },
  });

  suite.declare({
    ids: ['CSI-NODE-026', 'CSI-NODE-029', 'CSI-NODE-039', 'CSI-NODE-040'],
    title: 'NodePublishVolume mounts the volume at a target it creates, once however often asked, and unpublish removes both',
    needs: { capabilities: [createsVolumes] },
    async run(ctx: Ctx) {
      const nodeVolume = await prepareNodeVolume(ctx, { ids: ['CSI-NODE-026'] });
      const targetPath = await makeTargetPath(ctx);
      ctx.require((await pathKind(targetPath)) === 'missing', {
        ids: ['CSI-NODE-026'],
        what: 'the target path does not exist before the publish (the plugin makes it)',
        expected: 'missing',
        got: await pathKind(targetPath),
      });
      await publishForCase(ctx, nodeVolume, { ids: ['CSI-NODE-026'], targetPath });
      await checkMountedDirectory(ctx, targetPath, 'CSI-NODE-026');
      const written = await tryWrite(path.join(targetPath, 'kubeplug-probe'), 'hello');
      ctx.check(written === 'written' && (await tryRead(path.join(targetPath, 'kubeplug-probe'))) === 'hello', {
        ids: ['CSI-NODE-026'],
        what: 'a file written through the target reads back',
        expected: 'written, then "hello"',
        got: written,
      });
      const mountsBefore = await mountsAtPath(targetPath);

      const again = await callNode(ctx, 'nodePublishVolume', publishRequest(ctx, nodeVolume, targetPath));
      expectStatus(ctx, again, 'OK', { ids: ['CSI-NODE-029'], what: 'NodePublishVolume again with the same arguments' });
      const mountsAfter = await mountsAtPath(targetPath);
      ctx.check(mountsAfter.length === mountsBefore.length, {
        ids: ['CSI-NODE-029'],
        what: 'the repeated publish stacks no second mount on the target',
        expected: `${mountsBefore.length} mount(s)`,
        got: `${mountsAfter.length} mount(s)`,
      });

      const unpublished = await callNode(ctx, 'nodeUnpublishVolume', { volumeId: nodeVolume.volume.volumeId, targetPath });
      expectStatus(ctx, unpublished, 'OK', { ids: ['CSI-NODE-039'], what: 'NodeUnpublishVolume of the published volume' });
      await checkTargetGone(ctx, targetPath, 'CSI-NODE-039');
      const twice = await callNode(ctx, 'nodeUnpublishVolume', { volumeId: nodeVolume.volume.volumeId, targetPath });
      expectStatus(ctx, twice, 'OK', { ids: ['CSI-NODE-040'], what: 'NodeUnpublishVolume again, with the target already gone' });
    },
  });

  suite.declare({
    ids: ['CSI-NODE-027'],
    title: 'A read-only publish is mounted ro and refuses writes with EROFS',
    needs: { capabilities: [createsVolumes] },
    async run(ctx: Ctx) {
      const nodeVolume = await prepareNodeVolume(ctx, { ids: ['CSI-NODE-027'] });
      const targetPath = await publishForCase(ctx, nodeVolume, { ids: ['CSI-NODE-027'], readonly: true });
      const mounts = await mountsAtPath(targetPath);
      const visible = mounts.at(-1);
      ctx.check(visible !== undefined && isReadOnly(visible), {
        ids: ['CSI-NODE-027'],
        what: 'the mount at the target is read-only in the mount table',
        expected: 'options starting with ro',
        got: visible === undefined ? 'no mount at the target' : visible.options.join(','),
      });
      const written = await tryWrite(path.join(targetPath, 'kubeplug-probe'), 'must not land');
      ctx.check(written === 'EROFS', {
        ids: ['CSI-NODE-027'],
        what: 'writing a file through the read-only target fails',
        expected: 'EROFS',
        got: written,
      });
    },
  });

  suite.declare({
    ids: ['CSI-NODE-028'],
    title: 'Data written through one publish is there when the volume is published again at another target',
    needs: { capabilities: [createsVolumes] },
    async run(ctx: Ctx) {
      const nodeVolume = await prepareNodeVolume(ctx, { ids: ['CSI-NODE-028'] });
      const first = await publishForCase(ctx, nodeVolume, { ids: ['CSI-NODE-028'] });
      const content = `kubeplug ${ctx.uniqueName('data')}`;
      const written = await tryWrite(path.join(first, 'kubeplug-data'), content);
      ctx.require(written === 'written', { ids: ['CSI-NODE-028'], what: 'a file is written through the first target', expected: 'written', got: written });
      const unpublished = await callNode(ctx, 'nodeUnpublishVolume', { volumeId: nodeVolume.volume.volumeId, targetPath: first });
      ctx.require(unpublished.ok, { ids: ['CSI-NODE-028'], what: 'the first publish is undone', expected: 'OK', got: describeOutcome(unpublished) });
      const second = await publishForCase(ctx, nodeVolume, { ids: ['CSI-NODE-028'] });
      const read = await tryRead(path.join(second, 'kubeplug-data'));
      ctx.check(read === content, {
        ids: ['CSI-NODE-028'],
        what: 'the file written through the first target reads back through the second',
        expected: content,
        got: read ?? 'no such file',
      });
    },
  });

  suite.declare({
    ids: ['CSI-NODE-030'],
    title: 'Publishing again at the same target with another readonly flag or capability fails with ALREADY_EXISTS',
    needs: { capabilities: [createsVolumes] },
    async run(ctx: Ctx) {
      const nodeVolume = await prepareNodeVolume(ctx, { ids: ['CSI-NODE-030'] });
      const targetPath = await publishForCase(ctx, nodeVolume, { ids: ['CSI-NODE-030'] });
      const readonly = await callNode(ctx, 'nodePublishVolume', publishRequest(ctx, nodeVolume, targetPath, { readonly: true }));
      expectStatus(ctx, readonly, 'ALREADY_EXISTS', { ids: ['CSI-NODE-030'], what: 'NodePublishVolume at the same target with readonly true instead of false' });
      const otherCapability = await callNode(
        ctx,
        'nodePublishVolume',
        publishRequest(ctx, nodeVolume, targetPath, { volumeCapability: mountCapability(Mode.SINGLE_NODE_READER_ONLY) }),
      );
      expectStatus(ctx, otherCapability, ['ALREADY_EXISTS', 'FAILED_PRECONDITION'], {
        ids: ['CSI-NODE-030'],
        what: 'NodePublishVolume at the same target with SINGLE_NODE_READER_ONLY instead of SINGLE_NODE_WRITER (FAILED_PRECONDITION when the mode exceeds the volume)',
      });
      const written = await tryWrite(path.join(targetPath, 'kubeplug-probe'), 'still writable');
      ctx.check(written === 'written', {
        ids: ['CSI-NODE-030'],
        what: 'the refused publishes left the first one as it was (still writable)',
        expected: 'written',
        got: written,
      });
    },
  });

  suite.declare({
    ids: ['CSI-NODE-031'],
    title: 'NodePublishVolume with a capability the volume lacks fails with FAILED_PRECONDITION',
    needs: { capabilities: [createsVolumes] },
    async run(ctx: Ctx) {
      const nodeVolume = await prepareNodeVolume(ctx, { ids: ['CSI-NODE-031'] });
      const unsupported = await unsupportedCapabilityOf(ctx, nodeVolume.volume);
      const targetPath = await makeTargetPath(ctx);
      deferNodeUnpublish(ctx, nodeVolume.volume.volumeId, targetPath);
      const answer = await callNode(ctx, 'nodePublishVolume', publishRequest(ctx, nodeVolume, targetPath, { volumeCapability: unsupported.capability }));
      expectStatus(ctx, answer, 'FAILED_PRECONDITION', { ids: ['CSI-NODE-031'], what: `NodePublishVolume with ${unsupported.label}` });
    },
  });

  suite.declare({
    ids: ['CSI-NODE-032'],
    title: 'A block volume is published as a block device at the target and removed on unpublish',
    needs: { capabilities: [createsVolumes] },
    async run(ctx: Ctx) {
      const capability = blockCapability();
      const volume = await tryCreateVolume(ctx, { volumeCapabilities: [capability] });
      if (volume === undefined) return ctx.notApplicable('the plugin does not create block volumes');
      const nodeVolume = await prepareNodeVolume(ctx, { ids: ['CSI-NODE-032'], capability, volume });
      const targetPath = await publishForCase(ctx, nodeVolume, { ids: ['CSI-NODE-032'] });
      ctx.check((await pathKind(targetPath)) === 'block-device', {
        ids: ['CSI-NODE-032'],
        what: 'the target path is a block device',
        expected: 'block-device',
        got: await pathKind(targetPath),
      });
      const unpublished = await callNode(ctx, 'nodeUnpublishVolume', { volumeId: volume.volumeId, targetPath });
      expectStatus(ctx, unpublished, 'OK', { ids: ['CSI-NODE-039'], what: 'NodeUnpublishVolume of the block volume' });
      await checkTargetGone(ctx, targetPath, 'CSI-NODE-039');
    },
  });

  suite.declare({
    ids: ['CSI-NODE-033'],
    title: 'A SINGLE_NODE_SINGLE_WRITER volume is refused at a second target with FAILED_PRECONDITION',
    needs: { capabilities: ['node.SINGLE_NODE_MULTI_WRITER', createsVolumes] },
    async run(ctx: Ctx) {
      const nodeVolume = await prepareModeVolume(ctx, Mode.SINGLE_NODE_SINGLE_WRITER, 'CSI-NODE-033');
      await publishForCase(ctx, nodeVolume, { ids: ['CSI-NODE-033'] });
      const second = await makeTargetPath(ctx);
      deferNodeUnpublish(ctx, nodeVolume.volume.volumeId, second);
      const answer = await callNode(ctx, 'nodePublishVolume', publishRequest(ctx, nodeVolume, second));
      expectStatus(ctx, answer, 'FAILED_PRECONDITION', { ids: ['CSI-NODE-033'], what: 'NodePublishVolume of the volume at a second target' });
    },
  });

  suite.declare({
    ids: ['CSI-NODE-034'],
    title: 'A multi-writer volume is published at a second target',
    needs: { capabilities: [createsVolumes] },
    async run(ctx: Ctx) {
      const mode = ctx.subject.capabilities.has('node.SINGLE_NODE_MULTI_WRITER')
        ? Mode.SINGLE_NODE_MULTI_WRITER
        : Mode.MULTI_NODE_MULTI_WRITER;
      const nodeVolume = await prepareModeVolume(ctx, mode, 'CSI-NODE-034');
      const first = await publishForCase(ctx, nodeVolume, { ids: ['CSI-NODE-034'] });
      const second = await makeTargetPath(ctx);
      deferNodeUnpublish(ctx, nodeVolume.volume.volumeId, second);
      const answer = await callNode(ctx, 'nodePublishVolume', publishRequest(ctx, nodeVolume, second));
      expectStatus(ctx, answer, 'OK', { ids: ['CSI-NODE-034'], what: `NodePublishVolume of a ${Mode[mode]} volume at a second target` });
      if (answer.ok) {
        await tryWrite(path.join(first, 'kubeplug-shared'), 'shared');
        ctx.check((await tryRead(path.join(second, 'kubeplug-shared'))) === 'shared', {
          ids: ['CSI-NODE-034'],
          what: 'both targets show the same volume: a file written through the first reads through the second',
          expected: 'shared',
          got: (await tryRead(path.join(second, 'kubeplug-shared'))) ?? 'no such file',
        });
      }
    },
  });

  suite.declare({
    ids: ['CSI-NODE-036'],
    title: 'A plugin with SINGLE_NODE_MULTI_WRITER still publishes SINGLE_NODE_WRITER volumes',
    needs: { capabilities: ['node.SINGLE_NODE_MULTI_WRITER', createsVolumes] },
    async run(ctx: Ctx) {
      const nodeVolume = await prepareNodeVolume(ctx, { ids: ['CSI-NODE-036'], capability: mountCapability(Mode.SINGLE_NODE_WRITER) });
      const targetPath = await publishForCase(ctx, nodeVolume, { ids: ['CSI-NODE-036'] });
      ctx.check((await mountsAtPath(targetPath)).length > 0, {
        ids: ['CSI-NODE-036'],
        what: 'the SINGLE_NODE_WRITER volume is mounted at the target',
        expected: 'a mount at the target',
        got: `${(await mountsAtPath(targetPath)).length} mount(s)`,
      });
    },
  });

  suite.declare({
    ids: ['CSI-NODE-059'],
    title: 'With VOLUME_MOUNT_GROUP a process of the mount group alone can write and read the published volume',
    needs: { capabilities: ['node.VOLUME_MOUNT_GROUP', createsVolumes], root: true },
    async run(ctx: Ctx) {
      const group = 4321;
      const nodeVolume = await prepareNodeVolume(ctx, { ids: ['CSI-NODE-059'], capability: mountGroupCapability(String(group)) });
      const targetPath = await publishForCase(ctx, nodeVolume, { ids: ['CSI-NODE-059'] });
      // uid 65534 (nobody) owns nothing in the volume: only the group can grant the write.
      const outcome = await runAs({ uid: 65534, gid: group }, targetPath, 'echo grouped > kubeplug-group-probe && cat kubeplug-group-probe');
      ctx.check(outcome.code === 0 && outcome.stdout.trim() === 'grouped', {
        ids: ['CSI-NODE-059'],
        what: `a process with uid 65534 and only group ${group} creates, writes and reads a file in the volume`,
        expected: 'exit 0, "grouped"',
        got: outcome,
      });
    },
  });

  suite.declare({
    ids: ['CSI-NODE-041', 'CSI-NODE-042'],
    title: 'Staging, publishing and unpublishing work at paths of 200 bytes and of 2 KiB',
    needs: { capabilities: [createsVolumes] },
    async run(ctx: Ctx) {
      // One volume serves both lengths: staged, published and undone at 200-byte paths, then at 2 KiB ones.
      const capability = mountCapability();
      const volume = await createTestVolume(ctx, { ids: ['CSI-NODE-041'] });
      const publishContext = await attachToThisNode(ctx, volume, { ids: ['CSI-NODE-041'], capability });
      for (const [id, length] of [['CSI-NODE-041', 200], ['CSI-NODE-042', 2048]] as const) {
        const stagingPath = stagesVolumes(ctx) ? await makeLongFolder(ctx, ctx.subject.config.stagingDir, length) : '';
        const targetPath = path.join(await makeLongFolder(ctx, ctx.subject.config.mountDir, length - 'volume'.length - 1), 'volume');
        const bytes = `${Buffer.byteLength(targetPath)}-byte`;
        if (stagingPath !== '') {
          deferNodeUnstage(ctx, volume.volumeId, stagingPath);
          const staged = await callNode(ctx, 'nodeStageVolume', stageRequest(ctx, volume, stagingPath, { capability, publishContext }));
          if (!expectStatus(ctx, staged, 'OK', { ids: [id], what: `NodeStageVolume at a ${Buffer.byteLength(stagingPath)}-byte staging path` })) continue;
        }
        const nodeVolume: NodeVolume = { volume, capability, publishContext, stagingPath };
        deferNodeUnpublish(ctx, volume.volumeId, targetPath);
        const published = await callNode(ctx, 'nodePublishVolume', publishRequest(ctx, nodeVolume, targetPath));
        if (!expectStatus(ctx, published, 'OK', { ids: [id], what: `NodePublishVolume at a ${bytes} target path` })) continue;
        const mounts = await mountsAtPath(targetPath);
        ctx.check(mounts.length > 0, { ids: [id], what: `the ${bytes} target is a mount point`, expected: 'a mount', got: `${mounts.length} mount(s)` });
        if (ctx.subject.capabilities.has('node.GET_VOLUME_STATS')) {
          const stats = await callNode(ctx, 'nodeGetVolumeStats', { volumeId: volume.volumeId, volumePath: targetPath, stagingTargetPath: stagingPath });
          expectStatus(ctx, stats, 'OK', { ids: [id], what: `NodeGetVolumeStats at the ${bytes} target path` });
        }
        const unpublished = await callNode(ctx, 'nodeUnpublishVolume', { volumeId: volume.volumeId, targetPath });
        expectStatus(ctx, unpublished, 'OK', { ids: [id], what: `NodeUnpublishVolume at the ${bytes} target path` });
        if (stagingPath !== '') {
          const unstaged = await callNode(ctx, 'nodeUnstageVolume', { volumeId: volume.volumeId, stagingTargetPath: stagingPath });
          expectStatus(ctx, unstaged, 'OK', { ids: [id], what: `NodeUnstageVolume at a ${Buffer.byteLength(stagingPath)}-byte staging path` });
        }
      }
    },
  });
}

/** Creates a volume of one access mode and prepares it; not applicable when the plugin will not create it. */
async function prepareModeVolume(ctx: Ctx, mode: Mode, id: string): Promise<NodeVolume> {
  const capability = mountCapability(mode);
  const volume = await tryCreateVolume(ctx, { volumeCapabilities: [capability] });
  if (volume === undefined) return ctx.notApplicable(`the plugin does not create ${Mode[mode]} volumes`);
  return prepareNodeVolume(ctx, { ids: [id], capability, volume });
}

/**
 * Makes (as the CO does) a folder whose path is about `length` bytes long,
 * built of components of at most 200 bytes, under `base`; the chain is
 * removed afterwards if the plugin left it empty.
 */
async function makeLongFolder(ctx: Ctx, base: string, length: number): Promise<string> {
  let folder = path.join(base, ctx.uniqueName('long'));
  const made = [folder];
  while (Buffer.byteLength(folder) < length) {
    const room = Math.min(200, length - Buffer.byteLength(folder) - 1);
    if (room <= 0) break;
    folder = path.join(folder, 'p'.repeat(room));
    made.push(folder);
  }
  await fs.mkdir(folder, { recursive: true });
  ctx.defer(async () => {
    for (const dir of made.reverse()) await fs.rmdir(dir).catch(() => undefined);
  }, `remove long folder chain under ${base}`);
  return folder;
}

/** Checks that a target is a folder with a mount on it. */
async function checkMountedDirectory(ctx: Ctx, targetPath: string, id: string): Promise<void> {
  ctx.check((await pathKind(targetPath)) === 'directory', {
    ids: [id],
    what: 'after NodePublishVolume the target path is a folder',
    expected: 'directory',
    got: await pathKind(targetPath),
  });
  const mounts = await mountsAtPath(targetPath);
  ctx.check(mounts.length > 0, {
    ids: [id],
    what: 'after NodePublishVolume the target path is a mount point (mount table)',
    expected: 'at least one mount at the target',
    got: mounts.map((entry) => `${entry.fsType} ${entry.source} ${entry.root}`),
  });
}

/** Checks that an unpublished target holds no mount and no longer exists. */
export async function checkTargetGone(ctx: Ctx, targetPath: string, id: string): Promise<void> {
  const mounts = await mountsUnder(targetPath);
  ctx.check(mounts.length === 0, {
    ids: [id],
    what: 'after NodeUnpublishVolume nothing is mounted at or under the target (mount table)',
    expected: [],
    got: mounts.map((entry) => `${entry.mountPoint} (${entry.fsType} ${entry.source})`),
  });
  ctx.check((await pathKind(targetPath)) === 'missing', {
    ids: [id],
    what: 'after NodeUnpublishVolume the target path no longer exists (the plugin removes what it created)',
    expected: 'missing',
    got: await pathKind(targetPath),
  });
}

/** Runs a shell command as another user and group (no supplementary groups), in a folder. */
function runAs(
  identity: { uid: number; gid: number },
  cwd: string,
  command: string,
): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn('sh', ['-c', command], { cwd, uid: identity.uid, gid: identity.gid, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    child.on('error', (error) => resolve({ code: null, stdout, stderr: error.message }));
    child.on('close', (code) => resolve({ code, stdout, stderr }));
  });
}

/** A mount capability with a volume_mount_group. */
export function mountGroupCapability(group: string): VolumeCapability {
  return {
    accessType: { $case: 'mount', value: { fsType: '', mountFlags: [], volumeMountGroup: group } },
    accessMode: { mode: Mode.SINGLE_NODE_WRITER },
  };
}
