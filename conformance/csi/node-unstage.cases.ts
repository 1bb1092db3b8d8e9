import type { CaseContext, Suite } from '../framework/index.js';
import { callNode } from './csi-calls.js';
import type { CsiSubject } from './csi-subject.js';
import { expectStatus, unknownVolumeId } from './expect-status.js';
import { makeStagingPath } from './test-volumes.js';

type Ctx = CaseContext<CsiSubject>;

/** Declares the NodeUnstageVolume error cases (specs/csi/SPEC.md, CSI-NODE); the undo itself is judged with staging. */
export function declareNodeUnstageCases(suite: Suite<CsiSubject>): void {
  suite.declare({
    ids: ['CSI-NODE-019'],
    title: 'NodeUnstageVolume without a volume ID or a staging path is refused with INVALID_ARGUMENT',
    needs: { capabilities: ['node.STAGE_UNSTAGE_VOLUME'] },
    async run(ctx: Ctx) {
      const stagingPath = await makeStagingPath(ctx);
      const noId = await callNode(ctx, 'nodeUnstageVolume', { volumeId: '', stagingTargetPath: stagingPath });
      expectStatus(ctx, noId, 'INVALID_ARGUMENT', { ids: ['CSI-NODE-019'], what: 'NodeUnstageVolume without volume_id' });
      const noPath = await callNode(ctx, 'nodeUnstageVolume', { volumeId: unknownVolumeId(ctx), stagingTargetPath: '' });
      expectStatus(ctx, noPath, 'INVALID_ARGUMENT', { ids: ['CSI-NODE-019'], what: 'NodeUnstageVolume without staging_target_path' });
    },
  });

  suite.declare({
    ids: ['CSI-NODE-020'],
    title: 'NodeUnstageVolume of a volume that does not exist fails with NOT_FOUND',
    needs: { capabilities: ['node.STAGE_UNSTAGE_VOLUME'] },
    async run(ctx: Ctx) {
      const stagingPath = await makeStagingPath(ctx);
      const volumeId = unknownVolumeId(ctx);
      const answer = await callNode(ctx, 'nodeUnstageVolume', { volumeId, stagingTargetPath: stagingPath });
      expectStatus(ctx, answer, 'NOT_FOUND', { ids: ['CSI-NODE-020'], what: `NodeUnstageVolume of unknown volume ${volumeId}` });
    },
  });
}
