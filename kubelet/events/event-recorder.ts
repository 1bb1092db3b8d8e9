/**
 * The kubelet's event log: core/v1 Events kept in memory for /events, with
 * repeats folded into one event whose count and lastTimestamp grow, as
 * client-go's event correlator does for identical events (kubernetes/client-go
 * v0.34 tools/record/events_cache.go: same source, involved object, type,
 * reason and message). The similar-event aggregation ("combined from similar
 * events") and rate limiting of the real recorder are left out: the kubelet
 * suite judges which events come, not their throttling.
 */
import type { KubeletEvent, Pod } from '../api/pod-types.js';
import type { EventSink } from './event-sink.js';

/** How the recorder is built. */
export interface EventRecorderOptions {
  /** The node name (source.host). */
  readonly host: string;
  /** Most events kept; the oldest go first. Default 1000. */
  readonly capacity?: number;
  /** Current time; `() => new Date()` when unset. */
  readonly now?: () => Date;
}

/** An {@link EventSink} that keeps what it records and tells subscribers (the /events watch). */
export interface EventRecorder extends EventSink {
  /** Every event kept, oldest first (by last change). */
  list(): KubeletEvent[];
  /** The resource version of the latest change ("0" before any). */
  resourceVersion(): string;
  /** Calls `listener` with each new or updated event; returns the unsubscribe function. */
  subscribe(listener: (event: KubeletEvent) => void): () => void;
}

function keyOf(event: Pick<KubeletEvent, 'involvedObject' | 'type' | 'reason' | 'message'>): string {
  const object = event.involvedObject;
  return JSON.stringify([object.namespace, object.name, object.uid, object.fieldPath ?? '', event.type, event.reason, event.message]);
}

/** Creates an empty recorder. */
export function createEventRecorder(options: EventRecorderOptions): EventRecorder {
  const capacity = options.capacity ?? 1000;
  const now = options.now ?? (() => new Date());
  // Insertion order is last-change order: an updated event is moved to the end.
  const events = new Map<string, KubeletEvent>();
  const listeners = new Set<(event: KubeletEvent) => void>();
  let version = 0;
  let lastNameStamp = 0n;

  const uniqueName = (podName: string, at: Date): string => {
    // Upstream names an event "<object name>.<unix nanoseconds in hex>"; keep them unique within a millisecond.
    let stamp = BigInt(at.getTime()) * 1_000_000n;
    if (stamp <= lastNameStamp) stamp = lastNameStamp + 1n;
    lastNameStamp = stamp;
    return `${podName}.${stamp.toString(16)}`;
  };

  return {
    record(pod: Pod, fieldPath: string | undefined, type: 'Normal' | 'Warning', reason: string, message: string): void {
      const at = now();
      const timestamp = at.toISOString().replace(/\.\d{3}Z$/, 'Z');
      const namespace = pod.metadata.namespace ?? 'default';
      const involvedObject = {
        kind: 'Pod' as const,
        namespace,
        name: pod.metadata.name,
        uid: pod.metadata.uid ?? '',
        apiVersion: 'v1' as const,
        ...(fieldPath === undefined ? {} : { fieldPath }),
      };
      const key = keyOf({ involvedObject, type, reason, message });
      version += 1;
      const existing = events.get(key);
      let event: KubeletEvent;
      if (existing !== undefined) {
        events.delete(key);
        event = { ...existing, metadata: { ...existing.metadata, resourceVersion: String(version) }, count: existing.count + 1, lastTimestamp: timestamp };
      } else {
        event = {
          apiVersion: 'v1',
          kind: 'Event',
          metadata: { name: uniqueName(pod.metadata.name, at), namespace, resourceVersion: String(version) },
          involvedObject,
          reason,
          message,
          type,
          source: { component: 'kubelet', host: options.host },
          firstTimestamp: timestamp,
          lastTimestamp: timestamp,
          count: 1,
        };
      }
      events.set(key, event);
      while (events.size > capacity) {
        const oldest = events.keys().next().value;
        if (oldest === undefined) break;
        events.delete(oldest);
      }
      for (const listener of listeners) {
        try {
          listener(event);
        } catch {
          // A watcher that fails (e.g. a closed connection) does not stop recording.
        }
      }
    },
    list() {
      return [...events.values()];
    },
    resourceVersion() {
      return String(version);
    },
    subscribe(listener) {
      listeners.add(listener);
      return () => void listeners.delete(listener);
    },
  };
}
