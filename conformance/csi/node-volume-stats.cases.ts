import { VolumeUsage_Unit, type NodeGetVolumeStatsResponse } from '../../specs/csi/index.js';
import type { CaseContext, Suite } from '../framework/index.js';
import { callNode } from './csi-calls.js';
import type { CsiSubject } from './csi-subject.js';
import { describeOutcome, expectStatus, unknownVolumeId } from './expect-status.js';
import { prepareNodeVolume, publishForCase } from './node-volumes.js';
import { makeTargetPath } from './test-volumes.js';

type Ctx = CaseContext<CsiSubject>;

const reportsStats = 'node.GET_VOLUME_STATS';
const createsVolumes = 'controller.CREATE_DELETE_VOLUME';

/** Declares the NodeGetVolumeStats cases (specs/csi/SPEC.md, CSI-NODE). */
export function declareNodeVolumeStatsCases(suite: Suite<CsiSubject>): void {
  suite.declare({
    ids: ['CSI-NODE-044'],
    title: 'NodeGetVolumeStats without a volume ID or a volume path is refused with INVALID_ARGUMENT',
    needs: { capabilities: [reportsStats] },
    async run(ctx: Ctx) {
      const somePath = await makeTargetPath(ctx);
      const noId = await callNode(ctx, 'nodeGetVolumeStats', { volumeId: '', volumePath: somePath, stagingTargetPath: '' });
      expectStatus(ctx, noId, 'INVALID_ARGUMENT', { ids: ['CSI-NODE-044'], what: 'NodeGetVolumeStats without volume_id' });
      const noPath = await callNode(ctx, 'nodeGetVolumeStats', { volumeId: unknownVolumeId(ctx), volumePath: '', stagingTargetPath: '' });
      expectStatus(ctx, noPath, 'INVALID_ARGUMENT', { ids: ['CSI-NODE-044'], what: 'NodeGetVolumeStats without volume_path' });
    },
  });

  suite.declare({
    ids: ['CSI-NODE-045'],
    title: 'NodeGetVolumeStats of a volume that does not exist fails with NOT_FOUND',
    needs: { capabilities: [reportsStats] },
    async run(ctx: Ctx) {
      const somePath = await makeTargetPath(ctx);
      const volumeId = unknownVolumeId(ctx);
      const answer = await callNode(ctx, 'nodeGetVolumeStats', { volumeId, volumePath: somePath, stagingTargetPath: '' });
      expectStatus(ctx, answer, 'NOT_FOUND', { ids: ['CSI-NODE-045'], what: `NodeGetVolumeStats of unknown volume ${volumeId}` });
    },
  });

  suite.declare({
    ids: ['CSI-NODE-045'],
    title: 'NodeGetVolumeStats of a published volume at a path where it is not fails with NOT_FOUND',
    needs: { capabilities: [reportsStats, createsVolumes] },
    async run(ctx: Ctx) {
      const nodeVolume = await prepareNodeVolume(ctx, { ids: ['CSI-NODE-045'] });
      await publishForCase(ctx, nodeVolume, { ids: ['CSI-NODE-045'] });
      const elsewhere = await makeTargetPath(ctx);
      const answer = await callNode(ctx, 'nodeGetVolumeStats', {
        volumeId: nodeVolume.volume.volumeId,
        volumePath: elsewhere,
        stagingTargetPath: nodeVolume.stagingPath,
      });
      expectStatus(ctx, answer, 'NOT_FOUND', { ids: ['CSI-NODE-045'], what: `NodeGetVolumeStats at ${elsewhere}, where the volume is not` });
    },
  });

  suite.declare({
    ids: ['CSI-NODE-043', 'CSI-NODE-046', 'CSI-NODE-047'],
    title: 'NodeGetVolumeStats of a published volume reports well-formed usage in bytes',
    needs: { capabilities: [reportsStats, createsVolumes] },
    async run(ctx: Ctx) {
      const nodeVolume = await prepareNodeVolume(ctx, { ids: ['CSI-NODE-043'] });
      const targetPath = await publishForCase(ctx, nodeVolume, { ids: ['CSI-NODE-043'] });
      const stats = await callNode(ctx, 'nodeGetVolumeStats', {
        volumeId: nodeVolume.volume.volumeId,
        volumePath: targetPath,
        stagingTargetPath: nodeVolume.stagingPath,
      });
      if (!expectStatus(ctx, stats, 'OK', { ids: ['CSI-NODE-043'], what: 'NodeGetVolumeStats at the target path' }) || !stats.ok) return;
      checkUsage(ctx, stats.response);
      const bytes = stats.response.usage.find((usage) => usage.unit === VolumeUsage_Unit.BYTES);
      ctx.check(bytes !== undefined && bytes.total > 0n, {
        ids: ['CSI-NODE-047'],
        what: 'the usage of a mounted volume includes BYTES with a positive total',
        expected: 'a BYTES entry, total > 0',
        got: stats.response.usage,
      });
    },
  });

  suite.declare({
    ids: ['CSI-NODE-048'],
    title: 'NodeGetVolumeStats answers for the staging path of a staged volume',
    needs: { capabilities: [reportsStats, 'node.STAGE_UNSTAGE_VOLUME', createsVolumes] },
    async run(ctx: Ctx) {
      const nodeVolume = await prepareNodeVolume(ctx, { ids: ['CSI-NODE-048'] });
      const stats = await callNode(ctx, 'nodeGetVolumeStats', {
        volumeId: nodeVolume.volume.volumeId,
        volumePath: nodeVolume.stagingPath,
        stagingTargetPath: nodeVolume.stagingPath,
      });
      expectStatus(ctx, stats, 'OK', { ids: ['CSI-NODE-048'], what: 'NodeGetVolumeStats with volume_path set to the staging path' });
    },
  });

  suite.declare({
    ids: ['CSI-NODE-043', 'CSI-NODE-049', 'CSI-NODE-050'],
    title: 'A plugin with VOLUME_CONDITION reports a published volume as normal, with a message',
    needs: { capabilities: ['node.VOLUME_CONDITION', createsVolumes] },
    async run(ctx: Ctx) {
      const nodeVolume = await prepareNodeVolume(ctx, { ids: ['CSI-NODE-049'] });
      const targetPath = await publishForCase(ctx, nodeVolume, { ids: ['CSI-NODE-049'] });
      const stats = await callNode(ctx, 'nodeGetVolumeStats', {
        volumeId: nodeVolume.volume.volumeId,
        volumePath: targetPath,
        stagingTargetPath: nodeVolume.stagingPath,
      });
      ctx.require(stats.ok, { ids: ['CSI-NODE-043'], what: 'NodeGetVolumeStats at the target path succeeds', expected: 'OK', got: describeOutcome(stats) });
      const condition = stats.response.volumeCondition;
      ctx.check(condition !== undefined && condition.message !== '', {
        ids: ['CSI-NODE-049'],
        what: 'the answer carries volume_condition with a message',
        expected: '{ abnormal, message: non-empty }',
        got: condition ?? null,
      });
      ctx.check(condition?.abnormal === false, {
        ids: ['CSI-NODE-050'],
        what: 'the working, just-published volume is not abnormal',
        expected: 'abnormal: false',
        got: condition ?? null,
      });
    },
  });
}

function checkUsage(ctx: Ctx, response: NodeGetVolumeStatsResponse): void {
  const malformed = response.usage.filter(
    (usage) =>
      (usage.unit !== VolumeUsage_Unit.BYTES && usage.unit !== VolumeUsage_Unit.INODES) ||
      usage.total < 0n ||
      usage.used < 0n ||
      usage.available < 0n,
  );
  ctx.check(malformed.length === 0, {
    ids: ['CSI-NODE-046'],
    what: 'every usage entry has unit BYTES or INODES and no negative figure',
    expected: 'unit BYTES | INODES; total, used, available >= 0',
    got: response.usage,
  });
}
