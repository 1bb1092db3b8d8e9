import {
  CreateVolumeRequest,
  VolumeCapability_AccessMode_Mode,
  type Topology,
  type Volume,
  type VolumeCapability,
} from '../../specs/csi/index.js';
import type { CaseContext, Suite } from '../framework/index.js';
import { callController } from './csi-calls.js';
import type { CsiSubject } from './csi-subject.js';
import {
  advertises,
  checkVolumeLimits,
  deferDeleteVolume,
  deleteVolume,
  expectStatus,
  nodeIdOf,
  sameMap,
  unknownVolumeId,
} from './controller-expect.js';
import { describeOutcome } from './expect-status.js';
import { createTestVolume, createVolumeRequest, mountCapability, secretsFor } from './test-volumes.js';
import { topologyProblems } from './topology-rules.js';

type Ctx = CaseContext<CsiSubject>;

const createDelete = 'controller.CREATE_DELETE_VOLUME';

/** CreateVolume that the case judges itself; a volume it makes is deleted after the case. */
async function tryCreate(ctx: Ctx, overrides: Partial<CreateVolumeRequest> = {}): ReturnType<typeof callController<'createVolume'>> {
  const created = await callController(ctx, 'createVolume', createVolumeRequest(ctx, overrides));
  if (created.ok) deferDeleteVolume(ctx, created.response.volume);
  return created;
}

function size(ctx: Ctx): bigint {
  return BigInt(ctx.subject.config.testVolumeSizeBytes);
}

/** Whether a capacity honours a range: 0 is "unknown" and always allowed. */
function withinRange(capacity: bigint, range: { requiredBytes: bigint; limitBytes: bigint }): boolean {
  if (capacity === 0n) return true;
  return capacity >= range.requiredBytes && (range.limitBytes === 0n || capacity <= range.limitBytes);
}

/** A snapshot of a fresh volume, ready to use, deleted after the case. */
async function readySnapshotId(ctx: Ctx, ids: readonly string[]): Promise<string> {
  const source = await createTestVolume(ctx, { ids });
  const request = {
    sourceVolumeId: source.volumeId,
    name: ctx.uniqueName('kubeplug-snap'),
    secrets: secretsFor(ctx, 'CreateSnapshotSecret'),
    parameters: {},
  };
  for (let attempt = 0; attempt < 20; attempt += 1) {
    const snapshot = await callController(ctx, 'createSnapshot', request);
    ctx.require(snapshot.ok && snapshot.response.snapshot !== undefined, {
      ids,
      what: 'CreateSnapshot of a fresh volume succeeds',
      expected: 'OK with a snapshot',
      got: describeOutcome(snapshot),
    });
    const { snapshotId, readyToUse } = snapshot.response.snapshot;
    if (attempt === 0) {
      ctx.defer(
        () => callController(ctx, 'deleteSnapshot', { snapshotId, secrets: secretsFor(ctx, 'DeleteSnapshotSecret') }),
        `delete snapshot ${snapshotId}`,
      );
    }
    if (readyToUse) return snapshotId;
    await new Promise((resolve) => setTimeout(resolve, 250));
  }
  ctx.require(false, { ids, what: 'the snapshot becomes ready to use within 5 s', expected: 'ready_to_use', got: 'not ready' });
}

/** Declares the CreateVolume cases (CSI-CTRL-005…024). */
export function declareCreateVolumeCases(suite: Suite<CsiSubject>): void {
  suite.declare({
    ids: ['CSI-GEN-004'],
    title: 'CreateVolume refuses a request without a name, capabilities or an access type with INVALID_ARGUMENT',
    needs: { capabilities: [createDelete] },
    async run(ctx: Ctx) {
      const noAccessType: VolumeCapability = { accessMode: { mode: VolumeCapability_AccessMode_Mode.SINGLE_NODE_WRITER } };
      const cases: [string, Partial<CreateVolumeRequest>][] = [
        ['no name', { name: '' }],
        ['no volume_capabilities', { volumeCapabilities: [] }],
        ['a capability without access_type', { volumeCapabilities: [noAccessType] }],
        ['a capability without access_mode', { volumeCapabilities: [{ accessType: mountCapability().accessType }] }],
      ];
      for (const [what, overrides] of cases) {
        const created = await tryCreate(ctx, overrides);
        expectStatus(ctx, created, { ids: ['CSI-GEN-004'], what: `CreateVolume with ${what} is refused`, codes: ['INVALID_ARGUMENT'] });
      }
    },
  });

  suite.declare({
    ids: ['CSI-GEN-005', 'CSI-CTRL-013'],
    title: 'CreateVolume refuses an invalid access mode or name with INVALID_ARGUMENT, even next to valid capabilities',
    needs: { capabilities: [createDelete] },
    async run(ctx: Ctx) {
      const unknownMode = mountCapability(VolumeCapability_AccessMode_Mode.UNKNOWN);
      const alone = await tryCreate(ctx, { volumeCapabilities: [unknownMode] });
      expectStatus(ctx, alone, { ids: ['CSI-GEN-005'], what: 'CreateVolume with access mode UNKNOWN is refused', codes: ['INVALID_ARGUMENT'] });
      const mixed = await tryCreate(ctx, { volumeCapabilities: [mountCapability(), unknownMode] });
      ctx.check(!mixed.ok, {
        ids: ['CSI-CTRL-013'],
        what: 'CreateVolume with one valid capability and one of access mode UNKNOWN fails as a whole',
        expected: 'an error',
        got: describeOutcome(mixed),
      });
      if (!mixed.ok) {
        expectStatus(ctx, mixed, { ids: ['CSI-GEN-005'], what: 'that failure is INVALID_ARGUMENT', codes: ['INVALID_ARGUMENT'] });
      }
      const banned = await tryCreate(ctx, { name: `${ctx.uniqueName('kubeplug-vol')}\u0001` });
      expectStatus(ctx, banned, {
        ids: ['CSI-GEN-005'],
        what: 'CreateVolume with a name holding the banned control character U+0001 is refused',
        codes: ['INVALID_ARGUMENT'],
      });
    },
  });

  suite.declare({
    ids: ['CSI-CTRL-005', 'CSI-CTRL-006', 'CSI-GEN-012', 'CSI-GEN-013', 'CSI-CTRL-019', 'CSI-CTRL-021'],
    title: 'CreateVolume returns a volume with an ID of its own that DeleteVolume removes',
    needs: { capabilities: [createDelete] },
    async run(ctx: Ctx) {
      const volumes: Volume[] = [];
      for (let index = 0; index < 2; index += 1) {
        const created = await tryCreate(ctx);
        ctx.require(created.ok, { ids: ['CSI-CTRL-005'], what: 'CreateVolume of a new name succeeds', expected: 'OK', got: describeOutcome(created) });
        const volume = created.response.volume;
        ctx.require(volume !== undefined && volume.volumeId !== '', {
          ids: ['CSI-GEN-013', 'CSI-CTRL-006'],
          what: 'the response carries a volume with a non-empty volume_id',
          expected: 'volume.volume_id set',
          got: created.response,
        });
        ctx.check(volume.capacityBytes >= 0n, {
          ids: ['CSI-CTRL-006'],
          what: 'capacity_bytes is not negative',
          expected: '>= 0',
          got: volume.capacityBytes,
        });
        checkVolumeLimits(ctx, volume, 'CreateVolume returned');
        volumes.push(volume);
      }
      const [first, second] = volumes as [Volume, Volume];
      ctx.check(first.volumeId !== second.volumeId, {
        ids: ['CSI-CTRL-006'],
        what: 'two names give two volume IDs',
        expected: 'distinct IDs',
        got: [first.volumeId, second.volumeId],
      });
      const constrained = advertises(ctx, 'plugin.service.VOLUME_ACCESSIBILITY_CONSTRAINTS');
      for (const volume of volumes) {
        ctx.check(constrained || volume.accessibleTopology.length === 0, {
          ids: ['CSI-CTRL-019'],
          what: 'a plugin without VOLUME_ACCESSIBILITY_CONSTRAINTS reports no accessible_topology',
          expected: 'accessible_topology empty',
          got: volume.accessibleTopology,
        });
        const problems = topologyProblems(volume.accessibleTopology);
        ctx.check(problems.length === 0, {
          ids: ['CSI-CTRL-021'],
          what: 'the topology segments of the volume are well formed',
          expected: 'keys [prefix/]name of <= 63 characters, values of <= 63 characters',
          got: problems.length === 0 ? volume.accessibleTopology : problems,
        });
        const deleted = await deleteVolume(ctx, volume.volumeId);
        expectStatus(ctx, deleted, { ids: ['CSI-CTRL-005'], what: 'DeleteVolume of the new volume succeeds', codes: ['OK'] });
      }
    },
  });

  suite.declare({
    ids: ['CSI-CTRL-007', 'CSI-CTRL-011', 'CSI-CTRL-024'],
    title: 'CreateVolume of an existing name with the same properties returns the same volume',
    needs: { capabilities: [createDelete] },
    async run(ctx: Ctx) {
      const request = createVolumeRequest(ctx);
      const first = await tryCreate(ctx, request);
      ctx.require(first.ok && first.response.volume !== undefined, {
        ids: ['CSI-CTRL-007'],
        what: 'the first CreateVolume succeeds',
        expected: 'OK',
        got: describeOutcome(first),
      });
      const again = await tryCreate(ctx, request);
      ctx.require(again.ok && again.response.volume !== undefined, {
        ids: ['CSI-CTRL-007'],
        what: 'CreateVolume again with the same name and properties succeeds',
        expected: 'OK',
        got: describeOutcome(again),
      });
      const [one, two] = [first.response.volume, again.response.volume];
      ctx.check(one.volumeId === two.volumeId, {
        ids: ['CSI-CTRL-007'],
        what: 'both answers name the same volume',
        expected: one.volumeId,
        got: two.volumeId,
      });
      ctx.check(withinRange(two.capacityBytes, request.capacityRange ?? { requiredBytes: 0n, limitBytes: 0n }), {
        ids: ['CSI-CTRL-011'],
        what: 'the repeated answer reports a capacity compatible with the request',
        expected: `>= ${request.capacityRange?.requiredBytes ?? 0n} bytes (or 0)`,
        got: two.capacityBytes,
      });
      ctx.check(sameMap(one.volumeContext, two.volumeContext), {
        ids: ['CSI-CTRL-024'],
        what: 'the volume_context is the same in both answers',
        expected: one.volumeContext,
        got: two.volumeContext,
      });
    },
  });

  suite.declare({
    ids: ['CSI-CTRL-009', 'CSI-CTRL-007'],
    title: 'CreateVolume of an existing name with another capacity is refused with ALREADY_EXISTS',
    needs: { capabilities: [createDelete] },
    async run(ctx: Ctx) {
      const exact = { requiredBytes: size(ctx), limitBytes: size(ctx) };
      const request = createVolumeRequest(ctx, { capacityRange: exact });
      const first = await tryCreate(ctx, request);
      ctx.require(first.ok && first.response.volume !== undefined, {
        ids: ['CSI-CTRL-009'],
        what: 'CreateVolume with an exact size succeeds',
        expected: 'OK',
        got: describeOutcome(first),
      });
      const twice = { requiredBytes: 2n * size(ctx), limitBytes: 2n * size(ctx) };
      const other = await tryCreate(ctx, { ...request, capacityRange: twice });
      expectStatus(ctx, other, {
        ids: ['CSI-CTRL-009'],
        what: 'CreateVolume of the same name with twice the exact size is refused',
        codes: ['ALREADY_EXISTS'],
      });
      const original = await tryCreate(ctx, request);
      ctx.check(original.ok && original.response.volume?.volumeId === first.response.volume.volumeId, {
        ids: ['CSI-CTRL-007'],
        what: 'after the refusal, the original request still returns the existing volume',
        expected: first.response.volume.volumeId,
        got: original.ok ? original.response.volume?.volumeId : describeOutcome(original),
      });
    },
  });

  suite.declare({
    ids: ['CSI-CTRL-010'],
    title: 'CreateVolume accepts a 128-byte name and names with non-ASCII letters, spaces and slashes',
    needs: { capabilities: [createDelete] },
    async run(ctx: Ctx) {
      const base = ctx.uniqueName('kubeplug-maxlen');
      const names = [
        base.padEnd(128, 'x'),
        `${ctx.uniqueName('kubeplug')} Grüße/volume ünïcode`,
      ];
      for (const name of names) {
        const created = await tryCreate(ctx, { name });
        expectStatus(ctx, created, {
          ids: ['CSI-CTRL-010'],
          what: `CreateVolume with the ${Buffer.byteLength(name)}-byte name ${JSON.stringify(name)} succeeds`,
          codes: ['OK'],
        });
      }
    },
  });

  suite.declare({
    ids: ['CSI-CTRL-011'],
    title: 'CreateVolume honours the capacity range, and serves a request without one',
    needs: { capabilities: [createDelete] },
    async run(ctx: Ctx) {
      const ranges = [
        { requiredBytes: size(ctx), limitBytes: 0n },
        { requiredBytes: size(ctx), limitBytes: 2n * size(ctx) },
        { requiredBytes: 0n, limitBytes: 2n * size(ctx) },
      ];
      for (const range of ranges) {
        const created = await tryCreate(ctx, { capacityRange: range });
        const capacity = created.ok ? created.response.volume?.capacityBytes : undefined;
        ctx.check(capacity !== undefined && withinRange(capacity, range), {
          what: `CreateVolume with required_bytes ${range.requiredBytes} and limit_bytes ${range.limitBytes} gives a volume in range`,
          expected: 'OK with capacity_bytes in range (or 0, unknown)',
          got: created.ok ? capacity : describeOutcome(created),
        });
      }
      const unsized = await callController(ctx, 'createVolume', CreateVolumeRequest.fromPartial({
        ...createVolumeRequest(ctx),
        capacityRange: undefined,
      }));
      if (unsized.ok) deferDeleteVolume(ctx, unsized.response.volume);
      expectStatus(ctx, unsized, { ids: ['CSI-CTRL-011'], what: 'CreateVolume without capacity_range succeeds', codes: ['OK'] });
    },
  });

  suite.declare({
    ids: ['CSI-CTRL-012'],
    title: 'CreateVolume refuses a capacity range whose limit is below its requirement',
    needs: { capabilities: [createDelete] },
    async run(ctx: Ctx) {
      const created = await tryCreate(ctx, { capacityRange: { requiredBytes: 2n * size(ctx), limitBytes: size(ctx) } });
      expectStatus(ctx, created, {
        ids: ['CSI-CTRL-012'],
        what: 'CreateVolume with limit_bytes below required_bytes is refused',
        codes: ['OUT_OF_RANGE', 'INVALID_ARGUMENT'],
      });
    },
  });

  suite.declare({
    ids: ['CSI-CTRL-014'],
    title: 'CreateVolume from a snapshot that does not exist is refused with NOT_FOUND',
    needs: { capabilities: [createDelete, 'controller.CREATE_DELETE_SNAPSHOT'] },
    async run(ctx: Ctx) {
      const created = await tryCreate(ctx, {
        volumeContentSource: { type: { $case: 'snapshot', value: { snapshotId: ctx.uniqueName('kubeplug-no-such-snapshot') } } },
      });
      expectStatus(ctx, created, { what: 'CreateVolume from an unknown snapshot is refused', ids: ['CSI-CTRL-014'], codes: ['NOT_FOUND'] });
    },
  });

  suite.declare({
    ids: ['CSI-CTRL-014'],
    title: 'CreateVolume from a volume that does not exist is refused with NOT_FOUND',
    needs: { capabilities: [createDelete, 'controller.CLONE_VOLUME'] },
    async run(ctx: Ctx) {
      const created = await tryCreate(ctx, { volumeContentSource: { type: { $case: 'volume', value: { volumeId: unknownVolumeId(ctx) } } } });
      expectStatus(ctx, created, { what: 'CreateVolume from an unknown volume is refused', ids: ['CSI-CTRL-014'], codes: ['NOT_FOUND'] });
    },
  });

  suite.declare({
    ids: ['CSI-CTRL-015'],
    title: 'CreateVolume from a kind of source the plugin does not support is refused with INVALID_ARGUMENT',
    needs: { capabilities: [createDelete] },
    async run(ctx: Ctx) {
      const clones = advertises(ctx, 'controller.CLONE_VOLUME');
      const snapshots = advertises(ctx, 'controller.CREATE_DELETE_SNAPSHOT');
      if (clones && snapshots) ctx.notApplicable('the plugin supports both volume and snapshot sources');
      if (!clones) {
        const source = await createTestVolume(ctx, { ids: ['CSI-CTRL-015'] });
        const created = await tryCreate(ctx, { volumeContentSource: { type: { $case: 'volume', value: { volumeId: source.volumeId } } } });
        expectStatus(ctx, created, {
          what: 'CreateVolume from an existing volume, without CLONE_VOLUME, is refused',
          ids: ['CSI-CTRL-015'],
          codes: ['INVALID_ARGUMENT'],
        });
      }
      if (!snapshots) {
        const created = await tryCreate(ctx, {
          volumeContentSource: { type: { $case: 'snapshot', value: { snapshotId: ctx.uniqueName('kubeplug-snapshot') } } },
        });
        expectStatus(ctx, created, {
          what: 'CreateVolume from a snapshot, without CREATE_DELETE_SNAPSHOT, is refused',
          ids: ['CSI-CTRL-015'],
          codes: ['INVALID_ARGUMENT'],
        });
      }
    },
  });

  suite.declare({
    ids: ['CSI-CTRL-016', 'CSI-CTRL-018', 'CSI-CTRL-011'],
    title: 'A plugin with CLONE_VOLUME creates a volume from another, and a larger one or OUT_OF_RANGE',
    needs: { capabilities: [createDelete, 'controller.CLONE_VOLUME'] },
    async run(ctx: Ctx) {
      const source = await createTestVolume(ctx, { ids: ['CSI-CTRL-016'] });
      const volumeSource = { type: { $case: 'volume' as const, value: { volumeId: source.volumeId } } };
      const clone = await tryCreate(ctx, { volumeContentSource: volumeSource });
      ctx.require(clone.ok, { ids: ['CSI-CTRL-016'], what: 'CreateVolume from an existing volume succeeds', expected: 'OK', got: describeOutcome(clone) });
      const reported = clone.response.volume?.contentSource?.type;
      ctx.check(reported?.$case === 'volume' && reported.value.volumeId === source.volumeId, {
        ids: ['CSI-CTRL-018'],
        what: 'the clone reports its source volume in content_source',
        expected: { volume: { volumeId: source.volumeId } },
        got: clone.response.volume?.contentSource,
      });
      const larger = { requiredBytes: 2n * size(ctx), limitBytes: 0n };
      const bigger = await tryCreate(ctx, { volumeContentSource: volumeSource, capacityRange: larger });
      const capacity = bigger.ok ? bigger.response.volume?.capacityBytes : undefined;
      if (bigger.ok) {
        ctx.check(capacity !== undefined && withinRange(capacity, larger), {
          ids: ['CSI-CTRL-011'],
          what: 'a clone twice the size of its source is made at that size',
          expected: `>= ${larger.requiredBytes} bytes (or 0, unknown)`,
          got: capacity,
        });
      } else {
        expectStatus(ctx, bigger, { ids: ['CSI-CTRL-016'], what: 'a clone twice the size of its source, when refused, is refused with OUT_OF_RANGE', codes: ['OUT_OF_RANGE'] });
      }
    },
  });

  suite.declare({
    ids: ['CSI-CTRL-017', 'CSI-CTRL-018'],
    title: 'A plugin with CREATE_DELETE_SNAPSHOT creates a volume from a snapshot',
    needs: { capabilities: [createDelete, 'controller.CREATE_DELETE_SNAPSHOT'] },
    async run(ctx: Ctx) {
      const snapshotId = await readySnapshotId(ctx, ['CSI-CTRL-017']);
      const created = await tryCreate(ctx, { volumeContentSource: { type: { $case: 'snapshot', value: { snapshotId } } } });
      ctx.require(created.ok, { ids: ['CSI-CTRL-017'], what: 'CreateVolume from a ready snapshot succeeds', expected: 'OK', got: describeOutcome(created) });
      const reported = created.response.volume?.contentSource?.type;
      ctx.check(reported?.$case === 'snapshot' && reported.value.snapshotId === snapshotId, {
        ids: ['CSI-CTRL-018'],
        what: 'the volume reports its source snapshot in content_source',
        expected: { snapshot: { snapshotId } },
        got: created.response.volume?.contentSource,
      });
    },
  });

  suite.declare({
    ids: ['CSI-CTRL-020', 'CSI-CTRL-021'],
    title: "CreateVolume honours a requisite topology of the node's",
    needs: { capabilities: [createDelete, 'plugin.service.VOLUME_ACCESSIBILITY_CONSTRAINTS'] },
    async run(ctx: Ctx) {
      const { topology } = await nodeIdOf(ctx, ['CSI-CTRL-020']);
      if (topology === undefined || Object.keys(topology.segments).length === 0) {
        ctx.notApplicable('NodeGetInfo reports no accessible_topology to require');
      }
      const created = await tryCreate(ctx, { accessibilityRequirements: { requisite: [topology], preferred: [topology] } });
      ctx.require(created.ok && created.response.volume !== undefined, {
        ids: ['CSI-CTRL-020'],
        what: "CreateVolume requiring the node's topology succeeds",
        expected: 'OK',
        got: describeOutcome(created),
      });
      const reported = created.response.volume.accessibleTopology;
      ctx.check(reported.length === 0 || reported.some((candidate) => sameMap(candidate.segments, topology.segments)), {
        ids: ['CSI-CTRL-020'],
        what: 'the volume is accessible from the one requisite topology',
        expected: `accessible_topology includes ${JSON.stringify(topology.segments)}`,
        got: reported,
      });
      const problems = topologyProblems([topology, ...reported]);
      ctx.check(problems.length === 0, {
        ids: ['CSI-CTRL-021'],
        what: 'the topology segments of the node and the volume are well formed',
        expected: 'no problem',
        got: problems,
      });
    },
  });

  suite.declare({
    ids: ['CSI-CTRL-022'],
    title: 'CreateVolume refuses a requisite topology no volume can be placed in',
    needs: { capabilities: [createDelete, 'plugin.service.VOLUME_ACCESSIBILITY_CONSTRAINTS'] },
    async run(ctx: Ctx) {
      const { topology } = await nodeIdOf(ctx, ['CSI-CTRL-022']);
      if (topology === undefined || Object.keys(topology.segments).length === 0) {
        ctx.notApplicable('NodeGetInfo reports no topology keys to build an unreachable requirement from');
      }
      const nowhere: Topology = { segments: Object.fromEntries(Object.keys(topology.segments).map((key) => [key, 'kubeplug-nowhere'])) };
      const created = await tryCreate(ctx, { accessibilityRequirements: { requisite: [nowhere], preferred: [] } });
      expectStatus(ctx, created, {
        ids: ['CSI-CTRL-022'],
        what: `CreateVolume requiring ${JSON.stringify(nowhere.segments)} is refused`,
        codes: ['RESOURCE_EXHAUSTED', 'INVALID_ARGUMENT'],
      });
    },
  });

  suite.declare({
    ids: ['CSI-CTRL-023'],
    title: 'CreateVolume refuses mutable parameters the plugin does not know with INVALID_ARGUMENT',
    needs: { capabilities: [createDelete, 'controller.MODIFY_VOLUME'] },
    async run(ctx: Ctx) {
      const created = await tryCreate(ctx, { mutableParameters: { XXX_FakeKey: 'XXX_FakeValue' } });
      expectStatus(ctx, created, { ids: ['CSI-CTRL-023'], what: 'CreateVolume with mutable parameter XXX_FakeKey is refused', codes: ['INVALID_ARGUMENT'] });
    },
  });
}
