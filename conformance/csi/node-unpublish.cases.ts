import type { CaseContext, Suite } from '../framework/index.js';
import { callNode } from './csi-calls.js';
import type { CsiSubject } from './csi-subject.js';
import { expectStatus, unknownVolumeId } from './expect-status.js';
import { makeTargetPath } from './test-volumes.js';

type Ctx = CaseContext<CsiSubject>;

/** Declares the NodeUnpublishVolume error cases (specs/csi/SPEC.md, CSI-NODE); the undo itself is judged with publishing. */
export function declareNodeUnpublishCases(suite: Suite<CsiSubject>): void {
  suite.declare({
    ids: ['CSI-NODE-037'],
    title: 'NodeUnpublishVolume without a volume ID or a target path is refused with INVALID_ARGUMENT',
    async run(ctx: Ctx) {
      const targetPath = await makeTargetPath(ctx);
      const noId = await callNode(ctx, 'nodeUnpublishVolume', { volumeId: '', targetPath });
      expectStatus(ctx, noId, 'INVALID_ARGUMENT', { ids: ['CSI-NODE-037'], what: 'NodeUnpublishVolume without volume_id' });
      const noPath = await callNode(ctx, 'nodeUnpublishVolume', { volumeId: unknownVolumeId(ctx), targetPath: '' });
      expectStatus(ctx, noPath, 'INVALID_ARGUMENT', { ids: ['CSI-NODE-037'], what: 'NodeUnpublishVolume without target_path' });
    },
  });

  suite.declare({
    ids: ['CSI-NODE-038'],
    title: 'NodeUnpublishVolume of a volume that does not exist fails with NOT_FOUND',
    async run(ctx: Ctx) {
      const targetPath = await makeTargetPath(ctx);
      const volumeId = unknownVolumeId(ctx);
      const answer = await callNode(ctx, 'nodeUnpublishVolume', { volumeId, targetPath });
      expectStatus(ctx, answer, 'NOT_FOUND', { ids: ['CSI-NODE-038'], what: `NodeUnpublishVolume of unknown volume ${volumeId}` });
    },
  });
}
