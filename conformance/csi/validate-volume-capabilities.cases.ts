import {
  VolumeCapability_AccessMode_Mode,
  type ValidateVolumeCapabilitiesRequest,
  type VolumeCapability,
} from '../../specs/csi/index.js';
import type { CaseContext, Suite } from '../framework/index.js';
import { callController } from './csi-calls.js';
import type { CsiSubject } from './csi-subject.js';
import { expectStatus, unknownVolumeId } from './controller-expect.js';
import { describeOutcome } from './expect-status.js';
import { createTestVolume, mountCapability, secretsFor } from './test-volumes.js';

type Ctx = CaseContext<CsiSubject>;

const controllerService = 'plugin.service.CONTROLLER_SERVICE';

/** A ValidateVolumeCapabilities request with the run's secrets. */
function validateRequest(
  ctx: Ctx,
  volumeId: string,
  volumeCapabilities: VolumeCapability[],
  volumeContext: Record<string, string> = {},
): ValidateVolumeCapabilitiesRequest {
  return {
    volumeId,
    volumeContext,
    volumeCapabilities,
    parameters: { ...ctx.subject.config.testVolumeParameters },
    secrets: secretsFor(ctx, 'ControllerValidateVolumeCapabilitiesSecret'),
    mutableParameters: {},
  };
}

/** Declares the ValidateVolumeCapabilities cases (CSI-CTRL-042…045). */
export function declareValidateVolumeCapabilitiesCases(suite: Suite<CsiSubject>): void {
  suite.declare({
    ids: ['CSI-CTRL-042', 'CSI-GEN-004'],
    title: 'ValidateVolumeCapabilities refuses a missing volume ID with INVALID_ARGUMENT and an unknown one with NOT_FOUND',
    needs: { capabilities: [controllerService] },
    async run(ctx: Ctx) {
      const missing = await callController(ctx, 'validateVolumeCapabilities', validateRequest(ctx, '', [mountCapability()]));
      expectStatus(ctx, missing, { ids: ['CSI-GEN-004'], what: 'ValidateVolumeCapabilities with no volume_id is refused', codes: ['INVALID_ARGUMENT'] });
      const unknown = await callController(ctx, 'validateVolumeCapabilities', validateRequest(ctx, unknownVolumeId(ctx), [mountCapability()]));
      expectStatus(ctx, unknown, { ids: ['CSI-CTRL-042'], what: 'ValidateVolumeCapabilities of an unknown volume is refused', codes: ['NOT_FOUND'] });
    },
  });

  suite.declare({
    ids: ['CSI-GEN-004'],
    title: 'ValidateVolumeCapabilities refuses a request without capabilities with INVALID_ARGUMENT',
    needs: { capabilities: [controllerService, 'controller.CREATE_DELETE_VOLUME'] },
    async run(ctx: Ctx) {
      const volume = await createTestVolume(ctx, { ids: ['CSI-GEN-004'] });
      const none = await callController(ctx, 'validateVolumeCapabilities', validateRequest(ctx, volume.volumeId, [], volume.volumeContext));
      expectStatus(ctx, none, { what: 'ValidateVolumeCapabilities with no volume_capabilities is refused', codes: ['INVALID_ARGUMENT'] });
    },
  });

  suite.declare({
    ids: ['CSI-CTRL-043', 'CSI-CTRL-044', 'CSI-CTRL-045', 'CSI-GEN-013'],
    title: 'ValidateVolumeCapabilities confirms the capability a volume was made with, the same way twice, and never an UNKNOWN mode',
    needs: { capabilities: [controllerService, 'controller.CREATE_DELETE_VOLUME'] },
    async run(ctx: Ctx) {
      const volume = await createTestVolume(ctx, { ids: ['CSI-CTRL-044'] });
      const request = validateRequest(ctx, volume.volumeId, [mountCapability()], volume.volumeContext);
      const first = await callController(ctx, 'validateVolumeCapabilities', request);
      ctx.require(first.ok, { ids: ['CSI-CTRL-044', 'CSI-CTRL-045'], what: 'ValidateVolumeCapabilities succeeds', expected: 'OK', got: describeOutcome(first) });
      ctx.check(first.response.confirmed !== undefined, {
        ids: ['CSI-CTRL-044'],
        what: 'the capability the volume was created with is confirmed',
        expected: 'confirmed set',
        got: first.response,
      });
      if (first.response.confirmed !== undefined) {
        ctx.check(first.response.confirmed.volumeCapabilities.length > 0, {
          ids: ['CSI-CTRL-043', 'CSI-GEN-013'],
          what: 'a confirmation lists the capabilities it validated',
          expected: 'at least one volume capability',
          got: first.response.confirmed,
        });
      }
      const second = await callController(ctx, 'validateVolumeCapabilities', request);
      ctx.check(second.ok && JSON.stringify(second.response) === JSON.stringify(first.response), {
        ids: ['CSI-CTRL-045'],
        what: 'the same question asked again gets the same answer',
        expected: first.response,
        got: second.ok ? second.response : describeOutcome(second),
      });
      const unknownMode = await callController(
        ctx,
        'validateVolumeCapabilities',
        validateRequest(ctx, volume.volumeId, [mountCapability(), mountCapability(VolumeCapability_AccessMode_Mode.UNKNOWN)], volume.volumeContext),
      );
      ctx.check(unknownMode.ok ? unknownMode.response.confirmed === undefined : unknownMode.error.code === 'INVALID_ARGUMENT', {
        ids: ['CSI-CTRL-043'],
        what: 'a request including access mode UNKNOWN is not confirmed',
        expected: 'OK without confirmed, or INVALID_ARGUMENT',
        got: unknownMode.ok ? unknownMode.response : describeOutcome(unknownMode),
      });
    },
  });
}
