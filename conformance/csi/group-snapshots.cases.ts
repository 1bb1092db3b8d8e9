import {
  groupControllerCapabilityName,
  type CreateVolumeGroupSnapshotRequest,
  type Volume,
  type VolumeGroupSnapshot,
} from '../../specs/csi/index.js';
import type { CaseContext, Suite } from '../framework/index.js';
import { callController, callGroupController } from './csi-calls.js';
import type { CsiSubject } from './csi-subject.js';
import { describeOutcome, expectStatus, statusOf } from './expect-status.js';
import { listAllSnapshots, missingSnapshotFields } from './test-snapshots.js';
import { createTestVolume, createVolumeRequest, secretsFor } from './test-volumes.js';

type Ctx = CaseContext<CsiSubject>;

const groupService = 'plugin.service.GROUP_CONTROLLER_SERVICE';
const groupSnapshots = 'group-controller.CREATE_DELETE_GET_VOLUME_GROUP_SNAPSHOT';
const createsVolumes = 'controller.CREATE_DELETE_VOLUME';

/** Declares the GroupController cases (specs/csi/SPEC.md, CSI-GROUP); not applicable without group snapshots. */
export function declareGroupSnapshotCases(suite: Suite<CsiSubject>): void {
  suite.declare({
    ids: ['CSI-GROUP-001'],
    title: 'GroupControllerGetCapabilities answers with only defined capabilities',
    needs: { capabilities: [groupService] },
    async run(ctx: Ctx) {
      const answer = await callGroupController(ctx, 'groupControllerGetCapabilities', {});
      if (!expectStatus(ctx, answer, 'OK', { ids: ['CSI-GROUP-001'], what: 'GroupControllerGetCapabilities succeeds' }) || !answer.ok) return;
      const names = answer.response.capabilities.map(groupControllerCapabilityName);
      ctx.check(names.every((name) => name === groupSnapshots), {
        ids: ['CSI-GROUP-001'],
        what: 'every group controller capability is a defined type',
        expected: groupSnapshots,
        got: names,
      });
    },
  });

  suite.declare({
    ids: ['CSI-GROUP-003'],
    title: 'CreateVolumeGroupSnapshot without a name or source volumes is refused with INVALID_ARGUMENT',
    needs: { capabilities: [groupService, createsVolumes] },
    async run(ctx: Ctx) {
      await requireGroupSnapshots(ctx);
      const volume = await createTestVolume(ctx, { ids: ['CSI-GROUP-003'] });
      const noName = await createGroup(ctx, groupRequest(ctx, [volume], { name: '' }));
      expectStatus(ctx, noName, 'INVALID_ARGUMENT', { ids: ['CSI-GROUP-003'], what: 'CreateVolumeGroupSnapshot without name' });
      const noSources = await createGroup(ctx, groupRequest(ctx, []));
      expectStatus(ctx, noSources, 'INVALID_ARGUMENT', { ids: ['CSI-GROUP-003'], what: 'CreateVolumeGroupSnapshot without source_volume_ids' });
    },
  });

  suite.declare({
    ids: ['CSI-GROUP-002', 'CSI-GROUP-004', 'CSI-GROUP-005', 'CSI-GROUP-007', 'CSI-GROUP-008', 'CSI-GROUP-020'],
    title: 'CreateVolumeGroupSnapshot cuts one complete group once, and GetVolumeGroupSnapshot returns it',
    needs: { capabilities: [groupService, createsVolumes] },
    async run(ctx: Ctx) {
      await requireGroupSnapshots(ctx);
      const volumes = [await createTestVolume(ctx, { ids: ['CSI-GROUP-002'] }), await createTestVolume(ctx, { ids: ['CSI-GROUP-002'] })];
      const request = groupRequest(ctx, volumes);
      const group = await createTestGroup(ctx, request, 'CSI-GROUP-002');
      const members = group.snapshots;
      const sources = members.map((snapshot) => snapshot.sourceVolumeId).sort();
      ctx.check(
        group.groupSnapshotId !== '' &&
          group.creationTime !== undefined &&
          JSON.stringify(sources) === JSON.stringify(volumes.map((volume) => volume.volumeId).sort()) &&
          members.every((snapshot) => missingSnapshotFields(snapshot).length === 0 && snapshot.groupSnapshotId === group.groupSnapshotId),
        {
          ids: ['CSI-GROUP-004'],
          what: 'the group has an ID, a creation time, and one complete member per source volume carrying the group ID',
          expected: { sources: volumes.map((volume) => volume.volumeId).sort(), memberGroupId: group.groupSnapshotId },
          got: group,
        },
      );
      if (members.some((snapshot) => !snapshot.readyToUse)) {
        ctx.check(!group.readyToUse, { ids: ['CSI-GROUP-007'], what: 'a group with a member not ready is not ready', expected: false, got: group.readyToUse });
      } else {
        ctx.check(group.readyToUse, { ids: ['CSI-GROUP-008'], what: 'a group whose members are all ready is ready', expected: true, got: group.readyToUse });
      }
      const again = await createGroup(ctx, request);
      ctx.check(again.ok && again.response.groupSnapshot?.groupSnapshotId === group.groupSnapshotId, {
        ids: ['CSI-GROUP-005'],
        what: 'the same CreateVolumeGroupSnapshot again returns the same group',
        expected: group.groupSnapshotId,
        got: again.ok ? (again.response.groupSnapshot?.groupSnapshotId ?? null) : describeOutcome(again),
      });
      const fetched = await callGroupController(ctx, 'getVolumeGroupSnapshot', {
        groupSnapshotId: group.groupSnapshotId,
        snapshotIds: members.map((snapshot) => snapshot.snapshotId),
        secrets: {},
      });
      expectStatus(ctx, fetched, 'OK', { ids: ['CSI-GROUP-002', 'CSI-GROUP-020'], what: 'GetVolumeGroupSnapshot of the group' });
      const fetchedIds = fetched.ok ? (fetched.response.groupSnapshot?.snapshots ?? []).map((snapshot) => snapshot.snapshotId).sort() : [];
      ctx.check(fetched.ok && fetched.response.groupSnapshot?.groupSnapshotId === group.groupSnapshotId && JSON.stringify(fetchedIds) === JSON.stringify(members.map((snapshot) => snapshot.snapshotId).sort()), {
        ids: ['CSI-GROUP-020'],
        what: 'GetVolumeGroupSnapshot returns the same group and members',
        expected: { groupSnapshotId: group.groupSnapshotId, members: members.map((snapshot) => snapshot.snapshotId).sort() },
        got: { groupSnapshotId: fetched.ok ? fetched.response.groupSnapshot?.groupSnapshotId : statusOf(fetched), members: fetchedIds },
      });
    },
  });

  suite.declare({
    ids: ['CSI-GROUP-006'],
    title: 'CreateVolumeGroupSnapshot with a taken name but other source volumes fails with ALREADY_EXISTS',
    needs: { capabilities: [groupService, createsVolumes] },
    async run(ctx: Ctx) {
      await requireGroupSnapshots(ctx);
      const volumes = [await createTestVolume(ctx, { ids: ['CSI-GROUP-006'] }), await createTestVolume(ctx, { ids: ['CSI-GROUP-006'] })];
      const request = groupRequest(ctx, volumes.slice(0, 1));
      await createTestGroup(ctx, request, 'CSI-GROUP-006');
      const clash = await createGroup(ctx, { ...request, sourceVolumeIds: volumes.map((volume) => volume.volumeId) });
      expectStatus(ctx, clash, 'ALREADY_EXISTS', { ids: ['CSI-GROUP-006'], what: `CreateVolumeGroupSnapshot "${request.name}" with another set of volumes` });
    },
  });

  suite.declare({
    ids: ['CSI-GROUP-013', 'CSI-GROUP-014', 'CSI-GROUP-018', 'CSI-GROUP-019'],
    title: 'Delete and GetVolumeGroupSnapshot refuse an empty group ID, and treat an unknown one as gone',
    needs: { capabilities: [groupService] },
    async run(ctx: Ctx) {
      await requireGroupSnapshots(ctx);
      const unknown = ctx.uniqueName('kubeplug-no-such-group');
      const deleteEmpty = await callGroupController(ctx, 'deleteVolumeGroupSnapshot', { groupSnapshotId: '', snapshotIds: [], secrets: {} });
      expectStatus(ctx, deleteEmpty, 'INVALID_ARGUMENT', { ids: ['CSI-GROUP-013'], what: 'DeleteVolumeGroupSnapshot without group_snapshot_id' });
      const deleteUnknown = await callGroupController(ctx, 'deleteVolumeGroupSnapshot', { groupSnapshotId: unknown, snapshotIds: [], secrets: {} });
      expectStatus(ctx, deleteUnknown, 'OK', { ids: ['CSI-GROUP-014'], what: 'DeleteVolumeGroupSnapshot of an unknown group' });
      const getEmpty = await callGroupController(ctx, 'getVolumeGroupSnapshot', { groupSnapshotId: '', snapshotIds: [], secrets: {} });
      expectStatus(ctx, getEmpty, 'INVALID_ARGUMENT', { ids: ['CSI-GROUP-018'], what: 'GetVolumeGroupSnapshot without group_snapshot_id' });
      const getUnknown = await callGroupController(ctx, 'getVolumeGroupSnapshot', { groupSnapshotId: unknown, snapshotIds: [], secrets: {} });
      expectStatus(ctx, getUnknown, 'NOT_FOUND', { ids: ['CSI-GROUP-019'], what: 'GetVolumeGroupSnapshot of an unknown group' });
    },
  });

  suite.declare({
    ids: ['CSI-GROUP-015'],
    title: 'DeleteVolumeGroupSnapshot deletes the group and every member snapshot',
    needs: { capabilities: [groupService, createsVolumes] },
    async run(ctx: Ctx) {
      await requireGroupSnapshots(ctx);
      const volumes = [await createTestVolume(ctx, { ids: ['CSI-GROUP-015'] }), await createTestVolume(ctx, { ids: ['CSI-GROUP-015'] })];
      const group = await createTestGroup(ctx, groupRequest(ctx, volumes), 'CSI-GROUP-015');
      const memberIds = group.snapshots.map((snapshot) => snapshot.snapshotId);
      const deleted = await callGroupController(ctx, 'deleteVolumeGroupSnapshot', { groupSnapshotId: group.groupSnapshotId, snapshotIds: memberIds, secrets: {} });
      ctx.require(deleted.ok, { ids: ['CSI-GROUP-015'], what: 'DeleteVolumeGroupSnapshot succeeds', expected: 'OK', got: describeOutcome(deleted) });
      const fetched = await callGroupController(ctx, 'getVolumeGroupSnapshot', { groupSnapshotId: group.groupSnapshotId, snapshotIds: memberIds, secrets: {} });
      expectStatus(ctx, fetched, 'NOT_FOUND', { ids: ['CSI-GROUP-015'], what: 'GetVolumeGroupSnapshot of the deleted group' });
      if (ctx.subject.capabilities.has('controller.LIST_SNAPSHOTS')) {
        const left = (await listAllSnapshots(ctx, ['CSI-GROUP-015'])).filter((snapshot) => memberIds.includes(snapshot.snapshotId));
        ctx.check(left.length === 0, { ids: ['CSI-GROUP-015'], what: 'no member snapshot is listed any more', expected: [], got: left.map((snapshot) => snapshot.snapshotId) });
      }
      if (ctx.subject.capabilities.has('controller.GET_SNAPSHOT')) {
        for (const snapshotId of memberIds) {
          const member = await callController(ctx, 'getSnapshot', { snapshotId, secrets: {} });
          expectStatus(ctx, member, 'NOT_FOUND', { ids: ['CSI-GROUP-015'], what: `GetSnapshot of deleted member ${snapshotId}` });
        }
      }
    },
  });

  suite.declare({
    ids: ['CSI-GROUP-016'],
    title: 'Delete and GetVolumeGroupSnapshot with a wrong member list are refused with INVALID_ARGUMENT',
    needs: { capabilities: [groupService, createsVolumes] },
    async run(ctx: Ctx) {
      await requireGroupSnapshots(ctx);
      const volume = await createTestVolume(ctx, { ids: ['CSI-GROUP-016'] });
      const group = await createTestGroup(ctx, groupRequest(ctx, [volume]), 'CSI-GROUP-016');
      const wrong = [ctx.uniqueName('kubeplug-no-such-snap')];
      const fetched = await callGroupController(ctx, 'getVolumeGroupSnapshot', { groupSnapshotId: group.groupSnapshotId, snapshotIds: wrong, secrets: {} });
      expectStatus(ctx, fetched, 'INVALID_ARGUMENT', { ids: ['CSI-GROUP-016'], what: 'GetVolumeGroupSnapshot with a member list that does not match' });
      const deleted = await callGroupController(ctx, 'deleteVolumeGroupSnapshot', { groupSnapshotId: group.groupSnapshotId, snapshotIds: wrong, secrets: {} });
      expectStatus(ctx, deleted, 'INVALID_ARGUMENT', { ids: ['CSI-GROUP-016'], what: 'DeleteVolumeGroupSnapshot with a member list that does not match' });
    },
  });

  suite.declare({
    ids: ['CSI-GROUP-021'],
    title: 'DeleteSnapshot of a group member either deletes it or refuses with INVALID_ARGUMENT and keeps it',
    needs: { capabilities: [groupService, createsVolumes, 'controller.CREATE_DELETE_SNAPSHOT'] },
    async run(ctx: Ctx) {
      await requireGroupSnapshots(ctx);
      const volume = await createTestVolume(ctx, { ids: ['CSI-GROUP-021'] });
      const group = await createTestGroup(ctx, groupRequest(ctx, [volume]), 'CSI-GROUP-021');
      const member = group.snapshots[0];
      ctx.require(member !== undefined, { ids: ['CSI-GROUP-004'], what: 'the group has a member', expected: 'one member', got: group.snapshots.length });
      const answer = await callController(ctx, 'deleteSnapshot', { snapshotId: member.snapshotId, secrets: secretsFor(ctx, 'DeleteSnapshotSecret') });
      expectStatus(ctx, answer, ['OK', 'INVALID_ARGUMENT'], { ids: ['CSI-GROUP-021'], what: 'DeleteSnapshot of a member of a group' });
      if (!answer.ok && answer.error.code === 'INVALID_ARGUMENT') {
        const fetched = await callGroupController(ctx, 'getVolumeGroupSnapshot', {
          groupSnapshotId: group.groupSnapshotId,
          snapshotIds: group.snapshots.map((snapshot) => snapshot.snapshotId),
          secrets: {},
        });
        const kept = fetched.ok && (fetched.response.groupSnapshot?.snapshots ?? []).some((snapshot) => snapshot.snapshotId === member.snapshotId);
        ctx.check(kept, { ids: ['CSI-GROUP-021'], what: 'the refused member is still in the group', expected: true, got: fetched.ok ? kept : describeOutcome(fetched) });
      }
    },
  });

  suite.declare({
    ids: ['CSI-GROUP-022'],
    title: 'A plugin with group snapshots offers GetSnapshot, which returns each member',
    needs: { capabilities: [groupService, createsVolumes] },
    async run(ctx: Ctx) {
      await requireGroupSnapshots(ctx);
      const offered = ctx.subject.capabilities.has('controller.GET_SNAPSHOT');
      ctx.check(offered, { ids: ['CSI-GROUP-022'], what: 'the controller advertises GET_SNAPSHOT', expected: 'controller.GET_SNAPSHOT', got: offered ? 'advertised' : 'not advertised' });
      if (!offered) return;
      const volume = await createTestVolume(ctx, { ids: ['CSI-GROUP-022'] });
      const group = await createTestGroup(ctx, groupRequest(ctx, [volume]), 'CSI-GROUP-022');
      for (const member of group.snapshots) {
        const answer = await callController(ctx, 'getSnapshot', { snapshotId: member.snapshotId, secrets: {} });
        ctx.check(answer.ok && answer.response.snapshot?.snapshotId === member.snapshotId, {
          ids: ['CSI-GROUP-022'],
          what: `GetSnapshot returns member ${member.snapshotId}`,
          expected: member.snapshotId,
          got: answer.ok ? (answer.response.snapshot ?? null) : describeOutcome(answer),
        });
      }
    },
  });

  suite.declare({
    ids: ['CSI-GROUP-023'],
    title: 'A snapshot of a group is the source of a new volume',
    needs: { capabilities: [groupService, createsVolumes] },
    async run(ctx: Ctx) {
      await requireGroupSnapshots(ctx);
      const volume = await createTestVolume(ctx, { ids: ['CSI-GROUP-023'] });
      const group = await createTestGroup(ctx, groupRequest(ctx, [volume]), 'CSI-GROUP-023');
      const member = group.snapshots[0];
      ctx.require(member !== undefined, { ids: ['CSI-GROUP-004'], what: 'the group has a member', expected: 'one member', got: group.snapshots.length });
      const created = await callController(
        ctx,
        'createVolume',
        createVolumeRequest(ctx, { volumeContentSource: { type: { $case: 'snapshot', value: { snapshotId: member.snapshotId } } } }),
      );
      const made = created.ok ? created.response.volume : undefined;
      if (made !== undefined) {
        ctx.defer(() => callController(ctx, 'deleteVolume', { volumeId: made.volumeId, secrets: secretsFor(ctx, 'DeleteVolumeSecret') }), `delete volume ${made.volumeId}`);
      }
      expectStatus(ctx, created, 'OK', { ids: ['CSI-GROUP-023'], what: `CreateVolume from group member ${member.snapshotId}` });
    },
  });
}

/** Ends the case as not applicable unless the group controller advertises CREATE_DELETE_GET_VOLUME_GROUP_SNAPSHOT. */
async function requireGroupSnapshots(ctx: Ctx): Promise<void> {
  const answer = await callGroupController(ctx, 'groupControllerGetCapabilities', {});
  const names = answer.ok ? answer.response.capabilities.map(groupControllerCapabilityName) : [];
  if (!names.includes(groupSnapshots)) ctx.notApplicable(`the group controller does not advertise ${groupSnapshots}`);
}

function groupRequest(ctx: Ctx, volumes: readonly Volume[], overrides: Partial<CreateVolumeGroupSnapshotRequest> = {}): CreateVolumeGroupSnapshotRequest {
  return {
    name: ctx.uniqueName('kubeplug-group'),
    sourceVolumeIds: volumes.map((volume) => volume.volumeId),
    secrets: {},
    parameters: {},
    ...overrides,
  };
}

/** Calls CreateVolumeGroupSnapshot and registers the deletion of any group it returns. */
async function createGroup(ctx: Ctx, request: CreateVolumeGroupSnapshotRequest) {
  const answer = await callGroupController(ctx, 'createVolumeGroupSnapshot', request);
  const group = answer.ok ? answer.response.groupSnapshot : undefined;
  if (group !== undefined && group.groupSnapshotId !== '') {
    const snapshotIds = group.snapshots.map((snapshot) => snapshot.snapshotId);
    ctx.defer(
      () => callGroupController(ctx, 'deleteVolumeGroupSnapshot', { groupSnapshotId: group.groupSnapshotId, snapshotIds, secrets: {} }),
      `delete group snapshot ${group.groupSnapshotId}`,
    );
  }
  return answer;
}

/** Creates a group the case needs; a refusal stops the case citing `id`. */
async function createTestGroup(ctx: Ctx, request: CreateVolumeGroupSnapshotRequest, id: string): Promise<VolumeGroupSnapshot> {
  const answer = await createGroup(ctx, request);
  const group = answer.ok ? answer.response.groupSnapshot : undefined;
  ctx.require(group !== undefined, { ids: [id], what: 'CreateVolumeGroupSnapshot succeeds with a group', expected: 'OK with group_snapshot', got: describeOutcome(answer) });
  return group as VolumeGroupSnapshot;
}
