/**
 * A GetContainerEvents stream held open by a case: every event collected in
 * order, waited on by predicate, cancelled by the case's cleanup, and
 * recorded as one call whose response lists the events of the containers
 * the case names.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { ContainerEventType, ContainerState, GrpcStatusError, type ContainerEventResponse } from '../../specs/cri/index.js';
import type { CaseContext } from '../framework/index.js';
import type { CriSubject } from './cri-subject.js';

type Ctx = CaseContext<CriSubject>;

/** An open event stream. */
export interface EventStream {
  /** Every event received so far, in arrival order. */
  readonly events: readonly ContainerEventResponse[];
  /** The status the stream ended with, if it ended with an error. */
  readonly error: GrpcStatusError | undefined;
  /** Whether the server ended the stream. */
  readonly ended: boolean;
  /** Waits up to `timeoutMs` for an event that satisfies `predicate`; undefined when none came. */
  waitFor(predicate: (event: ContainerEventResponse) => boolean, timeoutMs: number): Promise<ContainerEventResponse | undefined>;
  /** Cancels the stream and records it as evidence, keeping the events of `containerIds`; idempotent. */
  close(containerIds?: readonly string[]): void;
}

/**
 * Opens GetContainerEvents and waits `settleMs` so the runtime has
 * subscribed the stream before the case acts (the protocol has no
 * acknowledgement). Cancelled by the case's cleanup if the case does not
 * close it first.
 */
export async function openEventStream(ctx: Ctx, settleMs = 500): Promise<EventStream> {
  const events: ContainerEventResponse[] = [];
  let error: GrpcStatusError | undefined;
  let ended = false;
  let closed = false;
  const started = performance.now();
  const call = ctx.subject.runtime.getContainerEvents({});
  call.on('data', (event: ContainerEventResponse) => events.push(event));
  call.on('error', (thrown: unknown) => {
    if (!closed) error = GrpcStatusError.from(thrown);
    ended = true;
  });
  call.on('end', () => {
    ended = true;
  });
  const stream: EventStream = {
    events,
    get error() {
      return error;
    },
    get ended() {
      return ended;
    },
    async waitFor(predicate, timeoutMs) {
      const deadline = Date.now() + timeoutMs;
      for (;;) {
        const found = events.find(predicate);
        if (found !== undefined || ended || Date.now() > deadline) return found;
        await sleep(50);
      }
    },
    close(containerIds) {
      if (closed) return;
      closed = true;
      call.cancel();
      const kept = containerIds === undefined ? events : events.filter((event) => containerIds.includes(event.containerId));
      ctx.recordCall({
        target: ctx.subject.runtimeEndpoint,
        method: 'RuntimeService/GetContainerEvents',
        request: {},
        response: { received: events.length, shown: kept.map(describeEvent) },
        ...(error === undefined ? {} : { status: { code: error.code, message: error.message } }),
        durationMs: Math.round(performance.now() - started),
      });
    },
  };
  ctx.defer(() => stream.close(), 'cancel the GetContainerEvents stream');
  const settleBy = Date.now() + settleMs;
  while (!ended && Date.now() < settleBy) await sleep(20);
  return stream;
}

/** An event as evidence shows it. */
export function describeEvent(event: ContainerEventResponse): Record<string, unknown> {
  return {
    type: ContainerEventType[event.containerEventType] ?? event.containerEventType,
    containerId: event.containerId,
    createdAt: event.createdAt.toString(),
    sandbox: event.podSandboxStatus === undefined ? 'unset' : { id: event.podSandboxStatus.id, name: event.podSandboxStatus.metadata?.name ?? 'metadata unset' },
    statuses: event.containersStatuses.map((status) => `${status.id}: ${ContainerState[status.state] ?? status.state}`),
  };
}
