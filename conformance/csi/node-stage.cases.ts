import type { CaseContext, Suite } from '../framework/index.js';
import { callNode } from './csi-calls.js';
import type { CsiSubject } from './csi-subject.js';
import { describeOutcome, expectStatus } from './expect-status.js';
import { mountsUnder } from './mount-checks.js';
import { attachToThisNode, missingVolume, stageRequest } from './node-volumes.js';
import { blockCapability, createTestVolume, deferNodeUnstage, makeStagingPath, mountCapability } from './test-volumes.js';
import { unsupportedCapabilityOf } from './unsupported-capability.js';

type Ctx = CaseContext<CsiSubject>;

const stages = 'node.STAGE_UNSTAGE_VOLUME';
const createsVolumes = 'controller.CREATE_DELETE_VOLUME';

/** Declares the NodeStageVolume cases (specs/csi/SPEC.md, CSI-NODE). */
export function declareNodeStageCases(suite: Suite<CsiSubject>): void {
  suite.declare({
    ids: ['CSI-NODE-012'],
    title: 'NodeStageVolume without a volume ID or a staging path is refused with INVALID_ARGUMENT',
    needs: { capabilities: [stages] },
    async run(ctx: Ctx) {
      const stagingPath = await makeStagingPath(ctx);
      const volume = missingVolume(ctx);
      const noId = await callNode(ctx, 'nodeStageVolume', { ...stageRequest(ctx, volume, stagingPath), volumeId: '' });
      expectStatus(ctx, noId, 'INVALID_ARGUMENT', { ids: ['CSI-NODE-012'], what: 'NodeStageVolume without volume_id' });
      const noPath = await callNode(ctx, 'nodeStageVolume', stageRequest(ctx, volume, ''));
      expectStatus(ctx, noPath, 'INVALID_ARGUMENT', { ids: ['CSI-NODE-012'], what: 'NodeStageVolume without staging_target_path' });
    },
  });

  suite.declare({
    ids: ['CSI-NODE-012'],
    title: 'NodeStageVolume of an existing volume without a capability is refused with INVALID_ARGUMENT',
    needs: { capabilities: [stages, createsVolumes] },
    async run(ctx: Ctx) {
      const volume = await createTestVolume(ctx, { ids: ['CSI-NODE-012'] });
      const publishContext = await attachToThisNode(ctx, volume, { ids: ['CSI-NODE-012'], capability: mountCapability() });
      const stagingPath = await makeStagingPath(ctx);
      deferNodeUnstage(ctx, volume.volumeId, stagingPath);
      const request = stageRequest(ctx, volume, stagingPath, { publishContext });
      const answer = await callNode(ctx, 'nodeStageVolume', { ...request, volumeCapability: undefined });
      expectStatus(ctx, answer, 'INVALID_ARGUMENT', { ids: ['CSI-NODE-012'], what: 'NodeStageVolume without volume_capability' });
    },
  });

  suite.declare({
    ids: ['CSI-NODE-013'],
    title: 'NodeStageVolume of a volume that does not exist fails with NOT_FOUND',
    needs: { capabilities: [stages] },
    async run(ctx: Ctx) {
      const stagingPath = await makeStagingPath(ctx);
      const volume = missingVolume(ctx);
      deferNodeUnstage(ctx, volume.volumeId, stagingPath);
      const answer = await callNode(ctx, 'nodeStageVolume', stageRequest(ctx, volume, stagingPath));
      expectStatus(ctx, answer, 'NOT_FOUND', { ids: ['CSI-NODE-013'], what: `NodeStageVolume of unknown volume ${volume.volumeId}` });
    },
  });

  suite.declare({
    ids: ['CSI-NODE-011', 'CSI-NODE-014', 'CSI-NODE-021', 'CSI-NODE-022'],
    title: 'A volume staged twice is staged once, and unstaged twice leaves nothing mounted at the staging path',
    needs: { capabilities: [stages, createsVolumes] },
    async run(ctx: Ctx) {
      const capability = mountCapability();
      const volume = await createTestVolume(ctx, { ids: ['CSI-NODE-011'] });
      const publishContext = await attachToThisNode(ctx, volume, { ids: ['CSI-NODE-011'], capability });
      const stagingPath = await makeStagingPath(ctx);
      deferNodeUnstage(ctx, volume.volumeId, stagingPath);
      const request = stageRequest(ctx, volume, stagingPath, { capability, publishContext });

      const first = await callNode(ctx, 'nodeStageVolume', request);
      ctx.require(first.ok, { ids: ['CSI-NODE-011'], what: 'NodeStageVolume of a new volume succeeds', expected: 'OK', got: describeOutcome(first) });
      const mountsAfterFirst = await mountsUnder(stagingPath);
      const second = await callNode(ctx, 'nodeStageVolume', request);
      expectStatus(ctx, second, 'OK', { ids: ['CSI-NODE-014'], what: 'NodeStageVolume again with the same arguments' });
      const mountsAfterSecond = await mountsUnder(stagingPath);
      ctx.check(mountsAfterSecond.length === mountsAfterFirst.length, {
        ids: ['CSI-NODE-014'],
        what: 'the second stage mounts nothing more at the staging path',
        expected: mountsAfterFirst.map((entry) => entry.mountPoint),
        got: mountsAfterSecond.map((entry) => entry.mountPoint),
      });

      const unstaged = await callNode(ctx, 'nodeUnstageVolume', { volumeId: volume.volumeId, stagingTargetPath: stagingPath });
      expectStatus(ctx, unstaged, 'OK', { ids: ['CSI-NODE-011'], what: 'NodeUnstageVolume of the staged volume' });
      const left = await mountsUnder(stagingPath);
      ctx.check(left.length === 0, {
        ids: ['CSI-NODE-021'],
        what: 'after NodeUnstageVolume nothing is mounted at or under the staging path (mount table)',
        expected: [],
        got: left.map((entry) => `${entry.mountPoint} (${entry.fsType} ${entry.source})`),
      });
      const again = await callNode(ctx, 'nodeUnstageVolume', { volumeId: volume.volumeId, stagingTargetPath: stagingPath });
      expectStatus(ctx, again, 'OK', { ids: ['CSI-NODE-022'], what: 'NodeUnstageVolume again, with the volume no longer staged' });
    },
  });

  suite.declare({
    ids: ['CSI-NODE-015'],
    title: 'Staging a staged volume again at the same path with another capability fails with ALREADY_EXISTS',
    needs: { capabilities: [stages, createsVolumes] },
    async run(ctx: Ctx) {
      const capability = mountCapability();
      const volume = await createTestVolume(ctx, { ids: ['CSI-NODE-015'] });
      const publishContext = await attachToThisNode(ctx, volume, { ids: ['CSI-NODE-015'], capability });
      const stagingPath = await makeStagingPath(ctx);
      deferNodeUnstage(ctx, volume.volumeId, stagingPath);
      const first = await callNode(ctx, 'nodeStageVolume', stageRequest(ctx, volume, stagingPath, { capability, publishContext }));
      ctx.require(first.ok, { ids: ['CSI-NODE-015'], what: 'NodeStageVolume of a new volume succeeds', expected: 'OK', got: describeOutcome(first) });
      const other = await callNode(ctx, 'nodeStageVolume', stageRequest(ctx, volume, stagingPath, { capability: blockCapability(), publishContext }));
      expectStatus(ctx, other, ['ALREADY_EXISTS', 'FAILED_PRECONDITION'], {
        ids: ['CSI-NODE-015'],
        what: 'NodeStageVolume at the same staging path with block access instead of mount (FAILED_PRECONDITION when block exceeds the volume)',
      });
      if (!other.ok && other.error.code === 'FAILED_PRECONDITION') ctx.note('the plugin calls block access beyond this volume: the "exceeds capabilities" row');
    },
  });

  suite.declare({
    ids: ['CSI-NODE-016'],
    title: 'NodeStageVolume with a capability the volume lacks fails with FAILED_PRECONDITION',
    needs: { capabilities: [stages, createsVolumes] },
    async run(ctx: Ctx) {
      const volume = await createTestVolume(ctx, { ids: ['CSI-NODE-016'] });
      const unsupported = await unsupportedCapabilityOf(ctx, volume);
      const publishContext = await attachToThisNode(ctx, volume, { ids: ['CSI-NODE-016'], capability: mountCapability() });
      const stagingPath = await makeStagingPath(ctx);
      deferNodeUnstage(ctx, volume.volumeId, stagingPath);
      const answer = await callNode(
        ctx,
        'nodeStageVolume',
        stageRequest(ctx, volume, stagingPath, { capability: unsupported.capability, publishContext }),
      );
      expectStatus(ctx, answer, 'FAILED_PRECONDITION', { ids: ['CSI-NODE-016'], what: `NodeStageVolume with ${unsupported.label}` });
    },
  });
}
