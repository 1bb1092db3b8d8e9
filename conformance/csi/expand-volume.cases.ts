import {
  ControllerExpandVolumeRequest,
  NodePublishVolumeRequest,
  NodeStageVolumeRequest,
  VolumeCapability_AccessMode_Mode,
  type CapacityRange,
  type Volume,
} from '../../specs/csi/index.js';
import type { CaseContext, Suite } from '../framework/index.js';
import { callController, callNode } from './csi-calls.js';
import type { CsiSubject } from './csi-subject.js';
import { advertises, expectStatus, unknownVolumeId } from './controller-expect.js';
import { describeOutcome } from './expect-status.js';
import { publishedTestVolume } from './controller-publish.cases.js';
import {
  createTestVolume,
  deferNodeUnpublish,
  deferNodeUnstage,
  makeStagingPath,
  makeTargetPath,
  mountCapability,
  secretsFor,
} from './test-volumes.js';

type Ctx = CaseContext<CsiSubject>;

const expanding = 'controller.EXPAND_VOLUME';
const createDelete = 'controller.CREATE_DELETE_VOLUME';

function expandRequest(ctx: Ctx, volumeId: string, capacityRange: CapacityRange | undefined): ControllerExpandVolumeRequest {
  return ControllerExpandVolumeRequest.fromPartial({
    volumeId,
    capacityRange,
    secrets: secretsFor(ctx, 'ControllerExpandVolumeSecret'),
    volumeCapability: mountCapability(),
  });
}

function size(ctx: Ctx): bigint {
  return BigInt(ctx.subject.config.testVolumeSizeBytes);
}

/**
 * Makes a volume "published at a node" the way the plugin's capabilities
 * say a CO would: ControllerPublishVolume when offered, else NodeStageVolume
 * (when offered) and NodePublishVolume, which need root to mount.
 */
async function volumeInUse(ctx: Ctx, ids: readonly string[]): Promise<Volume> {
  if (advertises(ctx, 'controller.PUBLISH_UNPUBLISH_VOLUME')) return (await publishedTestVolume(ctx, ids)).volume;
  if (process.getuid?.() !== 0) ctx.skip('needs root to publish the volume on the node (the plugin has no ControllerPublishVolume)');
  const volume = await createTestVolume(ctx, { ids });
  let stagingTargetPath = '';
  if (advertises(ctx, 'node.STAGE_UNSTAGE_VOLUME')) {
    stagingTargetPath = await makeStagingPath(ctx);
    deferNodeUnstage(ctx, volume.volumeId, stagingTargetPath);
    const staged = await callNode(
      ctx,
      'nodeStageVolume',
      NodeStageVolumeRequest.fromPartial({
        volumeId: volume.volumeId,
        stagingTargetPath,
        volumeCapability: mountCapability(),
        secrets: secretsFor(ctx, 'NodeStageVolumeSecret'),
        volumeContext: volume.volumeContext,
      }),
    );
    ctx.require(staged.ok, { ids, what: 'NodeStageVolume succeeds', expected: 'OK', got: describeOutcome(staged) });
  }
  const targetPath = await makeTargetPath(ctx);
  deferNodeUnpublish(ctx, volume.volumeId, targetPath);
  const published = await callNode(
    ctx,
    'nodePublishVolume',
    NodePublishVolumeRequest.fromPartial({
      volumeId: volume.volumeId,
      stagingTargetPath,
      targetPath,
      volumeCapability: mountCapability(),
      secrets: secretsFor(ctx, 'NodePublishVolumeSecret'),
      volumeContext: volume.volumeContext,
    }),
  );
  ctx.require(published.ok, { ids, what: 'NodePublishVolume succeeds', expected: 'OK', got: describeOutcome(published) });
  return volume;
}

/** Declares the ControllerExpandVolume cases (CSI-CTRL-054…061). */
export function declareExpandVolumeCases(suite: Suite<CsiSubject>): void {
  suite.declare({
    ids: ['CSI-GEN-004'],
    title: 'ControllerExpandVolume refuses a request without a volume ID or a capacity range with INVALID_ARGUMENT',
    needs: { capabilities: [expanding, createDelete] },
    async run(ctx: Ctx) {
      const noId = await callController(ctx, 'controllerExpandVolume', expandRequest(ctx, '', { requiredBytes: 2n * size(ctx), limitBytes: 0n }));
      expectStatus(ctx, noId, { what: 'ControllerExpandVolume with no volume_id is refused', codes: ['INVALID_ARGUMENT'] });
      const volume = await createTestVolume(ctx, { ids: ['CSI-GEN-004'] });
      const noRange = await callController(ctx, 'controllerExpandVolume', expandRequest(ctx, volume.volumeId, undefined));
      expectStatus(ctx, noRange, { what: 'ControllerExpandVolume with no capacity_range is refused', codes: ['INVALID_ARGUMENT'] });
    },
  });

  suite.declare({
    ids: ['CSI-CTRL-054', 'CSI-CTRL-055', 'CSI-CTRL-056', 'CSI-CTRL-061'],
    title: 'ControllerExpandVolume grows a volume, succeeds again when repeated, and leaves a large enough volume alone',
    needs: { capabilities: [expanding, createDelete] },
    async run(ctx: Ctx) {
      const volume = await createTestVolume(ctx, { ids: ['CSI-CTRL-054'] });
      const target = { requiredBytes: 2n * size(ctx), limitBytes: 0n };
      const grown = await callController(ctx, 'controllerExpandVolume', expandRequest(ctx, volume.volumeId, target));
      ctx.require(grown.ok, { ids: ['CSI-CTRL-054'], what: 'ControllerExpandVolume to twice the size succeeds', expected: 'OK', got: describeOutcome(grown) });
      ctx.check(grown.response.capacityBytes >= target.requiredBytes, {
        ids: ['CSI-CTRL-054'],
        what: 'the reported capacity is at least the requested size',
        expected: `>= ${target.requiredBytes}`,
        got: grown.response.capacityBytes,
      });
      ctx.check(!grown.response.nodeExpansionRequired || advertises(ctx, 'node.EXPAND_VOLUME'), {
        ids: ['CSI-CTRL-061'],
        what: 'node_expansion_required is set only when the node offers EXPAND_VOLUME',
        expected: advertises(ctx, 'node.EXPAND_VOLUME') ? 'either' : 'false (no node.EXPAND_VOLUME)',
        got: grown.response.nodeExpansionRequired,
      });
      const again = await callController(ctx, 'controllerExpandVolume', expandRequest(ctx, volume.volumeId, target));
      ctx.check(again.ok && again.response.capacityBytes >= target.requiredBytes, {
        ids: ['CSI-CTRL-055'],
        what: 'repeating the expansion succeeds with the same size or more',
        expected: `OK with >= ${target.requiredBytes}`,
        got: again.ok ? again.response.capacityBytes : describeOutcome(again),
      });
      const smaller = await callController(ctx, 'controllerExpandVolume', expandRequest(ctx, volume.volumeId, { requiredBytes: size(ctx), limitBytes: 0n }));
      expectStatus(ctx, smaller, { ids: ['CSI-CTRL-056'], what: 'expanding to less than the current size answers OK', codes: ['OK'] });
    },
  });

  suite.declare({
    ids: ['CSI-CTRL-057'],
    title: 'ControllerExpandVolume of a volume that does not exist is refused with NOT_FOUND',
    needs: { capabilities: [expanding] },
    async run(ctx: Ctx) {
      const expanded = await callController(
        ctx,
        'controllerExpandVolume',
        expandRequest(ctx, unknownVolumeId(ctx), { requiredBytes: 2n * size(ctx), limitBytes: 0n }),
      );
      expectStatus(ctx, expanded, { what: 'ControllerExpandVolume of an unknown volume is refused', codes: ['NOT_FOUND'] });
    },
  });

  suite.declare({
    ids: ['CSI-CTRL-058', 'CSI-CTRL-060'],
    title: 'ControllerExpandVolume refuses an UNKNOWN access mode with INVALID_ARGUMENT and a limit below the requirement with OUT_OF_RANGE',
    needs: { capabilities: [expanding, createDelete] },
    async run(ctx: Ctx) {
      const volume = await createTestVolume(ctx, { ids: ['CSI-CTRL-058', 'CSI-CTRL-060'] });
      const badCapability = await callController(ctx, 'controllerExpandVolume', {
        ...expandRequest(ctx, volume.volumeId, { requiredBytes: 2n * size(ctx), limitBytes: 0n }),
        volumeCapability: mountCapability(VolumeCapability_AccessMode_Mode.UNKNOWN),
      });
      expectStatus(ctx, badCapability, {
        ids: ['CSI-CTRL-058'],
        what: 'ControllerExpandVolume with a capability of access mode UNKNOWN is refused',
        codes: ['INVALID_ARGUMENT'],
      });
      const contradictory = await callController(
        ctx,
        'controllerExpandVolume',
        expandRequest(ctx, volume.volumeId, { requiredBytes: 3n * size(ctx), limitBytes: 2n * size(ctx) }),
      );
      expectStatus(ctx, contradictory, {
        ids: ['CSI-CTRL-060'],
        what: 'ControllerExpandVolume with limit_bytes below required_bytes is refused',
        codes: ['OUT_OF_RANGE', 'INVALID_ARGUMENT'],
      });
    },
  });

  suite.declare({
    ids: ['CSI-CTRL-059'],
    title: 'Without ONLINE expansion, ControllerExpandVolume of a published volume is refused with FAILED_PRECONDITION',
    needs: { capabilities: [expanding, createDelete] },
    async run(ctx: Ctx) {
      if (advertises(ctx, 'plugin.volume-expansion.ONLINE')) ctx.notApplicable('the plugin expands published volumes (ONLINE)');
      const volume = await volumeInUse(ctx, ['CSI-CTRL-059']);
      const expanded = await callController(
        ctx,
        'controllerExpandVolume',
        expandRequest(ctx, volume.volumeId, { requiredBytes: 2n * size(ctx), limitBytes: 0n }),
      );
      expectStatus(ctx, expanded, { what: 'ControllerExpandVolume of a published volume is refused', codes: ['FAILED_PRECONDITION'] });
    },
  });
}
