import { controllerCapabilityName, VolumeCapability_AccessMode_Mode } from '../../specs/csi/index.js';
import type { CaseContext, Suite } from '../framework/index.js';
import { callController } from './csi-calls.js';
import type { CsiSubject } from './csi-subject.js';
import { deferDeleteVolume } from './controller-expect.js';
import { describeOutcome } from './expect-status.js';
import { createVolumeRequest, mountCapability } from './test-volumes.js';

type Ctx = CaseContext<CsiSubject>;

/** Declares the ControllerGetCapabilities cases and what some capabilities imply (CSI-CTRL-001…004). */
export function declareControllerCapabilityCases(suite: Suite<CsiSubject>): void {
  suite.declare({
    ids: ['CSI-CTRL-001', 'CSI-CTRL-002'],
    title: 'ControllerGetCapabilities answers with only defined RPC capabilities',
    needs: { capabilities: ['plugin.service.CONTROLLER_SERVICE'] },
    async run(ctx: Ctx) {
      const answer = await callController(ctx, 'controllerGetCapabilities', {});
      ctx.require(answer.ok, { ids: ['CSI-CTRL-001'], what: 'ControllerGetCapabilities succeeds', expected: 'OK', got: describeOutcome(answer) });
      const names = answer.response.capabilities.map(controllerCapabilityName);
      const undefinedOnes = names.filter((name) => /UNSET|UNDEFINED|UNKNOWN/.test(name));
      ctx.check(undefinedOnes.length === 0, {
        ids: ['CSI-CTRL-002'],
        what: 'every capability sets rpc to a defined, non-UNKNOWN type',
        expected: 'controller.<defined RPC type>',
        got: names,
      });
    },
  });

  suite.declare({
    ids: ['CSI-CTRL-003'],
    title: 'A plugin listing published nodes also publishes volumes',
    needs: { capabilities: ['controller.LIST_VOLUMES_PUBLISHED_NODES'] },
    async run(ctx: Ctx) {
      ctx.check(ctx.subject.capabilities.has('controller.PUBLISH_UNPUBLISH_VOLUME'), {
        what: 'PUBLISH_UNPUBLISH_VOLUME is advertised alongside LIST_VOLUMES_PUBLISHED_NODES',
        expected: 'controller.PUBLISH_UNPUBLISH_VOLUME',
        got: [...ctx.subject.capabilities].filter((name) => name.startsWith('controller.')),
      });
    },
  });

  suite.declare({
    ids: ['CSI-CTRL-004'],
    title: 'A plugin with SINGLE_NODE_MULTI_WRITER provisions the new single-node modes and still the old one',
    needs: { capabilities: ['controller.SINGLE_NODE_MULTI_WRITER', 'controller.CREATE_DELETE_VOLUME'] },
    async run(ctx: Ctx) {
      const Mode = VolumeCapability_AccessMode_Mode;
      const outcomes = new Map<string, string>();
      for (const mode of [Mode.SINGLE_NODE_WRITER, Mode.SINGLE_NODE_SINGLE_WRITER, Mode.SINGLE_NODE_MULTI_WRITER]) {
        const request = createVolumeRequest(ctx, { volumeCapabilities: [mountCapability(mode)] });
        const created = await callController(ctx, 'createVolume', request);
        if (created.ok) deferDeleteVolume(ctx, created.response.volume);
        outcomes.set(Mode[mode] ?? String(mode), describeOutcome(created));
      }
      ctx.check(outcomes.get('SINGLE_NODE_WRITER') === 'OK', {
        what: 'CreateVolume with SINGLE_NODE_WRITER succeeds',
        expected: 'OK',
        got: Object.fromEntries(outcomes),
      });
      ctx.check(outcomes.get('SINGLE_NODE_SINGLE_WRITER') === 'OK' || outcomes.get('SINGLE_NODE_MULTI_WRITER') === 'OK', {
        what: 'CreateVolume with SINGLE_NODE_SINGLE_WRITER or SINGLE_NODE_MULTI_WRITER succeeds',
        expected: 'OK for at least one',
        got: Object.fromEntries(outcomes),
      });
    },
  });
}
