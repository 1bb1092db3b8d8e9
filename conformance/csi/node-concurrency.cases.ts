import type { CaseContext, Suite } from '../framework/index.js';
import { callNode } from './csi-calls.js';
import type { CsiSubject } from './csi-subject.js';
import { describeOutcome, statusOf } from './expect-status.js';
import { mountsAtPath, mountsUnder } from './mount-checks.js';
import { attachToThisNode, pathKind, publishRequest, stageRequest, stagesVolumes, type NodeVolume } from './node-volumes.js';
import type { CallOutcome } from './record-call.js';
import {
  createTestVolume,
  deferNodeUnpublish,
  deferNodeUnstage,
  makeStagingPath,
  makeTargetPath,
  mountCapability,
} from './test-volumes.js';

type Ctx = CaseContext<CsiSubject>;

/** The general rule on simultaneous calls for one volume (CSI-GEN), judged on the node calls. */
const id = 'CSI-GEN-011';
/** How many identical calls are sent at once, as a CO that lost its state might. */
const parallelCalls = 4;

/** Declares the cases that send node calls for one volume at once. */
export function declareNodeConcurrencyCases(suite: Suite<CsiSubject>): void {
  suite.declare({
    // The undo at the end is judged as CSI-NODE-039 and 021 (one unpublish, one unstage must clear the result).
    ids: [id, 'CSI-NODE-039', 'CSI-NODE-021'],
    title: 'Identical stage and publish calls sent at once end in one mount that one unpublish removes',
    needs: { capabilities: ['controller.CREATE_DELETE_VOLUME'] },
    async run(ctx: Ctx) {
      const capability = mountCapability();
      const volume = await createTestVolume(ctx, { ids: [id] });
      const publishContext = await attachToThisNode(ctx, volume, { ids: [id], capability });
      let stagingPath = '';
      if (stagesVolumes(ctx)) {
        stagingPath = await makeStagingPath(ctx);
        deferNodeUnstage(ctx, volume.volumeId, stagingPath);
        const request = stageRequest(ctx, volume, stagingPath, { capability, publishContext });
        await settle(ctx, 'NodeStageVolume', () => callNode(ctx, 'nodeStageVolume', request));
      }
      const nodeVolume: NodeVolume = { volume, capability, publishContext, stagingPath };
      const targetPath = await makeTargetPath(ctx);
      deferNodeUnpublish(ctx, volume.volumeId, targetPath);
      const request = publishRequest(ctx, nodeVolume, targetPath);
      await settle(ctx, 'NodePublishVolume', () => callNode(ctx, 'nodePublishVolume', request));
      const mounts = await mountsAtPath(targetPath);
      ctx.check(mounts.length === 1, {
        ids: [id],
        what: `${parallelCalls} simultaneous publishes leave exactly one mount at the target`,
        expected: '1 mount',
        got: `${mounts.length} mount(s)`,
      });

      const unpublished = await callNode(ctx, 'nodeUnpublishVolume', { volumeId: volume.volumeId, targetPath });
      const cleared = ctx.check(unpublished.ok && (await mountsUnder(targetPath)).length === 0 && (await pathKind(targetPath)) === 'missing', {
        ids: ['CSI-NODE-039'],
        what: 'one NodeUnpublishVolume removes the mount and the target',
        expected: 'OK, no mounts, target missing',
        got: { status: describeOutcome(unpublished), mounts: (await mountsUnder(targetPath)).length, target: await pathKind(targetPath) },
      });
      // A mount left at the target keeps the staging busy: unstaging then would blame CSI-NODE-021 for CSI-NODE-039.
      if (!cleared || stagingPath === '') return;
      const unstaged = await callNode(ctx, 'nodeUnstageVolume', { volumeId: volume.volumeId, stagingTargetPath: stagingPath });
      ctx.check(unstaged.ok && (await mountsUnder(stagingPath)).length === 0, {
        ids: ['CSI-NODE-021'],
        what: 'one NodeUnstageVolume leaves nothing mounted at the staging path',
        expected: 'OK, no mounts',
        got: { status: describeOutcome(unstaged), mounts: (await mountsUnder(stagingPath)).map((entry) => entry.mountPoint) },
      });
    },
  });
}

/**
 * Sends the same call several times at once: each must answer OK or
 * ABORTED (CSI's "operation pending"); if all were turned away, one more
 * call alone must succeed, as the CO's retry would.
 */
async function settle(ctx: Ctx, name: string, call: () => Promise<CallOutcome<unknown>>): Promise<void> {
  const outcomes = await Promise.all(Array.from({ length: parallelCalls }, call));
  const statuses = outcomes.map(statusOf);
  ctx.check(statuses.every((status) => status === 'OK' || status === 'ABORTED'), {
    ids: [id],
    what: `${parallelCalls} simultaneous identical ${name} calls each answer OK or ABORTED`,
    expected: 'OK | ABORTED',
    got: outcomes.map(describeOutcome),
  });
  if (statuses.includes('OK')) return;
  const retried = await call();
  ctx.require(retried.ok, { ids: [id], what: `${name} alone after the simultaneous ones succeeds`, expected: 'OK', got: describeOutcome(retried) });
}
