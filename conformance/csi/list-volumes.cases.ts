import type { ListVolumesResponse_Entry } from '../../specs/csi/index.js';
import type { CaseContext, Suite } from '../framework/index.js';
import { callController } from './csi-calls.js';
import type { CsiSubject } from './csi-subject.js';
import {
  byteLength,
  deleteVolume,
  expectStatus,
  sameMap,
  stringLimitBytes,
} from './controller-expect.js';
import { describeOutcome } from './expect-status.js';
import { publishedTestVolume } from './controller-publish.cases.js';
import { listAllVolumes } from './volume-presence.js';
import { createTestVolume } from './test-volumes.js';

type Ctx = CaseContext<CsiSubject>;

const listing = 'controller.LIST_VOLUMES';
const createDelete = 'controller.CREATE_DELETE_VOLUME';

function idsOf(entries: readonly ListVolumesResponse_Entry[]): string[] {
  return entries.map((entry) => entry.volume?.volumeId ?? '');
}

/** Declares the ListVolumes cases (CSI-CTRL-046…051). */
export function declareListVolumesCases(suite: Suite<CsiSubject>): void {
  suite.declare({
    ids: ['CSI-CTRL-046'],
    title: 'ListVolumes answers with entries that each carry a volume ID',
    needs: { capabilities: [listing] },
    async run(ctx: Ctx) {
      const entries = await listAllVolumes(ctx, ['CSI-CTRL-046']);
      const malformed = entries.filter((entry) => entry.volume === undefined || entry.volume.volumeId === '');
      ctx.check(malformed.length === 0, {
        ids: ['CSI-CTRL-046'],
        what: 'every entry has a volume with a non-empty volume_id',
        expected: 'no malformed entry',
        got: malformed.length === 0 ? `${entries.length} well-formed entries` : malformed,
      });
    },
  });

  suite.declare({
    ids: ['CSI-CTRL-047', 'CSI-CTRL-024'],
    title: 'ListVolumes lists a new volume with its volume context and drops it once deleted',
    needs: { capabilities: [listing, createDelete] },
    async run(ctx: Ctx) {
      const before = idsOf(await listAllVolumes(ctx, ['CSI-CTRL-047']));
      const volume = await createTestVolume(ctx, { ids: ['CSI-CTRL-047'] });
      const during = await listAllVolumes(ctx, ['CSI-CTRL-047']);
      const entry = during.find((item) => item.volume?.volumeId === volume.volumeId);
      ctx.check(entry !== undefined && !before.includes(volume.volumeId), {
        ids: ['CSI-CTRL-047'],
        what: 'the new volume is listed after CreateVolume and was not before',
        expected: volume.volumeId,
        got: idsOf(during),
      });
      if (entry?.volume !== undefined) {
        ctx.check(sameMap(entry.volume.volumeContext, volume.volumeContext), {
          ids: ['CSI-CTRL-024'],
          what: 'the listed volume_context is the one CreateVolume returned',
          expected: volume.volumeContext,
          got: entry.volume.volumeContext,
        });
      }
      const deleted = await deleteVolume(ctx, volume.volumeId);
      ctx.require(deleted.ok, { ids: ['CSI-CTRL-047'], what: 'DeleteVolume succeeds', expected: 'OK', got: describeOutcome(deleted) });
      const after = idsOf(await listAllVolumes(ctx, ['CSI-CTRL-047']));
      ctx.check(!after.includes(volume.volumeId), {
        ids: ['CSI-CTRL-047'],
        what: 'the deleted volume is no longer listed',
        expected: `no ${volume.volumeId}`,
        got: after,
      });
    },
  });

  suite.declare({
    ids: ['CSI-CTRL-048'],
    title: 'ListVolumes pages by max_entries and next_token and reaches every volume',
    needs: { capabilities: [listing, createDelete] },
    async run(ctx: Ctx) {
      const created: string[] = [];
      for (let index = 0; index < 3; index += 1) created.push((await createTestVolume(ctx, { ids: ['CSI-CTRL-048'] })).volumeId);
      const first = await callController(ctx, 'listVolumes', { maxEntries: 1, startingToken: '' });
      ctx.require(first.ok, { what: 'ListVolumes with max_entries 1 succeeds', expected: 'OK', got: describeOutcome(first) });
      ctx.check(first.response.entries.length <= 1 && first.response.nextToken !== '', {
        what: 'with three volumes or more, a page of max_entries 1 holds one entry at most and sets next_token',
        expected: '<= 1 entry and a next_token',
        got: { entries: first.response.entries.length, nextToken: first.response.nextToken },
      });
      for (const maxEntries of [1, 2]) {
        const paged = idsOf(await listAllVolumes(ctx, ['CSI-CTRL-048'], maxEntries));
        const missing = created.filter((id) => !paged.includes(id));
        ctx.check(missing.length === 0, {
          what: `paging with max_entries ${maxEntries} reaches every volume made`,
          expected: created,
          got: missing.length === 0 ? paged : { missing, listed: paged },
        });
      }
    },
  });

  suite.declare({
    ids: ['CSI-CTRL-049', 'CSI-GEN-005'],
    title: 'ListVolumes refuses a starting token it never issued with ABORTED and a negative max_entries with INVALID_ARGUMENT',
    needs: { capabilities: [listing] },
    async run(ctx: Ctx) {
      const invalid = await callController(ctx, 'listVolumes', { maxEntries: 0, startingToken: 'kubeplug-invalid-token' });
      expectStatus(ctx, invalid, { ids: ['CSI-CTRL-049'], what: 'ListVolumes with starting_token "kubeplug-invalid-token" is refused', codes: ['ABORTED'] });
      const negative = await callController(ctx, 'listVolumes', { maxEntries: -1, startingToken: '' });
      expectStatus(ctx, negative, { ids: ['CSI-GEN-005'], what: 'ListVolumes with max_entries -1 is refused', codes: ['INVALID_ARGUMENT'] });
    },
  });

  suite.declare({
    ids: ['CSI-CTRL-050'],
    title: 'ListVolumes reports the node a volume is published at',
    needs: { capabilities: [listing, createDelete, 'controller.PUBLISH_UNPUBLISH_VOLUME', 'controller.LIST_VOLUMES_PUBLISHED_NODES'] },
    async run(ctx: Ctx) {
      const { volume, nodeId } = await publishedTestVolume(ctx, ['CSI-CTRL-050']);
      const entries = await listAllVolumes(ctx, ['CSI-CTRL-050']);
      const withoutStatus = entries.filter((entry) => entry.status === undefined).map((entry) => entry.volume?.volumeId);
      ctx.check(withoutStatus.length === 0, { what: 'every entry has a status', expected: 'status set', got: withoutStatus });
      const entry = entries.find((item) => item.volume?.volumeId === volume.volumeId);
      ctx.check(entry?.status?.publishedNodeIds.includes(nodeId) === true, {
        what: 'the published volume lists the node in published_node_ids',
        expected: nodeId,
        got: entry?.status ?? 'no entry or no status',
      });
    },
  });

  suite.declare({
    ids: ['CSI-CTRL-051', 'CSI-GEN-012'],
    title: 'ListVolumes reports the condition of every volume',
    needs: { capabilities: [listing, createDelete, 'controller.VOLUME_CONDITION'] },
    async run(ctx: Ctx) {
      await createTestVolume(ctx, { ids: ['CSI-CTRL-051'] });
      const entries = await listAllVolumes(ctx, ['CSI-CTRL-051']);
      const without = entries.filter((entry) => (entry.status?.volumeCondition?.message ?? '') === '');
      ctx.check(without.length === 0, {
        ids: ['CSI-CTRL-051'],
        what: 'every entry has status.volume_condition with a message',
        expected: 'volume_condition set',
        got: without.length === 0 ? 'all set' : without,
      });
      const long = entries.filter((entry) => byteLength(entry.status?.volumeCondition?.message ?? '') > stringLimitBytes);
      ctx.check(long.length === 0, { ids: ['CSI-GEN-012'], what: 'condition messages are at most 128 bytes', expected: '<= 128 bytes', got: long });
    },
  });
}
