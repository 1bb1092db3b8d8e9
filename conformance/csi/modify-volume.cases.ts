import type { CaseContext, Suite } from '../framework/index.js';
import { callController } from './csi-calls.js';
import type { CsiSubject } from './csi-subject.js';
import { expectStatus, unknownVolumeId } from './controller-expect.js';
import { createTestVolume, secretsFor } from './test-volumes.js';

type Ctx = CaseContext<CsiSubject>;

const modifying = 'controller.MODIFY_VOLUME';

/** A key no plugin knows, as csi-sanity sends it. */
const fakeParameters = { XXX_FakeKey: 'XXX_FakeValue' };

/** Declares the ControllerModifyVolume cases (CSI-CTRL-066…068). */
export function declareModifyVolumeCases(suite: Suite<CsiSubject>): void {
  suite.declare({
    ids: ['CSI-GEN-004', 'CSI-CTRL-068'],
    title: 'ControllerModifyVolume refuses a missing volume ID with INVALID_ARGUMENT and an unknown one with NOT_FOUND',
    needs: { capabilities: [modifying] },
    async run(ctx: Ctx) {
      const secrets = secretsFor(ctx, 'ControllerModifyVolumeSecret');
      const missing = await callController(ctx, 'controllerModifyVolume', { volumeId: '', secrets, mutableParameters: fakeParameters });
      expectStatus(ctx, missing, { ids: ['CSI-GEN-004'], what: 'ControllerModifyVolume with no volume_id is refused', codes: ['INVALID_ARGUMENT'] });
      const unknown = await callController(ctx, 'controllerModifyVolume', { volumeId: unknownVolumeId(ctx), secrets, mutableParameters: fakeParameters });
      expectStatus(ctx, unknown, { ids: ['CSI-CTRL-068'], what: 'ControllerModifyVolume of an unknown volume is refused', codes: ['NOT_FOUND'] });
    },
  });

  suite.declare({
    ids: ['CSI-CTRL-066', 'CSI-CTRL-067', 'CSI-GEN-004'],
    title: 'ControllerModifyVolume judges a request: no mutable parameters or unknown ones are refused with INVALID_ARGUMENT',
    needs: { capabilities: [modifying, 'controller.CREATE_DELETE_VOLUME'] },
    async run(ctx: Ctx) {
      const volume = await createTestVolume(ctx, { ids: ['CSI-CTRL-066'] });
      const secrets = secretsFor(ctx, 'ControllerModifyVolumeSecret');
      const unknownKey = await callController(ctx, 'controllerModifyVolume', { volumeId: volume.volumeId, secrets, mutableParameters: fakeParameters });
      ctx.check(unknownKey.ok || unknownKey.error.code !== 'UNIMPLEMENTED', {
        ids: ['CSI-CTRL-066'],
        what: 'ControllerModifyVolume is implemented',
        expected: 'any answer but UNIMPLEMENTED',
        got: unknownKey.ok ? 'OK' : unknownKey.error.code,
      });
      expectStatus(ctx, unknownKey, { ids: ['CSI-CTRL-067'], what: 'ControllerModifyVolume with mutable parameter XXX_FakeKey is refused', codes: ['INVALID_ARGUMENT'] });
      const none = await callController(ctx, 'controllerModifyVolume', { volumeId: volume.volumeId, secrets, mutableParameters: {} });
      expectStatus(ctx, none, {
        ids: ['CSI-GEN-004'],
        what: 'ControllerModifyVolume with no mutable_parameters (a required map) is refused',
        codes: ['INVALID_ARGUMENT'],
      });
    },
  });
}
