import type { CaseContext, Suite } from '../framework/index.js';
import { callController } from './csi-calls.js';
import type { CsiSubject } from './csi-subject.js';
import {
  advertises,
  deferDeleteVolume,
  deleteVolume,
  expectStatus,
  unknownVolumeId,
} from './controller-expect.js';
import { describeOutcome } from './expect-status.js';
import { createTestVolume, createVolumeRequest, mountCapability, secretsFor } from './test-volumes.js';
import { volumeExists } from './volume-presence.js';

type Ctx = CaseContext<CsiSubject>;

const createDelete = 'controller.CREATE_DELETE_VOLUME';

/** Declares the DeleteVolume cases (CSI-CTRL-025…028). */
export function declareDeleteVolumeCases(suite: Suite<CsiSubject>): void {
  suite.declare({
    ids: ['CSI-GEN-004'],
    title: 'DeleteVolume refuses a request without a volume ID with INVALID_ARGUMENT',
    needs: { capabilities: [createDelete] },
    async run(ctx: Ctx) {
      const deleted = await deleteVolume(ctx, '');
      expectStatus(ctx, deleted, { what: 'DeleteVolume with an empty volume_id is refused', codes: ['INVALID_ARGUMENT'] });
    },
  });

  suite.declare({
    ids: ['CSI-CTRL-026'],
    title: 'DeleteVolume of a volume that does not exist, or no longer does, answers OK',
    needs: { capabilities: [createDelete] },
    async run(ctx: Ctx) {
      const unknown = await deleteVolume(ctx, unknownVolumeId(ctx));
      expectStatus(ctx, unknown, { what: 'DeleteVolume of an ID the plugin never issued answers OK', codes: ['OK'] });
      const created = await callController(ctx, 'createVolume', createVolumeRequest(ctx));
      ctx.require(created.ok && created.response.volume !== undefined, {
        what: 'CreateVolume succeeds',
        expected: 'OK',
        got: describeOutcome(created),
      });
      deferDeleteVolume(ctx, created.response.volume);
      const { volumeId } = created.response.volume;
      for (const attempt of ['first', 'second', 'third']) {
        expectStatus(ctx, await deleteVolume(ctx, volumeId), { what: `the ${attempt} DeleteVolume of one volume answers OK`, codes: ['OK'] });
      }
    },
  });

  suite.declare({
    ids: ['CSI-CTRL-025'],
    title: 'A deleted volume is gone',
    needs: { capabilities: [createDelete] },
    async run(ctx: Ctx) {
      const created = await callController(ctx, 'createVolume', createVolumeRequest(ctx));
      ctx.require(created.ok && created.response.volume !== undefined, { ids: ['CSI-CTRL-025'], what: 'CreateVolume succeeds', expected: 'OK', got: describeOutcome(created) });
      deferDeleteVolume(ctx, created.response.volume);
      const { volumeId } = created.response.volume;
      const deleted = await deleteVolume(ctx, volumeId);
      ctx.require(deleted.ok, { ids: ['CSI-CTRL-025'], what: 'DeleteVolume succeeds', expected: 'OK', got: describeOutcome(deleted) });
      const exists = await volumeExists(ctx, volumeId, ['CSI-CTRL-025']);
      if (exists === undefined) ctx.skip('the plugin offers no way to see whether a volume exists (ListVolumes, ControllerGetVolume or a NOT_FOUND from ValidateVolumeCapabilities)');
      ctx.check(!exists, {
        what: 'the plugin no longer knows the deleted volume',
        expected: `no volume ${volumeId}`,
        got: exists ? 'still there' : 'gone',
      });
    },
  });

  suite.declare({
    ids: ['CSI-CTRL-027', 'CSI-CTRL-028'],
    title: 'Deleting a volume with a snapshot leaves the snapshot usable, or is refused with FAILED_PRECONDITION',
    needs: { capabilities: [createDelete, 'controller.CREATE_DELETE_SNAPSHOT'] },
    async run(ctx: Ctx) {
      const source = await createTestVolume(ctx, { ids: ['CSI-CTRL-027'] });
      const snapshot = await callController(ctx, 'createSnapshot', {
        sourceVolumeId: source.volumeId,
        name: ctx.uniqueName('kubeplug-snap'),
        secrets: secretsFor(ctx, 'CreateSnapshotSecret'),
        parameters: {},
      });
      ctx.require(snapshot.ok && snapshot.response.snapshot !== undefined, {
        ids: ['CSI-CTRL-027'],
        what: 'CreateSnapshot succeeds',
        expected: 'OK',
        got: describeOutcome(snapshot),
      });
      const { snapshotId } = snapshot.response.snapshot;
      ctx.defer(() => callController(ctx, 'deleteSnapshot', { snapshotId, secrets: secretsFor(ctx, 'DeleteSnapshotSecret') }), `delete snapshot ${snapshotId}`);
      const deleted = await deleteVolume(ctx, source.volumeId);
      ctx.check(deleted.ok, { ids: ['CSI-CTRL-028'], what: 'DeleteVolume of a volume with a snapshot succeeds', expected: 'OK', got: describeOutcome(deleted) });
      if (!deleted.ok) {
        ctx.check(deleted.error.code === 'FAILED_PRECONDITION', {
          ids: ['CSI-CTRL-027'],
          what: 'a refused DeleteVolume of a volume with a snapshot answers FAILED_PRECONDITION',
          expected: 'FAILED_PRECONDITION',
          got: describeOutcome(deleted),
        });
        const still = await callController(ctx, 'validateVolumeCapabilities', {
          volumeId: source.volumeId,
          volumeContext: source.volumeContext,
          volumeCapabilities: [mountCapability()],
          parameters: {},
          secrets: secretsFor(ctx, 'ControllerValidateVolumeCapabilitiesSecret'),
          mutableParameters: {},
        });
        expectStatus(ctx, still, { ids: ['CSI-CTRL-027'], what: 'the volume whose deletion was refused still exists', codes: ['OK'] });
        return;
      }
      const restored = await callController(
        ctx,
        'createVolume',
        createVolumeRequest(ctx, { volumeContentSource: { type: { $case: 'snapshot', value: { snapshotId } } } }),
      );
      if (restored.ok) deferDeleteVolume(ctx, restored.response.volume);
      expectStatus(ctx, restored, {
        ids: ['CSI-CTRL-027'],
        what: 'the snapshot of the deleted volume is still a source for a new volume',
        codes: ['OK'],
      });
      if (advertises(ctx, 'controller.LIST_SNAPSHOTS')) {
        const listed = await callController(ctx, 'listSnapshots', {
          maxEntries: 0,
          startingToken: '',
          sourceVolumeId: '',
          snapshotId,
          secrets: secretsFor(ctx, 'ListSnapshotsSecret'),
        });
        const found = listed.ok && listed.response.entries.some((entry) => entry.snapshot?.snapshotId === snapshotId);
        ctx.check(found, {
          ids: ['CSI-CTRL-027'],
          what: 'ListSnapshots still lists the snapshot of the deleted volume',
          expected: snapshotId,
          got: listed.ok ? listed.response.entries : describeOutcome(listed),
        });
      }
    },
  });
}
