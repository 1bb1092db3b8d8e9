import { ControllerPublishVolumeRequest, type Volume } from '../../specs/csi/index.js';
import type { CaseContext, Suite } from '../framework/index.js';
import { callController } from './csi-calls.js';
import type { CsiSubject } from './csi-subject.js';
import {
  advertises,
  deferControllerUnpublish,
  expectStatus,
  mapLimitProblems,
  nodeIdOf,
  sameMap,
  unknownVolumeId,
} from './controller-expect.js';
import { describeOutcome } from './expect-status.js';
import { createTestVolume, mountCapability, secretsFor } from './test-volumes.js';

type Ctx = CaseContext<CsiSubject>;

const publishing = 'controller.PUBLISH_UNPUBLISH_VOLUME';
const createDelete = 'controller.CREATE_DELETE_VOLUME';

/** ControllerPublishVolume of a volume at a node, as the CO sends it (volume context passed on). */
export function publishRequest(ctx: Ctx, volume: Volume, nodeId: string, readonly = false): ControllerPublishVolumeRequest {
  return {
    volumeId: volume.volumeId,
    nodeId,
    volumeCapability: mountCapability(),
    readonly,
    secrets: secretsFor(ctx, 'ControllerPublishVolumeSecret'),
    volumeContext: volume.volumeContext,
  };
}

/** ControllerUnpublishVolume with the run's secrets. */
export function unpublish(ctx: Ctx, volumeId: string, nodeId: string): ReturnType<typeof callController<'controllerUnpublishVolume'>> {
  return callController(ctx, 'controllerUnpublishVolume', { volumeId, nodeId, secrets: secretsFor(ctx, 'ControllerUnpublishVolumeSecret') });
}

/** Publishes a fresh volume at the suite's node; the unpublish is registered first. */
export async function publishedTestVolume(ctx: Ctx, ids: readonly string[]): Promise<{ volume: Volume; nodeId: string }> {
  const volume = await createTestVolume(ctx, { ids });
  const { nodeId } = await nodeIdOf(ctx, ids);
  deferControllerUnpublish(ctx, volume.volumeId, nodeId);
  const published = await callController(ctx, 'controllerPublishVolume', publishRequest(ctx, volume, nodeId));
  ctx.require(published.ok, { ids, what: 'ControllerPublishVolume at the node succeeds', expected: 'OK', got: describeOutcome(published) });
  return { volume, nodeId };
}

/** Declares the ControllerPublishVolume and ControllerUnpublishVolume cases (CSI-CTRL-029…041). */
export function declareControllerPublishCases(suite: Suite<CsiSubject>): void {
  suite.declare({
    ids: ['CSI-GEN-004'],
    title: 'ControllerPublishVolume and ControllerUnpublishVolume refuse requests missing a required field with INVALID_ARGUMENT',
    needs: { capabilities: [publishing] },
    async run(ctx: Ctx) {
      const secrets = secretsFor(ctx, 'ControllerPublishVolumeSecret');
      const volumeId = unknownVolumeId(ctx);
      const cases: [string, ControllerPublishVolumeRequest][] = [
        ['no volume_id', ControllerPublishVolumeRequest.fromPartial({ nodeId: 'kubeplug-node', volumeCapability: mountCapability(), secrets })],
        ['no node_id', ControllerPublishVolumeRequest.fromPartial({ volumeId, volumeCapability: mountCapability(), secrets })],
        ['no volume_capability', ControllerPublishVolumeRequest.fromPartial({ volumeId, nodeId: 'kubeplug-node', secrets })],
      ];
      for (const [what, request] of cases) {
        const published = await callController(ctx, 'controllerPublishVolume', request);
        expectStatus(ctx, published, { ids: ['CSI-GEN-004'], what: `ControllerPublishVolume with ${what} is refused`, codes: ['INVALID_ARGUMENT'] });
      }
      const unpublished = await unpublish(ctx, '', 'kubeplug-node');
      expectStatus(ctx, unpublished, { ids: ['CSI-GEN-004'], what: 'ControllerUnpublishVolume with no volume_id is refused', codes: ['INVALID_ARGUMENT'] });
    },
  });

  suite.declare({
    ids: ['CSI-CTRL-029', 'CSI-CTRL-030', 'CSI-CTRL-038', 'CSI-GEN-012'],
    title: 'A volume is published at the node, again with the same context, and unpublished twice',
    needs: { capabilities: [publishing, createDelete] },
    async run(ctx: Ctx) {
      const volume = await createTestVolume(ctx, { ids: ['CSI-CTRL-029'] });
      const { nodeId } = await nodeIdOf(ctx, ['CSI-CTRL-029']);
      deferControllerUnpublish(ctx, volume.volumeId, nodeId);
      const first = await callController(ctx, 'controllerPublishVolume', publishRequest(ctx, volume, nodeId));
      ctx.require(first.ok, { ids: ['CSI-CTRL-029'], what: 'ControllerPublishVolume at the node succeeds', expected: 'OK', got: describeOutcome(first) });
      const problems = mapLimitProblems('publish_context', first.response.publishContext);
      ctx.check(problems.length === 0, { ids: ['CSI-GEN-012'], what: 'publish_context stays within the size limits', expected: 'within limits', got: problems });
      const again = await callController(ctx, 'controllerPublishVolume', publishRequest(ctx, volume, nodeId));
      ctx.check(again.ok && sameMap(first.response.publishContext, again.response.publishContext), {
        ids: ['CSI-CTRL-030'],
        what: 'publishing again the same way succeeds with the same publish_context',
        expected: { status: 'OK', publishContext: first.response.publishContext },
        got: again.ok ? { status: 'OK', publishContext: again.response.publishContext } : describeOutcome(again),
      });
      expectStatus(ctx, await unpublish(ctx, volume.volumeId, nodeId), { ids: ['CSI-CTRL-029'], what: 'ControllerUnpublishVolume succeeds', codes: ['OK'] });
      expectStatus(ctx, await unpublish(ctx, volume.volumeId, nodeId), {
        ids: ['CSI-CTRL-038'],
        what: 'ControllerUnpublishVolume of a volume no longer published there answers OK',
        codes: ['OK'],
      });
    },
  });

  suite.declare({
    ids: ['CSI-CTRL-031'],
    title: 'ControllerPublishVolume of a volume that does not exist is refused with NOT_FOUND',
    needs: { capabilities: [publishing] },
    async run(ctx: Ctx) {
      const { nodeId } = await nodeIdOf(ctx, ['CSI-CTRL-031']);
      const volumeId = unknownVolumeId(ctx);
      deferControllerUnpublish(ctx, volumeId, nodeId);
      const published = await callController(ctx, 'controllerPublishVolume', {
        ...publishRequest(ctx, { volumeId, volumeContext: {}, capacityBytes: 0n, accessibleTopology: [] }, nodeId),
      });
      expectStatus(ctx, published, { what: 'ControllerPublishVolume of an unknown volume is refused', codes: ['NOT_FOUND'] });
    },
  });

  suite.declare({
    ids: ['CSI-CTRL-032'],
    title: 'ControllerPublishVolume to a node that does not exist is refused with NOT_FOUND',
    needs: { capabilities: [publishing, createDelete] },
    async run(ctx: Ctx) {
      const volume = await createTestVolume(ctx, { ids: ['CSI-CTRL-032'] });
      const nodeId = ctx.uniqueName('kubeplug-no-such-node');
      deferControllerUnpublish(ctx, volume.volumeId, nodeId);
      const published = await callController(ctx, 'controllerPublishVolume', publishRequest(ctx, volume, nodeId));
      expectStatus(ctx, published, { what: 'ControllerPublishVolume to an unknown node is refused', codes: ['NOT_FOUND'] });
    },
  });

  suite.declare({
    ids: ['CSI-CTRL-033', 'CSI-CTRL-037'],
    title: 'A read-only publish is served, and republishing with the other readonly flag is refused with ALREADY_EXISTS',
    needs: { capabilities: [publishing, createDelete, 'controller.PUBLISH_READONLY'] },
    async run(ctx: Ctx) {
      const { volume, nodeId } = await publishedTestVolume(ctx, ['CSI-CTRL-033']);
      const flipped = await callController(ctx, 'controllerPublishVolume', publishRequest(ctx, volume, nodeId, true));
      expectStatus(ctx, flipped, {
        ids: ['CSI-CTRL-033'],
        what: 'publishing a volume published read-write again read-only, at the same node, is refused',
        codes: ['ALREADY_EXISTS'],
      });
      const readOnlyVolume = await createTestVolume(ctx, { ids: ['CSI-CTRL-037'] });
      deferControllerUnpublish(ctx, readOnlyVolume.volumeId, nodeId);
      const readOnly = await callController(ctx, 'controllerPublishVolume', publishRequest(ctx, readOnlyVolume, nodeId, true));
      expectStatus(ctx, readOnly, { ids: ['CSI-CTRL-037'], what: 'ControllerPublishVolume with readonly set succeeds', codes: ['OK'] });
    },
  });

  suite.declare({
    ids: ['CSI-CTRL-036'],
    title: "Publishing past the node's max_volumes_per_node is refused with RESOURCE_EXHAUSTED",
    needs: { capabilities: [publishing, createDelete] },
    timeoutMs: 60_000,
    async run(ctx: Ctx) {
      const { nodeId, maxVolumes } = await nodeIdOf(ctx, ['CSI-CTRL-036']);
      if (maxVolumes <= 0) ctx.notApplicable('NodeGetInfo sets no max_volumes_per_node');
      if (maxVolumes > 50) ctx.skip(`max_volumes_per_node is ${maxVolumes}; the suite publishes at most 50 volumes`);
      for (let index = 0; index < maxVolumes; index += 1) {
        const volume = await createTestVolume(ctx, { ids: ['CSI-CTRL-036'] });
        deferControllerUnpublish(ctx, volume.volumeId, nodeId);
        const published = await callController(ctx, 'controllerPublishVolume', publishRequest(ctx, volume, nodeId));
        ctx.require(published.ok, { what: `publishing volume ${index + 1} of ${maxVolumes} succeeds`, expected: 'OK', got: describeOutcome(published) });
      }
      const extra = await createTestVolume(ctx, { ids: ['CSI-CTRL-036'] });
      deferControllerUnpublish(ctx, extra.volumeId, nodeId);
      const over = await callController(ctx, 'controllerPublishVolume', publishRequest(ctx, extra, nodeId));
      expectStatus(ctx, over, { what: `publishing volume ${maxVolumes + 1} at the node is refused`, codes: ['RESOURCE_EXHAUSTED'] });
    },
  });

  suite.declare({
    ids: ['CSI-CTRL-039', 'CSI-CTRL-040'],
    title: 'ControllerUnpublishVolume of an unknown volume or from an unknown node answers OK',
    needs: { capabilities: [publishing, createDelete] },
    async run(ctx: Ctx) {
      const { nodeId } = await nodeIdOf(ctx, ['CSI-CTRL-039']);
      const volume = await createTestVolume(ctx, { ids: ['CSI-CTRL-039'] });
      const attempts: [string, string, string][] = [
        ['an unknown volume from the node', unknownVolumeId(ctx), nodeId],
        ['a volume from an unknown node', volume.volumeId, ctx.uniqueName('kubeplug-no-such-node')],
      ];
      for (const [what, volumeId, node] of attempts) {
        const outcome = await unpublish(ctx, volumeId, node);
        expectStatus(ctx, outcome, { ids: ['CSI-CTRL-039'], what: `ControllerUnpublishVolume of ${what} answers OK or NOT_FOUND`, codes: ['OK', 'NOT_FOUND'] });
        expectStatus(ctx, outcome, { ids: ['CSI-CTRL-040'], what: `ControllerUnpublishVolume of ${what} answers OK`, codes: ['OK'] });
      }
    },
  });

  suite.declare({
    ids: ['CSI-CTRL-041'],
    title: 'ControllerUnpublishVolume without a node ID unpublishes the volume from every node',
    needs: { capabilities: [publishing, createDelete] },
    async run(ctx: Ctx) {
      const { volume } = await publishedTestVolume(ctx, ['CSI-CTRL-041']);
      expectStatus(ctx, await unpublish(ctx, volume.volumeId, ''), { what: 'ControllerUnpublishVolume with an empty node_id succeeds', codes: ['OK'] });
      if (!advertises(ctx, 'controller.LIST_VOLUMES_PUBLISHED_NODES')) return;
      if (advertises(ctx, 'controller.GET_VOLUME')) {
        const got = await callController(ctx, 'controllerGetVolume', { volumeId: volume.volumeId });
        ctx.check(got.ok && (got.response.status?.publishedNodeIds.length ?? 0) === 0, {
          what: 'ControllerGetVolume reports the volume published nowhere',
          expected: 'published_node_ids empty',
          got: got.ok ? got.response.status : describeOutcome(got),
        });
      } else if (advertises(ctx, 'controller.LIST_VOLUMES')) {
        const listed = await callController(ctx, 'listVolumes', { maxEntries: 0, startingToken: '' });
        const entry = listed.ok ? listed.response.entries.find((item) => item.volume?.volumeId === volume.volumeId) : undefined;
        ctx.check(entry !== undefined && (entry.status?.publishedNodeIds.length ?? 0) === 0, {
          what: 'ListVolumes reports the volume published nowhere',
          expected: 'an entry with no published_node_ids',
          got: listed.ok ? entry : describeOutcome(listed),
        });
      }
    },
  });
}
