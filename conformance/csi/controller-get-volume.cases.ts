import type { CaseContext, Suite } from '../framework/index.js';
import { callController } from './csi-calls.js';
import type { CsiSubject } from './csi-subject.js';
import {
  byteLength,
  deferDeleteVolume,
  deleteVolume,
  expectStatus,
  sameMap,
  stringLimitBytes,
  unknownVolumeId,
} from './controller-expect.js';
import { describeOutcome } from './expect-status.js';
import { publishedTestVolume } from './controller-publish.cases.js';
import { createTestVolume, createVolumeRequest } from './test-volumes.js';

type Ctx = CaseContext<CsiSubject>;

const getVolume = 'controller.GET_VOLUME';
const createDelete = 'controller.CREATE_DELETE_VOLUME';

/** Declares the ControllerGetVolume cases (CSI-CTRL-062…065). */
export function declareControllerGetVolumeCases(suite: Suite<CsiSubject>): void {
  suite.declare({
    ids: ['CSI-GEN-004', 'CSI-CTRL-063'],
    title: 'ControllerGetVolume refuses a missing volume ID with INVALID_ARGUMENT and an unknown one with NOT_FOUND',
    needs: { capabilities: [getVolume] },
    async run(ctx: Ctx) {
      const missing = await callController(ctx, 'controllerGetVolume', { volumeId: '' });
      expectStatus(ctx, missing, { ids: ['CSI-GEN-004'], what: 'ControllerGetVolume with no volume_id is refused', codes: ['INVALID_ARGUMENT'] });
      const unknown = await callController(ctx, 'controllerGetVolume', { volumeId: unknownVolumeId(ctx) });
      expectStatus(ctx, unknown, { ids: ['CSI-CTRL-063'], what: 'ControllerGetVolume of an unknown volume is refused', codes: ['NOT_FOUND'] });
    },
  });

  suite.declare({
    ids: ['CSI-CTRL-062', 'CSI-CTRL-024', 'CSI-GEN-013'],
    title: 'ControllerGetVolume describes a volume as CreateVolume returned it, with a status',
    needs: { capabilities: [getVolume, createDelete] },
    async run(ctx: Ctx) {
      const volume = await createTestVolume(ctx, { ids: ['CSI-CTRL-062'] });
      const got = await callController(ctx, 'controllerGetVolume', { volumeId: volume.volumeId });
      ctx.require(got.ok, { ids: ['CSI-CTRL-062'], what: 'ControllerGetVolume of a new volume succeeds', expected: 'OK', got: describeOutcome(got) });
      ctx.check(got.response.volume !== undefined && got.response.status !== undefined, {
        ids: ['CSI-GEN-013'],
        what: 'the answer carries a volume and a status',
        expected: 'volume and status set',
        got: got.response,
      });
      ctx.check(got.response.volume?.volumeId === volume.volumeId, {
        ids: ['CSI-CTRL-062'],
        what: 'the answer describes the volume asked about',
        expected: volume.volumeId,
        got: got.response.volume?.volumeId,
      });
      ctx.check(sameMap(got.response.volume?.volumeContext ?? {}, volume.volumeContext), {
        ids: ['CSI-CTRL-024'],
        what: 'the volume_context is the one CreateVolume returned',
        expected: volume.volumeContext,
        got: got.response.volume?.volumeContext,
      });
    },
  });

  suite.declare({
    ids: ['CSI-CTRL-063'],
    title: 'ControllerGetVolume of a deleted volume is refused with NOT_FOUND',
    needs: { capabilities: [getVolume, createDelete] },
    async run(ctx: Ctx) {
      const created = await callController(ctx, 'createVolume', createVolumeRequest(ctx));
      ctx.require(created.ok && created.response.volume !== undefined, { what: 'CreateVolume succeeds', expected: 'OK', got: describeOutcome(created) });
      deferDeleteVolume(ctx, created.response.volume);
      const { volumeId } = created.response.volume;
      const deleted = await deleteVolume(ctx, volumeId);
      ctx.require(deleted.ok, { what: 'DeleteVolume succeeds', expected: 'OK', got: describeOutcome(deleted) });
      const got = await callController(ctx, 'controllerGetVolume', { volumeId });
      expectStatus(ctx, got, { what: 'ControllerGetVolume of the deleted volume is refused', codes: ['NOT_FOUND'] });
    },
  });

  suite.declare({
    ids: ['CSI-CTRL-064'],
    title: 'ControllerGetVolume reports the condition of a volume',
    needs: { capabilities: [getVolume, createDelete, 'controller.VOLUME_CONDITION'] },
    async run(ctx: Ctx) {
      const volume = await createTestVolume(ctx, { ids: ['CSI-CTRL-064'] });
      const got = await callController(ctx, 'controllerGetVolume', { volumeId: volume.volumeId });
      const condition = got.ok ? got.response.status?.volumeCondition : undefined;
      ctx.check(condition !== undefined && condition.message !== '' && byteLength(condition.message) <= stringLimitBytes, {
        what: 'status.volume_condition is set with a message of at most 128 bytes',
        expected: 'volume_condition { abnormal, message }',
        got: got.ok ? got.response.status : describeOutcome(got),
      });
    },
  });

  suite.declare({
    ids: ['CSI-CTRL-065'],
    title: 'ControllerGetVolume reports the node a volume is published at',
    needs: { capabilities: [getVolume, createDelete, 'controller.PUBLISH_UNPUBLISH_VOLUME', 'controller.LIST_VOLUMES_PUBLISHED_NODES'] },
    async run(ctx: Ctx) {
      const { volume, nodeId } = await publishedTestVolume(ctx, ['CSI-CTRL-065']);
      const got = await callController(ctx, 'controllerGetVolume', { volumeId: volume.volumeId });
      ctx.check(got.ok && got.response.status?.publishedNodeIds.includes(nodeId) === true, {
        what: 'status.published_node_ids lists the node',
        expected: nodeId,
        got: got.ok ? got.response.status : describeOutcome(got),
      });
    },
  });
}
