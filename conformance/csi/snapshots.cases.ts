import fs from 'node:fs/promises';
import path from 'node:path';
import type { CaseContext, Suite } from '../framework/index.js';
import { callController } from './csi-calls.js';
import type { CsiSubject } from './csi-subject.js';
import { describeOutcome, expectStatus, statusOf } from './expect-status.js';
import { prepareNodeVolume, publishForCase, tryRead } from './node-volumes.js';
import {
  createSnapshotRequest,
  createTestSnapshot,
  deferDeleteSnapshot,
  listAllSnapshots,
  missingSnapshotFields,
  waitUntilReady,
} from './test-snapshots.js';
import { createTestVolume, createVolumeRequest, secretsFor } from './test-volumes.js';

type Ctx = CaseContext<CsiSubject>;

const snapshots = 'controller.CREATE_DELETE_SNAPSHOT';
const createsVolumes = 'controller.CREATE_DELETE_VOLUME';
/** How many identical CreateSnapshot calls are sent at once. */
const parallelCalls = 4;

/** Declares the CreateSnapshot and DeleteSnapshot cases (specs/csi/SPEC.md, CSI-SNAP). */
export function declareSnapshotCases(suite: Suite<CsiSubject>): void {
  suite.declare({
    ids: ['CSI-SNAP-002'],
    title: 'CreateSnapshot without a name or a source volume is refused with INVALID_ARGUMENT',
    needs: { capabilities: [snapshots, createsVolumes] },
    async run(ctx: Ctx) {
      const volume = await createTestVolume(ctx, { ids: ['CSI-SNAP-002'] });
      const noName = await callController(ctx, 'createSnapshot', createSnapshotRequest(ctx, volume.volumeId, { name: '' }));
      if (noName.ok && noName.response.snapshot !== undefined) deferDeleteSnapshot(ctx, noName.response.snapshot.snapshotId);
      expectStatus(ctx, noName, 'INVALID_ARGUMENT', { ids: ['CSI-SNAP-002'], what: 'CreateSnapshot without name' });
      const noSource = await callController(ctx, 'createSnapshot', createSnapshotRequest(ctx, ''));
      if (noSource.ok && noSource.response.snapshot !== undefined) deferDeleteSnapshot(ctx, noSource.response.snapshot.snapshotId);
      expectStatus(ctx, noSource, 'INVALID_ARGUMENT', { ids: ['CSI-SNAP-002'], what: 'CreateSnapshot without source_volume_id' });
    },
  });

  suite.declare({
    ids: ['CSI-SNAP-001', 'CSI-SNAP-003', 'CSI-SNAP-004', 'CSI-SNAP-005'],
    title: 'CreateSnapshot returns a complete snapshot, and the same one when asked again by name',
    needs: { capabilities: [snapshots, createsVolumes] },
    async run(ctx: Ctx) {
      const volume = await createTestVolume(ctx, { ids: ['CSI-SNAP-001'] });
      const { snapshot, request } = await createTestSnapshot(ctx, { ids: ['CSI-SNAP-001'], volume });
      ctx.check(missingSnapshotFields(snapshot).length === 0 && snapshot.sourceVolumeId === volume.volumeId, {
        ids: ['CSI-SNAP-003'],
        what: 'the snapshot has an ID, the source volume asked for, and a creation time',
        expected: { sourceVolumeId: volume.volumeId, missing: [] },
        got: { sourceVolumeId: snapshot.sourceVolumeId, missing: missingSnapshotFields(snapshot) },
      });
      ctx.check(snapshot.sizeBytes >= 0n, { ids: ['CSI-SNAP-004'], what: 'size_bytes is not negative', expected: '>= 0', got: snapshot.sizeBytes.toString() });
      const again = await callController(ctx, 'createSnapshot', request);
      expectStatus(ctx, again, 'OK', { ids: ['CSI-SNAP-005'], what: 'CreateSnapshot again with the same name and source' });
      const second = again.ok ? again.response.snapshot : undefined;
      if (second !== undefined && second.snapshotId !== snapshot.snapshotId) deferDeleteSnapshot(ctx, second.snapshotId);
      ctx.check(second?.snapshotId === snapshot.snapshotId, {
        ids: ['CSI-SNAP-005'],
        what: 'the repeated CreateSnapshot returns the same snapshot',
        expected: snapshot.snapshotId,
        got: second?.snapshotId ?? describeOutcome(again),
      });
      const deleted = await callController(ctx, 'deleteSnapshot', { snapshotId: snapshot.snapshotId, secrets: secretsFor(ctx, 'DeleteSnapshotSecret') });
      expectStatus(ctx, deleted, 'OK', { ids: ['CSI-SNAP-001'], what: 'DeleteSnapshot of the snapshot' });
    },
  });

  suite.declare({
    ids: ['CSI-SNAP-006'],
    title: 'CreateSnapshot with a taken name but another source volume fails with ALREADY_EXISTS',
    needs: { capabilities: [snapshots, createsVolumes] },
    async run(ctx: Ctx) {
      const first = await createTestVolume(ctx, { ids: ['CSI-SNAP-006'] });
      const other = await createTestVolume(ctx, { ids: ['CSI-SNAP-006'] });
      const { snapshot, request } = await createTestSnapshot(ctx, { ids: ['CSI-SNAP-006'], volume: first });
      const clash = await callController(ctx, 'createSnapshot', { ...request, sourceVolumeId: other.volumeId });
      if (clash.ok && clash.response.snapshot !== undefined && clash.response.snapshot.snapshotId !== snapshot.snapshotId) {
        deferDeleteSnapshot(ctx, clash.response.snapshot.snapshotId);
      }
      expectStatus(ctx, clash, 'ALREADY_EXISTS', { ids: ['CSI-SNAP-006'], what: `CreateSnapshot "${request.name}" of another volume` });
    },
  });

  suite.declare({
    ids: ['CSI-SNAP-007'],
    title: 'CreateSnapshot accepts a 128-byte name and a name with spaces and non-ASCII letters',
    needs: { capabilities: [snapshots, createsVolumes] },
    async run(ctx: Ctx) {
      const volume = await createTestVolume(ctx, { ids: ['CSI-SNAP-007'] });
      const base = ctx.uniqueName('kubeplug-snap-max');
      const names = [
        { label: 'a 128-byte name', name: base + 'x'.repeat(128 - Buffer.byteLength(base)) },
        { label: 'a name with spaces and non-ASCII letters', name: `${ctx.uniqueName('Schnappschuss')} für Ünïcödé` },
      ];
      for (const { label, name } of names) {
        const created = await callController(ctx, 'createSnapshot', createSnapshotRequest(ctx, volume.volumeId, { name }));
        if (created.ok && created.response.snapshot !== undefined) deferDeleteSnapshot(ctx, created.response.snapshot.snapshotId);
        expectStatus(ctx, created, 'OK', { ids: ['CSI-SNAP-007'], what: `CreateSnapshot with ${label} (${Buffer.byteLength(name)} bytes)` });
      }
    },
  });

  suite.declare({
    ids: ['CSI-SNAP-008'],
    title: 'A snapshot is listed as soon as CreateSnapshot answers',
    needs: { capabilities: [snapshots, createsVolumes, 'controller.LIST_SNAPSHOTS'] },
    async run(ctx: Ctx) {
      const volume = await createTestVolume(ctx, { ids: ['CSI-SNAP-008'] });
      const { snapshot } = await createTestSnapshot(ctx, { ids: ['CSI-SNAP-008'], volume });
      const listed = await listAllSnapshots(ctx, ['CSI-SNAP-008'], { snapshotId: snapshot.snapshotId });
      ctx.check(listed.some((entry) => entry.snapshotId === snapshot.snapshotId), {
        ids: ['CSI-SNAP-008'],
        what: 'ListSnapshots right after CreateSnapshot finds the snapshot',
        expected: snapshot.snapshotId,
        got: listed.map((entry) => entry.snapshotId),
      });
    },
  });

  suite.declare({
    ids: ['CSI-SNAP-009'],
    title: 'A snapshot becomes ready to use when CreateSnapshot is repeated',
    needs: { capabilities: [snapshots, createsVolumes] },
    async run(ctx: Ctx) {
      const volume = await createTestVolume(ctx, { ids: ['CSI-SNAP-009'] });
      const { snapshot, request } = await createTestSnapshot(ctx, { ids: ['CSI-SNAP-009'], volume });
      const { ready } = await waitUntilReady(ctx, request, snapshot);
      ctx.check(ready, { ids: ['CSI-SNAP-009'], what: 'ready_to_use turns true', expected: true, got: ready });
    },
  });

  suite.declare({
    ids: ['CSI-SNAP-012'],
    title: 'Identical CreateSnapshot calls sent at once cut one snapshot',
    needs: { capabilities: [snapshots, createsVolumes] },
    async run(ctx: Ctx) {
      const volume = await createTestVolume(ctx, { ids: ['CSI-SNAP-012'] });
      const request = createSnapshotRequest(ctx, volume.volumeId);
      const outcomes = await Promise.all(Array.from({ length: parallelCalls }, () => callController(ctx, 'createSnapshot', request)));
      const ids = new Set(outcomes.flatMap((outcome) => (outcome.ok && outcome.response.snapshot !== undefined ? [outcome.response.snapshot.snapshotId] : [])));
      ids.forEach((snapshotId) => deferDeleteSnapshot(ctx, snapshotId));
      ctx.check(outcomes.every((outcome) => ['OK', 'ABORTED'].includes(statusOf(outcome))), {
        ids: ['CSI-SNAP-012'],
        what: `${parallelCalls} simultaneous identical CreateSnapshot calls each answer OK or ABORTED`,
        expected: 'OK | ABORTED',
        got: outcomes.map(describeOutcome),
      });
      ctx.check(ids.size <= 1, {
        ids: ['CSI-SNAP-012'],
        what: 'the calls that succeeded all returned the same snapshot',
        expected: 'one snapshot_id',
        got: [...ids],
      });
      if (ctx.subject.capabilities.has('controller.LIST_SNAPSHOTS')) {
        const listed = await listAllSnapshots(ctx, ['CSI-SNAP-012'], { sourceVolumeId: volume.volumeId });
        listed.forEach((entry) => deferDeleteSnapshot(ctx, entry.snapshotId));
        ctx.check(listed.length <= 1, {
          ids: ['CSI-SNAP-012'],
          what: 'ListSnapshots of the source volume shows at most one snapshot',
          expected: '<= 1',
          got: listed.map((entry) => entry.snapshotId),
        });
      }
    },
  });

  suite.declare({
    ids: ['CSI-SNAP-013', 'CSI-SNAP-014'],
    title: 'A volume created from a snapshot holds what the source held at the cut, and no less space',
    needs: { capabilities: [snapshots, createsVolumes] },
    timeoutMs: 60_000,
    async run(ctx: Ctx) {
      const source = await prepareNodeVolume(ctx, { ids: ['CSI-SNAP-013'] });
      const sourceTarget = await publishForCase(ctx, source, { ids: ['CSI-SNAP-013'] });
      const before = `before the cut ${ctx.uniqueName('data')}`;
      // The CO's freeze: data reaches the volume before the cut, as an application-consistent snapshot needs.
      await writeDurably(path.join(sourceTarget, 'kubeplug-before'), before);
      const { snapshot, request } = await createTestSnapshot(ctx, { ids: ['CSI-SNAP-013'], volume: source.volume });
      await writeDurably(path.join(sourceTarget, 'kubeplug-after'), 'after the cut');
      const { snapshot: ready } = await waitUntilReady(ctx, request, snapshot);
      ctx.require(ready.readyToUse, { ids: ['CSI-SNAP-013'], what: 'the snapshot becomes ready to use', expected: true, got: ready.readyToUse });

      const restored = await callController(
        ctx,
        'createVolume',
        createVolumeRequest(ctx, { volumeContentSource: { type: { $case: 'snapshot', value: { snapshotId: snapshot.snapshotId } } } }),
      );
      const volume = restored.ok ? restored.response.volume : undefined;
      if (volume !== undefined) {
        ctx.defer(() => callController(ctx, 'deleteVolume', { volumeId: volume.volumeId, secrets: secretsFor(ctx, 'DeleteVolumeSecret') }), `delete volume ${volume.volumeId}`);
      }
      ctx.require(volume !== undefined, {
        ids: ['CSI-SNAP-013'],
        what: 'CreateVolume from the snapshot succeeds',
        expected: 'OK with a volume',
        got: describeOutcome(restored),
      });
      if (volume === undefined) return;
      ctx.check(volume.capacityBytes === 0n || ready.sizeBytes === 0n || volume.capacityBytes >= ready.sizeBytes, {
        ids: ['CSI-SNAP-014'],
        what: 'the new volume is not smaller than the snapshot',
        expected: `capacity_bytes >= ${ready.sizeBytes} (or a size unknown)`,
        got: volume.capacityBytes.toString(),
      });
      const copy = await prepareNodeVolume(ctx, { ids: ['CSI-SNAP-013'], volume });
      const copyTarget = await publishForCase(ctx, copy, { ids: ['CSI-SNAP-013'] });
      ctx.check((await tryRead(path.join(copyTarget, 'kubeplug-before'))) === before, {
        ids: ['CSI-SNAP-013'],
        what: 'the file written before the cut is in the new volume, same content',
        expected: before,
        got: (await tryRead(path.join(copyTarget, 'kubeplug-before'))) ?? 'no such file',
      });
      ctx.check((await tryRead(path.join(copyTarget, 'kubeplug-after'))) === undefined, {
        ids: ['CSI-SNAP-013'],
        what: 'the file written after the cut is not in the new volume',
        expected: 'no such file',
        got: (await tryRead(path.join(copyTarget, 'kubeplug-after'))) ?? 'no such file',
      });
    },
  });

  suite.declare({
    ids: ['CSI-SNAP-015'],
    title: 'DeleteSnapshot without a snapshot ID is refused with INVALID_ARGUMENT',
    needs: { capabilities: [snapshots] },
    async run(ctx: Ctx) {
      const answer = await callController(ctx, 'deleteSnapshot', { snapshotId: '', secrets: secretsFor(ctx, 'DeleteSnapshotSecret') });
      expectStatus(ctx, answer, 'INVALID_ARGUMENT', { ids: ['CSI-SNAP-015'], what: 'DeleteSnapshot without snapshot_id' });
    },
  });

  suite.declare({
    ids: ['CSI-SNAP-016'],
    title: 'DeleteSnapshot of a snapshot that does not exist, or no longer exists, answers OK',
    needs: { capabilities: [snapshots, createsVolumes] },
    async run(ctx: Ctx) {
      const unknown = await callController(ctx, 'deleteSnapshot', { snapshotId: ctx.uniqueName('kubeplug-no-such-snap'), secrets: secretsFor(ctx, 'DeleteSnapshotSecret') });
      expectStatus(ctx, unknown, 'OK', { ids: ['CSI-SNAP-016'], what: 'DeleteSnapshot of an ID that never existed' });
      const volume = await createTestVolume(ctx, { ids: ['CSI-SNAP-016'] });
      const { snapshot } = await createTestSnapshot(ctx, { ids: ['CSI-SNAP-016'], volume });
      const request = { snapshotId: snapshot.snapshotId, secrets: secretsFor(ctx, 'DeleteSnapshotSecret') };
      const first = await callController(ctx, 'deleteSnapshot', request);
      ctx.require(first.ok, { ids: ['CSI-SNAP-016'], what: 'DeleteSnapshot of the snapshot', expected: 'OK', got: describeOutcome(first) });
      const twice = await callController(ctx, 'deleteSnapshot', request);
      expectStatus(ctx, twice, 'OK', { ids: ['CSI-SNAP-016'], what: 'DeleteSnapshot again of the deleted snapshot' });
    },
  });

  suite.declare({
    ids: ['CSI-SNAP-017'],
    title: 'A deleted snapshot is no longer listed and cannot be the source of a volume',
    needs: { capabilities: [snapshots, createsVolumes] },
    async run(ctx: Ctx) {
      const volume = await createTestVolume(ctx, { ids: ['CSI-SNAP-017'] });
      const { snapshot } = await createTestSnapshot(ctx, { ids: ['CSI-SNAP-017'], volume });
      ctx.check(snapshot.groupSnapshotId === '', {
        ids: ['CSI-SNAP-017'],
        what: 'a snapshot cut alone belongs to no group',
        expected: '',
        got: snapshot.groupSnapshotId,
      });
      const deleted = await callController(ctx, 'deleteSnapshot', { snapshotId: snapshot.snapshotId, secrets: secretsFor(ctx, 'DeleteSnapshotSecret') });
      expectStatus(ctx, deleted, 'OK', { ids: ['CSI-SNAP-017'], what: 'DeleteSnapshot of a snapshot cut alone' });
      if (ctx.subject.capabilities.has('controller.LIST_SNAPSHOTS')) {
        const listed = await listAllSnapshots(ctx, ['CSI-SNAP-017'], { sourceVolumeId: volume.volumeId });
        ctx.check(!listed.some((entry) => entry.snapshotId === snapshot.snapshotId), {
          ids: ['CSI-SNAP-017'],
          what: 'ListSnapshots no longer reports the deleted snapshot',
          expected: 'absent',
          got: listed.map((entry) => entry.snapshotId),
        });
      }
      const restored = await callController(
        ctx,
        'createVolume',
        createVolumeRequest(ctx, { volumeContentSource: { type: { $case: 'snapshot', value: { snapshotId: snapshot.snapshotId } } } }),
      );
      if (restored.ok && restored.response.volume !== undefined) {
        const made = restored.response.volume;
        ctx.defer(() => callController(ctx, 'deleteVolume', { volumeId: made.volumeId, secrets: secretsFor(ctx, 'DeleteVolumeSecret') }));
      }
      expectStatus(ctx, restored, 'NOT_FOUND', { ids: ['CSI-SNAP-017'], what: 'CreateVolume from the deleted snapshot' });
    },
  });
}

/** Writes a file and flushes it and its folder to the volume. */
async function writeDurably(file: string, content: string): Promise<void> {
  const handle = await fs.open(file, 'w');
  try {
    await handle.writeFile(content);
    await handle.sync();
  } finally {
    await handle.close();
  }
  const folder = await fs.open(path.dirname(file), 'r');
  try {
    await folder.sync();
  } finally {
    await folder.close();
  }
}
