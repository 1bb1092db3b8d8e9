import { setTimeout as sleep } from 'node:timers/promises';
import { ContainerEventType, ContainerState, type ContainerEventResponse } from '../../specs/cri/index.js';
import type { CaseContext, Suite } from '../framework/index.js';
import { callRuntime } from './cri-calls.js';
import type { CriSubject } from './cri-subject.js';
import { describeOutcome, requireOk } from './expect-status.js';
import { describeEvent, openEventStream, type EventStream } from './event-stream.js';
import { createContainer, runTestPod, startTestContainer, type TestPod } from './pod-fixtures.js';

type Ctx = CaseContext<CriSubject>;

/** How long an event may take to arrive after the call that causes it. */
const eventWaitMs = 5000;

function nowNs(): bigint {
  return BigInt(Date.now()) * 1_000_000n;
}

/** Opens a stream, ending the case as not applicable when the runtime does not serve GetContainerEvents (CRI-EVENT-001 judges that). */
async function openServedStream(ctx: Ctx): Promise<EventStream> {
  const stream = await openEventStream(ctx);
  if (stream.error?.code === 'UNIMPLEMENTED') {
    stream.close();
    ctx.notApplicable(`the runtime answers UNIMPLEMENTED to GetContainerEvents: ${stream.error.message}`);
  }
  ctx.require(stream.error === undefined && !stream.ended, {
    what: 'the GetContainerEvents stream stays open',
    expected: 'open',
    got: stream.error === undefined ? 'ended by the runtime' : `${stream.error.code}: ${stream.error.message}`,
  });
  return stream;
}

function isEvent(containerId: string, type: ContainerEventType): (event: ContainerEventResponse) => boolean {
  return (event) => event.containerId === containerId && event.containerEventType === type;
}

/** Whether an event carries the status of `pod` with its ID and metadata. */
function carriesSandbox(event: ContainerEventResponse, pod: TestPod): boolean {
  const status = event.podSandboxStatus;
  const wanted = pod.config.metadata;
  return (
    status !== undefined &&
    status.id === pod.id &&
    status.metadata?.name === wanted?.name &&
    status.metadata?.uid === wanted?.uid &&
    status.metadata?.namespace === wanted?.namespace &&
    status.metadata?.attempt === wanted?.attempt
  );
}

/** Declares the container event cases (specs/cri/SPEC.md, CRI-EVENT). */
export function declareEventCases(suite: Suite<CriSubject>): void {
  suite.declare({
    ids: ['CRI-EVENT-001'],
    title: 'GetContainerEvents opens a stream that stays open',
    async run(ctx: Ctx) {
      const stream = await openEventStream(ctx, 1000);
      ctx.check(stream.error === undefined && !stream.ended, {
        what: 'the stream is still open after a second',
        expected: 'open',
        got: stream.error === undefined ? (stream.ended ? 'ended by the runtime' : 'open') : `${stream.error.code}: ${stream.error.message}`,
      });
      stream.close();
    },
  });

  suite.declare({
    ids: ['CRI-EVENT-002', 'CRI-EVENT-003', 'CRI-EVENT-004', 'CRI-EVENT-005', 'CRI-EVENT-006', 'CRI-EVENT-007', 'CRI-EVENT-008', 'CRI-EVENT-009'],
    title: "A container's lifecycle sends CREATED, STARTED, STOPPED and DELETED events, in order, with its sandbox and status",
    timeoutMs: 60_000,
    async run(ctx: Ctx) {
      const stream = await openServedStream(ctx);
      const pod = await runTestPod(ctx);
      const sent: Partial<Record<ContainerEventType, bigint>> = {};
      sent[ContainerEventType.CONTAINER_CREATED_EVENT] = nowNs();
      const container = await createContainer(ctx, pod);
      const created = await stream.waitFor(isEvent(container.id, ContainerEventType.CONTAINER_CREATED_EVENT), eventWaitMs);
      sent[ContainerEventType.CONTAINER_STARTED_EVENT] = nowNs();
      requireOk(ctx, await callRuntime(ctx, 'startContainer', { containerId: container.id }), { what: 'StartContainer succeeds' });
      const started = await stream.waitFor(isEvent(container.id, ContainerEventType.CONTAINER_STARTED_EVENT), eventWaitMs);
      sent[ContainerEventType.CONTAINER_STOPPED_EVENT] = nowNs();
      requireOk(ctx, await callRuntime(ctx, 'stopContainer', { containerId: container.id, timeout: 10n }, { extraMs: 10_000 }), { what: 'StopContainer succeeds' });
      const stopped = await stream.waitFor(isEvent(container.id, ContainerEventType.CONTAINER_STOPPED_EVENT), eventWaitMs);
      sent[ContainerEventType.CONTAINER_DELETED_EVENT] = nowNs();
      requireOk(ctx, await callRuntime(ctx, 'removeContainer', { containerId: container.id }), { what: 'RemoveContainer succeeds' });
      const deleted = await stream.waitFor(isEvent(container.id, ContainerEventType.CONTAINER_DELETED_EVENT), eventWaitMs);
      // A moment for stray or repeated events to show before the stream is judged.
      await sleep(300);
      stream.close([container.id]);

      const expectations: [string, ContainerEventResponse | undefined, string, string][] = [
        ['CRI-EVENT-002', created, 'CONTAINER_CREATED_EVENT', 'CreateContainer'],
        ['CRI-EVENT-003', started, 'CONTAINER_STARTED_EVENT', 'StartContainer'],
        ['CRI-EVENT-004', stopped, 'CONTAINER_STOPPED_EVENT', 'StopContainer'],
        ['CRI-EVENT-005', deleted, 'CONTAINER_DELETED_EVENT', 'RemoveContainer'],
      ];
      for (const [id, event, type, call] of expectations) {
        ctx.check(event !== undefined, { ids: [id], what: `after ${call}, a ${type} for the container arrives within ${eventWaitMs / 1000} s`, expected: type, got: event === undefined ? 'no such event' : describeEvent(event) });
      }
      const mine = stream.events.filter((event) => event.containerId === container.id);
      const order = mine.map((event) => event.containerEventType);
      const firstIndex = (type: ContainerEventType): number => order.indexOf(type);
      const lifecycle = [
        ContainerEventType.CONTAINER_CREATED_EVENT,
        ContainerEventType.CONTAINER_STARTED_EVENT,
        ContainerEventType.CONTAINER_STOPPED_EVENT,
        ContainerEventType.CONTAINER_DELETED_EVENT,
      ].map(firstIndex);
      const inOrder = lifecycle.every((index) => index >= 0) && lifecycle.every((index, at) => at === 0 || index > (lifecycle[at - 1] ?? -1));
      ctx.check(inOrder, {
        ids: ['CRI-EVENT-006'],
        what: "the container's events arrive in lifecycle order",
        expected: 'CREATED, STARTED, STOPPED, DELETED',
        got: order.map((type) => ContainerEventType[type] ?? type),
      });
      for (const event of mine) {
        const type = event.containerEventType;
        const after = sent[type];
        ctx.check(event.createdAt > 0n && (after === undefined || event.createdAt >= after - 1_000_000n), {
          ids: ['CRI-EVENT-007'],
          what: `${ContainerEventType[type] ?? type}.created_at is positive nanoseconds, not before its call was sent`,
          expected: after === undefined ? '> 0' : `>= ${after}`,
          got: event.createdAt.toString(),
        });
        ctx.check(carriesSandbox(event, pod), {
          ids: ['CRI-EVENT-008'],
          what: `${ContainerEventType[type] ?? type} carries the sandbox's status with its ID and metadata`,
          expected: { id: pod.id, metadata: pod.config.metadata },
          got: event.podSandboxStatus === undefined ? 'pod_sandbox_status unset' : { id: event.podSandboxStatus.id, metadata: event.podSandboxStatus.metadata ?? 'unset' },
        });
      }
      const wantedState: [ContainerEventResponse | undefined, ContainerState][] = [
        [created, ContainerState.CONTAINER_CREATED],
        [started, ContainerState.CONTAINER_RUNNING],
        [stopped, ContainerState.CONTAINER_EXITED],
      ];
      for (const [event, state] of wantedState) {
        if (event === undefined) continue;
        const status = event.containersStatuses.find((candidate) => candidate.id === container.id);
        ctx.check(status?.state === state, {
          ids: ['CRI-EVENT-009'],
          what: `${ContainerEventType[event.containerEventType] ?? ''} carries the container's status in state ${ContainerState[state] ?? state}`,
          expected: ContainerState[state] ?? state,
          got: status === undefined ? `no status of ${container.id} among ${event.containersStatuses.length}` : (ContainerState[status.state] ?? status.state),
        });
      }
    },
  });

  suite.declare({
    ids: ['CRI-EVENT-004'],
    title: 'A container that exits on its own sends a STOPPED event',
    async run(ctx: Ctx) {
      const stream = await openServedStream(ctx);
      const pod = await runTestPod(ctx);
      const container = await startTestContainer(ctx, pod, { command: ['sh', '-c', 'sleep 1; exit 3'] });
      const stopped = await stream.waitFor(isEvent(container.id, ContainerEventType.CONTAINER_STOPPED_EVENT), 10_000);
      stream.close([container.id]);
      ctx.check(stopped !== undefined, { what: 'a CONTAINER_STOPPED_EVENT arrives within 10 s of the start', expected: 'CONTAINER_STOPPED_EVENT', got: stopped === undefined ? 'no such event' : describeEvent(stopped) });
    },
  });

  suite.declare({
    ids: ['CRI-EVENT-010'],
    title: 'Two open event streams both receive a container creation',
    async run(ctx: Ctx) {
      const first = await openServedStream(ctx);
      const second = await openEventStream(ctx);
      const pod = await runTestPod(ctx);
      const container = await createContainer(ctx, pod);
      const seen = await Promise.all([first, second].map((stream) => stream.waitFor(isEvent(container.id, ContainerEventType.CONTAINER_CREATED_EVENT), eventWaitMs)));
      first.close([container.id]);
      second.close([container.id]);
      ctx.check(
        seen.every((event) => event !== undefined),
        {
          what: 'each stream receives the CONTAINER_CREATED_EVENT',
          expected: 'both',
          got: seen.map((event, index) => (event === undefined ? `stream ${index + 1}: none${index === 1 && second.error !== undefined ? ` (${describeOutcome({ ok: false, error: second.error })})` : ''}` : `stream ${index + 1}: received`)),
        },
      );
    },
  });
}
