import { setMaxListeners } from 'node:events';
import type { ServiceError } from '@grpc/grpc-js';
import {
  ControllerPublishVolumeRequest,
  VolumeCapability_AccessMode_Mode,
  type GrpcStatusError,
} from '../../specs/csi/index.js';
import type { CaseContext, Suite } from '../framework/index.js';
import { callController } from './csi-calls.js';
import type { CsiSubject } from './csi-subject.js';
import {
  advertises,
  atOnce,
  deferDeleteVolume,
  deleteVolume,
  expectStatus,
  nodeIdOf,
  unknownVolumeId,
} from './controller-expect.js';
import { describeOutcome } from './expect-status.js';
import { listAllVolumes, volumeExists } from './volume-presence.js';
import type { CallOutcome } from './record-call.js';
import { restartPlugin } from './restart-plugin.js';
import { checkNoSecretReflected, secretsWithCanary } from './secret-canary.js';
import type { SecretKey } from './run-config.js';
import { createVolumeRequest, mountCapability } from './test-volumes.js';

type Ctx = CaseContext<CsiSubject>;

const controllerService = 'plugin.service.CONTROLLER_SERVICE';
const createDelete = 'controller.CREATE_DELETE_VOLUME';

/** How many calls the concurrency cases send at once: enough to overlap, light on any driver. */
const concurrentCalls = 12;

/** Declares the rules every Controller RPC follows (CSI-GEN) and the concurrency and restart cases. */
export function declareGeneralCases(suite: Suite<CsiSubject>): void {
  suite.declare({
    ids: ['CSI-GEN-001', 'CSI-GEN-002', 'CSI-GEN-003'],
    title: 'Failed Controller calls carry a canonical code, a message and no details',
    needs: { capabilities: [controllerService] },
    async run(ctx: Ctx) {
      const failures: CallOutcome<unknown>[] = [
        await callController(ctx, 'validateVolumeCapabilities', {
          volumeId: '',
          volumeContext: {},
          volumeCapabilities: [mountCapability()],
          parameters: {},
          secrets: {},
          mutableParameters: {},
        }),
        await callController(ctx, 'validateVolumeCapabilities', {
          volumeId: unknownVolumeId(ctx),
          volumeContext: {},
          volumeCapabilities: [mountCapability()],
          parameters: {},
          secrets: {},
          mutableParameters: {},
        }),
      ];
      if (advertises(ctx, createDelete)) failures.push(await callController(ctx, 'createVolume', createVolumeRequest(ctx, { name: '' })));
      if (advertises(ctx, 'controller.LIST_VOLUMES')) {
        failures.push(await callController(ctx, 'listVolumes', { maxEntries: 0, startingToken: 'kubeplug-invalid-token' }));
      }
      for (const outcome of failures) {
        if (outcome.ok) continue;
        const wire = wireStatusOf(outcome.error);
        ctx.check(Number.isInteger(wire.code) && wire.code >= 1 && wire.code <= 16, {
          ids: ['CSI-GEN-001'],
          what: `the failure "${outcome.error.message}" has a canonical status code`,
          expected: '1…16',
          got: wire.code,
        });
        ctx.check(outcome.error.message.trim() !== '', {
          ids: ['CSI-GEN-002'],
          what: `the ${outcome.error.code} failure has a message`,
          expected: 'a non-empty message',
          got: outcome.error.message,
        });
        ctx.check(wire.details === 0, {
          ids: ['CSI-GEN-003'],
          what: `the ${outcome.error.code} failure carries no status details`,
          expected: 'no grpc-status-details-bin',
          got: `${wire.details} bytes of details`,
        });
      }
      ctx.require(failures.some((outcome) => !outcome.ok), {
        what: 'at least one of the invalid requests failed, so there was a status to judge',
        expected: 'a failure',
        got: failures.map(describeOutcome),
      });
    },
  });

  suite.declare({
    ids: ['CSI-GEN-009'],
    title: 'Optional Controller RPCs whose capability is not advertised answer UNIMPLEMENTED',
    needs: { capabilities: [controllerService] },
    async run(ctx: Ctx) {
      const volumeId = unknownVolumeId(ctx);
      const probes: [string, () => Promise<CallOutcome<unknown>>][] = [
        [
          createDelete,
          async () => {
            const created = await callController(ctx, 'createVolume', createVolumeRequest(ctx));
            if (created.ok) deferDeleteVolume(ctx, created.response.volume);
            return created;
          },
        ],
        [createDelete, () => deleteVolume(ctx, volumeId)],
        [
          'controller.PUBLISH_UNPUBLISH_VOLUME',
          () =>
            callController(
              ctx,
              'controllerPublishVolume',
              ControllerPublishVolumeRequest.fromPartial({ volumeId, nodeId: 'kubeplug-node', volumeCapability: mountCapability() }),
            ),
        ],
        ['controller.PUBLISH_UNPUBLISH_VOLUME', () => callController(ctx, 'controllerUnpublishVolume', { volumeId, nodeId: 'kubeplug-node', secrets: {} })],
        ['controller.LIST_VOLUMES', () => callController(ctx, 'listVolumes', { maxEntries: 0, startingToken: '' })],
        ['controller.GET_CAPACITY', () => callController(ctx, 'getCapacity', { volumeCapabilities: [], parameters: {} })],
        [
          'controller.EXPAND_VOLUME',
          () =>
            callController(ctx, 'controllerExpandVolume', {
              volumeId,
              capacityRange: { requiredBytes: 1n << 30n, limitBytes: 0n },
              secrets: {},
            }),
        ],
        ['controller.GET_VOLUME', () => callController(ctx, 'controllerGetVolume', { volumeId })],
        ['controller.MODIFY_VOLUME', () => callController(ctx, 'controllerModifyVolume', { volumeId, secrets: {}, mutableParameters: { key: 'value' } })],
      ];
      const missing = probes.filter(([capability]) => !advertises(ctx, capability));
      if (missing.length === 0) ctx.notApplicable('the plugin advertises every Controller capability with an RPC behind it');
      for (const [capability, call] of missing) {
        const outcome = await call();
        expectStatus(ctx, outcome, { what: `without ${capability}, the RPC behind it answers UNIMPLEMENTED`, codes: ['UNIMPLEMENTED'] });
      }
    },
  });

  suite.declare({
    ids: ['CSI-GEN-014'],
    title: 'Secrets sent with Controller calls never come back in a response or an error message',
    needs: { capabilities: [controllerService] },
    async run(ctx: Ctx) {
      const sent = new Map<SecretKey, Record<string, string>>();
      const secrets = (key: SecretKey): Record<string, string> => {
        const value = sent.get(key) ?? secretsWithCanary(ctx, key);
        sent.set(key, value);
        return value;
      };
      const outcomes: [string, CallOutcome<unknown>][] = [];
      const record = <T>(what: string, outcome: CallOutcome<T>): CallOutcome<T> => {
        outcomes.push([what, outcome]);
        return outcome;
      };
      const capability = mountCapability();
      const validate = (volumeId: string, volumeContext: Record<string, string>) =>
        callController(ctx, 'validateVolumeCapabilities', {
          volumeId,
          volumeContext,
          volumeCapabilities: [capability],
          parameters: {},
          secrets: secrets('ControllerValidateVolumeCapabilitiesSecret'),
          mutableParameters: {},
        });
      record('ValidateVolumeCapabilities of an unknown volume', await validate(unknownVolumeId(ctx), {}));

      if (advertises(ctx, createDelete)) {
        record(
          'CreateVolume without capabilities',
          await callController(ctx, 'createVolume', createVolumeRequest(ctx, { volumeCapabilities: [], secrets: secrets('CreateVolumeSecret') })),
        );
        const created = record(
          'CreateVolume',
          await callController(ctx, 'createVolume', createVolumeRequest(ctx, { secrets: secrets('CreateVolumeSecret') })),
        );
        const volume = created.ok ? created.response.volume : undefined;
        deferDeleteVolume(ctx, volume);
        if (volume !== undefined) {
          record('ValidateVolumeCapabilities', await validate(volume.volumeId, volume.volumeContext));
          if (advertises(ctx, 'controller.PUBLISH_UNPUBLISH_VOLUME')) {
            const { nodeId } = await nodeIdOf(ctx, ['CSI-GEN-014']);
            const unpublish = () =>
              callController(ctx, 'controllerUnpublishVolume', { volumeId: volume.volumeId, nodeId, secrets: secrets('ControllerUnpublishVolumeSecret') });
            ctx.defer(unpublish, `controller-unpublish ${volume.volumeId}`);
            const publish = (volumeId: string) =>
              callController(ctx, 'controllerPublishVolume', {
                volumeId,
                nodeId,
                volumeCapability: capability,
                readonly: false,
                secrets: secrets('ControllerPublishVolumeSecret'),
                volumeContext: volume.volumeContext,
              });
            record('ControllerPublishVolume of an unknown volume', await publish(unknownVolumeId(ctx)));
            record('ControllerPublishVolume', await publish(volume.volumeId));
            record('ControllerUnpublishVolume', await unpublish());
          }
          if (advertises(ctx, 'controller.EXPAND_VOLUME')) {
            const expand = (volumeId: string) =>
              callController(ctx, 'controllerExpandVolume', {
                volumeId,
                capacityRange: { requiredBytes: 2n * BigInt(ctx.subject.config.testVolumeSizeBytes), limitBytes: 0n },
                secrets: secrets('ControllerExpandVolumeSecret'),
                volumeCapability: capability,
              });
            record('ControllerExpandVolume of an unknown volume', await expand(unknownVolumeId(ctx)));
            record('ControllerExpandVolume', await expand(volume.volumeId));
          }
          if (advertises(ctx, 'controller.MODIFY_VOLUME')) {
            record(
              'ControllerModifyVolume with an unknown key',
              await callController(ctx, 'controllerModifyVolume', {
                volumeId: volume.volumeId,
                secrets: secrets('ControllerModifyVolumeSecret'),
                mutableParameters: { XXX_FakeKey: 'XXX_FakeValue' },
              }),
            );
          }
          if (advertises(ctx, 'controller.CREATE_DELETE_SNAPSHOT')) {
            const snapshot = record(
              'CreateSnapshot',
              await callController(ctx, 'createSnapshot', {
                sourceVolumeId: volume.volumeId,
                name: ctx.uniqueName('kubeplug-snap'),
                secrets: secrets('CreateSnapshotSecret'),
                parameters: {},
              }),
            );
            const snapshotId = snapshot.ok ? snapshot.response.snapshot?.snapshotId : undefined;
            if (snapshotId !== undefined) {
              if (advertises(ctx, 'controller.LIST_SNAPSHOTS')) {
                record(
                  'ListSnapshots',
                  await callController(ctx, 'listSnapshots', {
                    maxEntries: 0,
                    startingToken: '',
                    sourceVolumeId: '',
                    snapshotId,
                    secrets: secrets('ListSnapshotsSecret'),
                  }),
                );
              }
              record('DeleteSnapshot', await callController(ctx, 'deleteSnapshot', { snapshotId, secrets: secrets('DeleteSnapshotSecret') }));
            }
          }
          const deleteWithSecrets = (volumeId: string) => callController(ctx, 'deleteVolume', { volumeId, secrets: secrets('DeleteVolumeSecret') });
          record('DeleteVolume', await deleteWithSecrets(volume.volumeId));
          record('DeleteVolume of an unknown volume', await deleteWithSecrets(unknownVolumeId(ctx)));
        }
      }

      const allSecrets = Object.fromEntries([...sent].flatMap(([rpc, map]) => Object.entries(map).map(([name, value]) => [`${rpc}.${name}`, value])));
      for (const [what, outcome] of outcomes) checkNoSecretReflected(ctx, what, outcome, allSecrets);
    },
  });

  suite.declare({
    ids: ['CSI-CTRL-070'],
    title: 'CreateVolume and DeleteVolume calls for different volumes at once all succeed',
    needs: { capabilities: [createDelete] },
    async run(ctx: Ctx) {
      // Every call in flight listens on the case's abort signal.
      setMaxListeners(concurrentCalls + 10, ctx.signal);
      const created = await atOnce(concurrentCalls, () => callController(ctx, 'createVolume', createVolumeRequest(ctx)));
      const volumes = created.flatMap((outcome) => (outcome.ok && outcome.response.volume !== undefined ? [outcome.response.volume] : []));
      volumes.forEach((volume) => deferDeleteVolume(ctx, volume));
      ctx.check(volumes.length === concurrentCalls && new Set(volumes.map((volume) => volume.volumeId)).size === concurrentCalls, {
        what: `${concurrentCalls} CreateVolume calls of different names at once all succeed with distinct volumes`,
        expected: `${concurrentCalls} x OK, ${concurrentCalls} distinct IDs`,
        got: created.map(describeOutcome),
      });
      const deleted = await atOnce(volumes.length, (index) => deleteVolume(ctx, volumes[index]?.volumeId ?? ''));
      ctx.check(deleted.every((outcome) => outcome.ok), {
        what: `${volumes.length} DeleteVolume calls of different volumes at once all succeed`,
        expected: 'all OK',
        got: deleted.map(describeOutcome),
      });
    },
  });

  suite.declare({
    ids: ['CSI-CTRL-008', 'CSI-GEN-010', 'CSI-GEN-011'],
    title: 'Simultaneous CreateVolume and DeleteVolume calls for one name make one volume and remove it',
    needs: { capabilities: [createDelete] },
    async run(ctx: Ctx) {
      // Every call in flight listens on the case's abort signal.
      setMaxListeners(concurrentCalls + 10, ctx.signal);
      const request = createVolumeRequest(ctx);
      const created = await atOnce(concurrentCalls, () => callController(ctx, 'createVolume', request));
      const ids = [...new Set(created.flatMap((outcome) => (outcome.ok && outcome.response.volume !== undefined ? [outcome.response.volume.volumeId] : [])))];
      ids.forEach((volumeId) => ctx.defer(() => deleteVolume(ctx, volumeId), `delete volume ${volumeId}`));
      const otherFailures = created.filter((outcome) => !outcome.ok && outcome.error.code !== 'ABORTED');
      ctx.check(otherFailures.length === 0, {
        ids: ['CSI-GEN-010'],
        what: `${concurrentCalls} CreateVolume calls of one name at once either succeed or are refused with ABORTED`,
        expected: 'OK or ABORTED',
        got: created.map(describeOutcome),
      });
      ctx.check(ids.length === 1, {
        ids: ['CSI-CTRL-008'],
        what: 'every CreateVolume that succeeded returned the same volume',
        expected: 'one volume ID',
        got: ids,
      });
      // Whatever the race left, a retry alone must settle on one volume; that is the one to delete at once.
      const settled = await callController(ctx, 'createVolume', request);
      ctx.require(settled.ok && settled.response.volume !== undefined, {
        ids: ['CSI-GEN-011'],
        what: 'CreateVolume of the name, alone after the race, succeeds',
        expected: 'OK',
        got: describeOutcome(settled),
      });
      const { volumeId } = settled.response.volume;
      if (!ids.includes(volumeId)) ctx.defer(() => deleteVolume(ctx, volumeId), `delete volume ${volumeId}`);
      const deleted = await atOnce(concurrentCalls, () => deleteVolume(ctx, volumeId));
      ctx.check(deleted.every((outcome) => outcome.ok || outcome.error.code === 'ABORTED'), {
        ids: ['CSI-GEN-010'],
        what: `${concurrentCalls} DeleteVolume calls of one volume at once either succeed or are refused with ABORTED`,
        expected: 'OK or ABORTED',
        got: deleted.map(describeOutcome),
      });
      const exists = await volumeExists(ctx, volumeId, ['CSI-GEN-011']);
      if (exists !== undefined) {
        ctx.check(!exists, {
          ids: ['CSI-GEN-011'],
          what: 'after the simultaneous deletes the volume is gone',
          expected: `no volume ${volumeId}`,
          got: exists ? 'still there' : 'gone',
        });
      }
      ctx.check(created.some((outcome) => outcome.ok) && deleted.some((outcome) => outcome.ok), {
        ids: ['CSI-GEN-011'],
        what: 'of the simultaneous calls, at least one create and one delete went through rather than all being turned away',
        expected: 'at least one OK of each',
        got: { creates: created.map(describeOutcome), deletes: deleted.map(describeOutcome) },
      });
    },
  });

  suite.declare({
    ids: ['CSI-CTRL-071'],
    title: 'A volume created before a restart of the plugin is found, returned again and deleted after it',
    needs: { capabilities: [createDelete] },
    timeoutMs: 90_000,
    async run(ctx: Ctx) {
      if (ctx.subject.config.restartCommand === undefined) ctx.skip('needs --restart-command');
      const request = createVolumeRequest(ctx, {
        volumeCapabilities: [mountCapability(VolumeCapability_AccessMode_Mode.SINGLE_NODE_WRITER)],
      });
      const before = await callController(ctx, 'createVolume', request);
      ctx.require(before.ok && before.response.volume !== undefined, { what: 'CreateVolume succeeds', expected: 'OK', got: describeOutcome(before) });
      deferDeleteVolume(ctx, before.response.volume);
      const { volumeId } = before.response.volume;
      await restartPlugin(ctx, ['CSI-CTRL-071']);
      if (advertises(ctx, 'controller.LIST_VOLUMES')) {
        const listed = await listAllVolumes(ctx, ['CSI-CTRL-071']);
        ctx.check(listed.some((entry) => entry.volume?.volumeId === volumeId), {
          what: 'ListVolumes after the restart lists the volume',
          expected: volumeId,
          got: listed.map((entry) => entry.volume?.volumeId),
        });
      }
      const after = await callController(ctx, 'createVolume', request);
      ctx.check(after.ok && after.response.volume?.volumeId === volumeId, {
        what: 'CreateVolume of the same name after the restart returns the same volume',
        expected: volumeId,
        got: after.ok ? after.response.volume?.volumeId : describeOutcome(after),
      });
      expectStatus(ctx, await deleteVolume(ctx, volumeId), { what: 'DeleteVolume after the restart succeeds', codes: ['OK'] });
      await restartPlugin(ctx, ['CSI-CTRL-071']);
      expectStatus(ctx, await deleteVolume(ctx, volumeId), { what: 'DeleteVolume of the deleted volume after another restart answers OK', codes: ['OK'] });
    },
  });
}

/** The numeric code and the size of the details trailer as they came over the wire. */
function wireStatusOf(error: GrpcStatusError): { code: number; details: number } {
  const cause = error.cause as Partial<ServiceError> | undefined;
  const details = cause?.metadata?.get('grpc-status-details-bin') ?? [];
  const size = details.reduce<number>((sum, value) => sum + (typeof value === 'string' ? value.length : value.byteLength), 0);
  return { code: typeof cause?.code === 'number' ? cause.code : error.codeNumber, details: size };
}
