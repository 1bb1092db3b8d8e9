import { setTimeout as sleep } from 'node:timers/promises';
import type { CreateSnapshotRequest, ListSnapshotsRequest, Snapshot, Volume } from '../../specs/csi/index.js';
import type { CaseContext } from '../framework/index.js';
import { callController } from './csi-calls.js';
import type { CsiSubject } from './csi-subject.js';
import { describeOutcome } from './expect-status.js';
import { secretsFor } from './test-volumes.js';

type Ctx = CaseContext<CsiSubject>;

/** How long a snapshot may take to become ready before the suite gives up waiting. */
const readyTimeoutMs = 20_000;
const readyPollMs = 200;
/** Pages the suite follows before it calls a ListSnapshots token loop endless. */
const maxPages = 1000;

/** A CreateSnapshot request as the suite sends it by default: a unique name, the run's secrets. */
export function createSnapshotRequest(ctx: Ctx, sourceVolumeId: string, overrides: Partial<CreateSnapshotRequest> = {}): CreateSnapshotRequest {
  return {
    sourceVolumeId,
    name: ctx.uniqueName('kubeplug-snap'),
    secrets: secretsFor(ctx, 'CreateSnapshotSecret'),
    parameters: {},
    ...overrides,
  };
}

/** Registers the deletion of a snapshot (errors ignored: the case already judged the plugin). */
export function deferDeleteSnapshot(ctx: Ctx, snapshotId: string): void {
  ctx.defer(
    () => callController(ctx, 'deleteSnapshot', { snapshotId, secrets: secretsFor(ctx, 'DeleteSnapshotSecret') }),
    `delete snapshot ${snapshotId}`,
  );
}

/**
 * Cuts a snapshot the case needs as a precondition and registers its
 * deletion; a refusal stops the case citing `ids`.
 */
export async function createTestSnapshot(
  ctx: Ctx,
  options: { ids: readonly string[]; volume: Volume; request?: Partial<CreateSnapshotRequest> },
): Promise<{ snapshot: Snapshot; request: CreateSnapshotRequest }> {
  const request = createSnapshotRequest(ctx, options.volume.volumeId, options.request);
  const created = await callController(ctx, 'createSnapshot', request);
  const snapshot = created.ok ? created.response.snapshot : undefined;
  if (snapshot !== undefined && snapshot.snapshotId !== '') deferDeleteSnapshot(ctx, snapshot.snapshotId);
  ctx.require(snapshot !== undefined && snapshot.snapshotId !== '', {
    ids: options.ids,
    what: `CreateSnapshot "${request.name}" of ${options.volume.volumeId} succeeds with a snapshot ID`,
    expected: 'OK with a snapshot',
    got: created.ok ? created.response : describeOutcome(created),
  });
  return { snapshot: snapshot as Snapshot, request };
}

/**
 * Repeats the CreateSnapshot of a request, as a CO does, until the snapshot
 * reports ready_to_use; returns the last snapshot and whether it got ready.
 */
export async function waitUntilReady(ctx: Ctx, request: CreateSnapshotRequest, snapshot: Snapshot): Promise<{ snapshot: Snapshot; ready: boolean }> {
  let current = snapshot;
  const deadline = Date.now() + readyTimeoutMs;
  while (!current.readyToUse && Date.now() < deadline) {
    await sleep(readyPollMs);
    const again = await callController(ctx, 'createSnapshot', request);
    if (again.ok && again.response.snapshot !== undefined) current = again.response.snapshot;
  }
  return { snapshot: current, ready: current.readyToUse };
}

/**
 * Lists every snapshot matching a request by following next_token; stops the
 * case (citing `ids`) on a failed page or a token loop.
 */
export async function listAllSnapshots(
  ctx: Ctx,
  ids: readonly string[],
  request: Partial<ListSnapshotsRequest> = {},
): Promise<Snapshot[]> {
  const snapshots: Snapshot[] = [];
  let startingToken = request.startingToken ?? '';
  for (let page = 0; page < maxPages; page += 1) {
    const answer = await callController(ctx, 'listSnapshots', {
      maxEntries: 0,
      sourceVolumeId: '',
      snapshotId: '',
      secrets: secretsFor(ctx, 'ListSnapshotsSecret'),
      ...request,
      startingToken,
    });
    ctx.require(answer.ok, { ids, what: 'ListSnapshots succeeds', expected: 'OK', got: describeOutcome(answer) });
    snapshots.push(...answer.response.entries.flatMap((entry) => (entry.snapshot === undefined ? [] : [entry.snapshot])));
    if (answer.response.nextToken === '') return snapshots;
    startingToken = answer.response.nextToken;
  }
  ctx.require(false, { ids, what: `ListSnapshots paging ends within ${maxPages} pages`, expected: 'an empty next_token', got: startingToken });
  return snapshots;
}

/** What a complete snapshot lacks: an ID, a source volume, a creation time. */
export function missingSnapshotFields(snapshot: Snapshot | undefined): string[] {
  if (snapshot === undefined) return ['snapshot'];
  const missing: string[] = [];
  if (snapshot.snapshotId === '') missing.push('snapshot_id');
  if (snapshot.sourceVolumeId === '') missing.push('source_volume_id');
  if (snapshot.creationTime === undefined || snapshot.creationTime.getTime() === 0) missing.push('creation_time');
  return missing;
}
