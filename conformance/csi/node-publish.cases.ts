import fs from 'node:fs/promises';
import path from 'node:path';
import { VolumeCapability_AccessMode_Mode as Mode } from '../../specs/csi/index.js';
import type { CaseContext, Suite } from '../framework/index.js';
import { callNode } from './csi-calls.js';
import type { CsiSubject } from './csi-subject.js';
import { expectStatus } from './expect-status.js';
import { mountsAtPath, mountsUnder } from './mount-checks.js';
import { isReadOnly } from './mount-table.js';
import {
  attachToThisNode,
  checkTargetGone,
  missingVolume,
  pathKind,
  prepareNodeVolume,
  publishForCase,
  publishRequest,
  stageRequest,
  stagesVolumes,
  tryRead,
  tryWrite,
  unpublishBeforeNextStep,
  type NodeVolume,
} from './node-volumes.js';
import {
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
    ids: ['CSI-NODE-061'],
    title: 'A staging plugin refuses to publish a volume that is not staged with FAILED_PRECONDITION',
    needs: { capabilities: ['node.STAGE_UNSTAGE_VOLUME', createsVolumes] },
    async run(ctx: Ctx) {
      const capability = mountCapability();
      const volume = await createTestVolume(ctx, { ids: ['CSI-NODE-061'] });
      const publishContext = await attachToThisNode(ctx, volume, { ids: ['CSI-NODE-061'], capability });
      const nodeVolume: NodeVolume = { volume, capability, publishContext, stagingPath: await makeStagingPath(ctx) };
      const targetPath = await makeTargetPath(ctx);
      deferNodeUnpublish(ctx, volume.volumeId, targetPath);
      const answer = await callNode(ctx, 'nodePublishVolume', publishRequest(ctx, nodeVolume, targetPath));
      expectStatus(ctx, answer, 'FAILED_PRECONDITION', { ids: ['CSI-NODE-061'], what: 'NodePublishVolume with a staging path where the volume was never staged' });
      const mounts = await mountsUnder(targetPath);
      ctx.check(mounts.length === 0, {
        ids: ['CSI-NODE-061'],
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
      await unpublishBeforeNextStep(ctx, nodeVolume.volume.volumeId, first);
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
        // The undo at long paths is judged on its status here; whether it really unmounts is CSI-NODE-039's and 021's.
        const unpublished = await callNode(ctx, 'nodeUnpublishVolume', { volumeId: volume.volumeId, targetPath });
        expectStatus(ctx, unpublished, 'OK', { ids: [id], what: `NodeUnpublishVolume at the ${bytes} target path` });
        ctx.require((await mountsUnder(targetPath)).length === 0, {
          ids: ['CSI-NODE-039'],
          what: `NodeUnpublishVolume unmounted the ${bytes} target (needed for the next step)`,
          expected: 'no mount',
          got: (await mountsUnder(targetPath)).map((entry) => entry.mountPoint),
        });
        if (stagingPath !== '') {
          const unstaged = await callNode(ctx, 'nodeUnstageVolume', { volumeId: volume.volumeId, stagingTargetPath: stagingPath });
          expectStatus(ctx, unstaged, 'OK', { ids: [id], what: `NodeUnstageVolume at a ${Buffer.byteLength(stagingPath)}-byte staging path` });
          ctx.require((await mountsUnder(stagingPath)).length === 0, {
            ids: ['CSI-NODE-021'],
            what: 'NodeUnstageVolume unmounted the long staging path (needed for the next step)',
            expected: 'no mount',
            got: (await mountsUnder(stagingPath)).map((entry) => entry.mountPoint),
          });
        }
      }
    },
  });
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

