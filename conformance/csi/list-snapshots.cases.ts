import type { Snapshot } from '../../specs/csi/index.js';
import type { CaseContext, Suite } from '../framework/index.js';
import { callController } from './csi-calls.js';
import type { CsiSubject } from './csi-subject.js';
import { describeOutcome, expectStatus, unknownVolumeId } from './expect-status.js';
import { createTestSnapshot, listAllSnapshots, missingSnapshotFields, waitUntilReady } from './test-snapshots.js';
import { createTestVolume, secretsFor } from './test-volumes.js';

type Ctx = CaseContext<CsiSubject>;

const lists = 'controller.LIST_SNAPSHOTS';
const snapshots = 'controller.CREATE_DELETE_SNAPSHOT';
const createsVolumes = 'controller.CREATE_DELETE_VOLUME';
/** csi-sanity pages with 2 entries over at least 5 snapshots; so does the suite. */
const pageSize = 2;
const leastSnapshotsForPaging = 5;

/** Declares the ListSnapshots and GetSnapshot cases (specs/csi/SPEC.md, CSI-SNAP). */
export function declareListSnapshotsCases(suite: Suite<CsiSubject>): void {
  suite.declare({
    ids: ['CSI-SNAP-019'],
    title: 'ListSnapshots answers with complete snapshots',
    needs: { capabilities: [lists] },
    async run(ctx: Ctx) {
      if (ctx.subject.capabilities.has(snapshots) && ctx.subject.capabilities.has(createsVolumes)) {
        const volume = await createTestVolume(ctx, { ids: ['CSI-SNAP-019'] });
        await createTestSnapshot(ctx, { ids: ['CSI-SNAP-019'], volume });
      }
      const listed = await listAllSnapshots(ctx, ['CSI-SNAP-019']);
      const incomplete = listed.filter((snapshot) => missingSnapshotFields(snapshot).length > 0 || snapshot.sizeBytes < 0n);
      ctx.check(incomplete.length === 0, {
        ids: ['CSI-SNAP-019'],
        what: `every one of the ${listed.length} listed snapshots has an ID, a source volume and a creation time`,
        expected: 'no entry missing a field',
        got: incomplete.map((snapshot) => ({ snapshotId: snapshot.snapshotId, missing: missingSnapshotFields(snapshot) })),
      });
    },
  });

  suite.declare({
    ids: ['CSI-SNAP-020'],
    title: 'ListSnapshots shows a snapshot once it is created and no longer once it is deleted',
    needs: { capabilities: [lists, snapshots, createsVolumes] },
    async run(ctx: Ctx) {
      const volume = await createTestVolume(ctx, { ids: ['CSI-SNAP-020'] });
      const before = await listAllSnapshots(ctx, ['CSI-SNAP-020']);
      const { snapshot } = await createTestSnapshot(ctx, { ids: ['CSI-SNAP-020'], volume });
      const during = await listAllSnapshots(ctx, ['CSI-SNAP-020']);
      ctx.check(idsOf(during).includes(snapshot.snapshotId) && !idsOf(before).includes(snapshot.snapshotId), {
        ids: ['CSI-SNAP-020'],
        what: 'the new snapshot is listed, and was not before',
        expected: snapshot.snapshotId,
        got: { before: before.length, after: during.length, listed: idsOf(during).includes(snapshot.snapshotId) },
      });
      const deleted = await callController(ctx, 'deleteSnapshot', { snapshotId: snapshot.snapshotId, secrets: secretsFor(ctx, 'DeleteSnapshotSecret') });
      ctx.require(deleted.ok, { ids: ['CSI-SNAP-020'], what: 'DeleteSnapshot succeeds', expected: 'OK', got: describeOutcome(deleted) });
      const after = await listAllSnapshots(ctx, ['CSI-SNAP-020']);
      ctx.check(!idsOf(after).includes(snapshot.snapshotId), {
        ids: ['CSI-SNAP-020'],
        what: 'the deleted snapshot is no longer listed',
        expected: 'absent',
        got: idsOf(after).includes(snapshot.snapshotId) ? 'still listed' : 'absent',
      });
    },
  });

  suite.declare({
    ids: ['CSI-SNAP-021'],
    title: 'ListSnapshots by snapshot ID returns that snapshot alone, and nothing for an unknown ID',
    needs: { capabilities: [lists, snapshots, createsVolumes] },
    async run(ctx: Ctx) {
      // Snapshot IDs tell snapshots apart whatever their source, so one volume serves all three.
      const volume = await createTestVolume(ctx, { ids: ['CSI-SNAP-021'] });
      const made: Snapshot[] = [];
      for (let index = 0; index < 3; index += 1) made.push((await createTestSnapshot(ctx, { ids: ['CSI-SNAP-021'], volume })).snapshot);
      const target = made[1]!;
      const listed = await listAllSnapshots(ctx, ['CSI-SNAP-021'], { snapshotId: target.snapshotId });
      ctx.check(listed.length === 1 && listed[0]?.snapshotId === target.snapshotId && missingSnapshotFields(listed[0]).length === 0, {
        ids: ['CSI-SNAP-021'],
        what: 'ListSnapshots with snapshot_id returns exactly that complete snapshot',
        expected: [target.snapshotId],
        got: idsOf(listed),
      });
      const none = await listAllSnapshots(ctx, ['CSI-SNAP-021'], { snapshotId: ctx.uniqueName('kubeplug-no-such-snap') });
      ctx.check(none.length === 0, { ids: ['CSI-SNAP-021'], what: 'ListSnapshots with an unknown snapshot_id returns no entry', expected: [], got: idsOf(none) });
    },
  });

  suite.declare({
    ids: ['CSI-SNAP-022'],
    title: 'ListSnapshots by source volume returns only that volume\'s snapshots, and nothing for an unknown volume',
    needs: { capabilities: [lists, snapshots, createsVolumes] },
    async run(ctx: Ctx) {
      const made = await threeSnapshots(ctx, 'CSI-SNAP-022');
      const target = made[1]!;
      const listed = await listAllSnapshots(ctx, ['CSI-SNAP-022'], { sourceVolumeId: target.sourceVolumeId });
      ctx.check(listed.length === 1 && listed[0]?.snapshotId === target.snapshotId && listed[0].sourceVolumeId === target.sourceVolumeId, {
        ids: ['CSI-SNAP-022'],
        what: 'ListSnapshots with source_volume_id returns the one snapshot of that volume',
        expected: [target.snapshotId],
        got: listed.map((snapshot) => `${snapshot.snapshotId} of ${snapshot.sourceVolumeId}`),
      });
      const none = await listAllSnapshots(ctx, ['CSI-SNAP-022'], { sourceVolumeId: unknownVolumeId(ctx) });
      ctx.check(none.length === 0, { ids: ['CSI-SNAP-022'], what: 'ListSnapshots with an unknown source_volume_id returns no entry', expected: [], got: idsOf(none) });
    },
  });

  suite.declare({
    ids: ['CSI-SNAP-023'],
    title: 'ListSnapshots pages by max_entries, and following next_token yields every snapshot once',
    needs: { capabilities: [lists, snapshots, createsVolumes] },
    async run(ctx: Ctx) {
      const volume = await createTestVolume(ctx, { ids: ['CSI-SNAP-023'] });
      const made: string[] = [];
      for (let index = 0; index < leastSnapshotsForPaging; index += 1) {
        made.push((await createTestSnapshot(ctx, { ids: ['CSI-SNAP-023'], volume })).snapshot.snapshotId);
      }
      const all = idsOf(await listAllSnapshots(ctx, ['CSI-SNAP-023']));
      const paged: string[] = [];
      const pageSizes: number[] = [];
      let startingToken = '';
      let tokenMissing = false;
      for (let page = 0; page < all.length + 2; page += 1) {
        const answer = await callController(ctx, 'listSnapshots', {
          maxEntries: pageSize,
          startingToken,
          sourceVolumeId: '',
          snapshotId: '',
          secrets: secretsFor(ctx, 'ListSnapshotsSecret'),
        });
        ctx.require(answer.ok, { ids: ['CSI-SNAP-023'], what: 'ListSnapshots with max_entries succeeds', expected: 'OK', got: describeOutcome(answer) });
        pageSizes.push(answer.response.entries.length);
        paged.push(...answer.response.entries.flatMap((entry) => (entry.snapshot === undefined ? [] : [entry.snapshot.snapshotId])));
        startingToken = answer.response.nextToken;
        if (startingToken === '') {
          tokenMissing = paged.length < all.length;
          break;
        }
      }
      ctx.check(pageSizes.every((size) => size <= pageSize), {
        ids: ['CSI-SNAP-023'],
        what: `no page holds more than max_entries (${pageSize}) entries`,
        expected: `<= ${pageSize} each`,
        got: pageSizes,
      });
      ctx.check(!tokenMissing && startingToken === '', {
        ids: ['CSI-SNAP-023'],
        what: 'next_token is set while entries remain, and empty on the last page',
        expected: `${all.length} entries over ${Math.ceil(all.length / pageSize)} pages`,
        got: { entries: paged.length, pages: pageSizes.length },
      });
      // csi-sanity's form: after a first page, the token with no max_entries yields every remaining entry at once.
      const firstPage = await callController(ctx, 'listSnapshots', { maxEntries: pageSize, startingToken: '', sourceVolumeId: '', snapshotId: '', secrets: secretsFor(ctx, 'ListSnapshotsSecret') });
      ctx.require(firstPage.ok, { ids: ['CSI-SNAP-023'], what: 'ListSnapshots with max_entries succeeds', expected: 'OK', got: describeOutcome(firstPage) });
      const rest = await callController(ctx, 'listSnapshots', { maxEntries: 0, startingToken: firstPage.response.nextToken, sourceVolumeId: '', snapshotId: '', secrets: secretsFor(ctx, 'ListSnapshotsSecret') });
      ctx.check(rest.ok && firstPage.response.entries.length + rest.response.entries.length === all.length && rest.response.nextToken === '', {
        ids: ['CSI-SNAP-023'],
        what: `the first ${pageSize} entries and then the rest without max_entries make up the whole list`,
        expected: `${pageSize} + ${all.length - pageSize} entries, no further token`,
        got: rest.ok ? `${firstPage.response.entries.length} + ${rest.response.entries.length}, next_token ${JSON.stringify(rest.response.nextToken)}` : describeOutcome(rest),
      });
      const missing = made.filter((id) => !paged.includes(id));
      ctx.check(missing.length === 0 && new Set(paged).size === paged.length, {
        ids: ['CSI-SNAP-023'],
        what: 'the pages together hold every snapshot the case made, none twice',
        expected: { missing: [], duplicates: 0 },
        got: { missing, duplicates: paged.length - new Set(paged).size },
      });
    },
  });

  suite.declare({
    ids: ['CSI-SNAP-024'],
    title: 'ListSnapshots with a starting token the plugin never issued fails with ABORTED',
    needs: { capabilities: [lists] },
    async run(ctx: Ctx) {
      const answer = await callController(ctx, 'listSnapshots', {
        maxEntries: 0,
        startingToken: 'kubeplug-token-never-issued',
        sourceVolumeId: '',
        snapshotId: '',
        secrets: secretsFor(ctx, 'ListSnapshotsSecret'),
      });
      expectStatus(ctx, answer, 'ABORTED', { ids: ['CSI-SNAP-024'], what: 'ListSnapshots with an invalid starting_token' });
    },
  });

  suite.declare({
    ids: ['CSI-SNAP-026'],
    title: 'ListSnapshots reports a processed snapshot as ready to use',
    needs: { capabilities: [lists, snapshots, createsVolumes] },
    async run(ctx: Ctx) {
      const volume = await createTestVolume(ctx, { ids: ['CSI-SNAP-026'] });
      const { snapshot, request } = await createTestSnapshot(ctx, { ids: ['CSI-SNAP-026'], volume });
      const { ready } = await waitUntilReady(ctx, request, snapshot);
      if (!ready) ctx.notApplicable('the snapshot never became ready (judged by CSI-SNAP-009)');
      const listed = await listAllSnapshots(ctx, ['CSI-SNAP-026'], { snapshotId: snapshot.snapshotId });
      ctx.check(listed[0]?.readyToUse === true, {
        ids: ['CSI-SNAP-026'],
        what: 'ListSnapshots reports ready_to_use true once CreateSnapshot does',
        expected: true,
        got: listed[0]?.readyToUse ?? 'not listed',
      });
    },
  });

  suite.declare({
    ids: ['CSI-SNAP-027'],
    title: 'GetSnapshot returns the snapshot as created',
    needs: { capabilities: ['controller.GET_SNAPSHOT', snapshots, createsVolumes] },
    async run(ctx: Ctx) {
      const volume = await createTestVolume(ctx, { ids: ['CSI-SNAP-027'] });
      const { snapshot } = await createTestSnapshot(ctx, { ids: ['CSI-SNAP-027'], volume });
      const answer = await callController(ctx, 'getSnapshot', { snapshotId: snapshot.snapshotId, secrets: {} });
      if (!expectStatus(ctx, answer, 'OK', { ids: ['CSI-SNAP-027'], what: 'GetSnapshot of the snapshot' }) || !answer.ok) return;
      const got = answer.response.snapshot;
      ctx.check(got?.snapshotId === snapshot.snapshotId && got.sourceVolumeId === volume.volumeId && missingSnapshotFields(got).length === 0, {
        ids: ['CSI-SNAP-027'],
        what: 'GetSnapshot returns the same snapshot ID and source volume, with a creation time',
        expected: { snapshotId: snapshot.snapshotId, sourceVolumeId: volume.volumeId },
        got: got ?? null,
      });
    },
  });

  suite.declare({
    ids: ['CSI-SNAP-028'],
    title: 'GetSnapshot of a snapshot that does not exist fails with NOT_FOUND',
    needs: { capabilities: ['controller.GET_SNAPSHOT'] },
    async run(ctx: Ctx) {
      const answer = await callController(ctx, 'getSnapshot', { snapshotId: ctx.uniqueName('kubeplug-no-such-snap'), secrets: {} });
      expectStatus(ctx, answer, 'NOT_FOUND', { ids: ['CSI-SNAP-028'], what: 'GetSnapshot of an unknown snapshot ID' });
    },
  });
}

/** Three snapshots of three volumes, as csi-sanity's filter tests make them: one target between two others. */
async function threeSnapshots(ctx: Ctx, id: string): Promise<Snapshot[]> {
  const made: Snapshot[] = [];
  for (let index = 0; index < 3; index += 1) {
    const volume = await createTestVolume(ctx, { ids: [id] });
    made.push((await createTestSnapshot(ctx, { ids: [id], volume })).snapshot);
  }
  return made;
}

function idsOf(snapshots: readonly Snapshot[]): string[] {
  return snapshots.map((snapshot) => snapshot.snapshotId);
}
