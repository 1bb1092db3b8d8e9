import type { Pod } from '../api/pod-types.js';

/**
 * Where the kubelet's parts record what the real kubelet would record as
 * events (Pulling, Created, Started, Killing, BackOff, Unhealthy…);
 * kubelet/events/event-recorder.ts keeps them for /events.
 */
export interface EventSink {
  /**
   * @param fieldPath the container, as the real kubelet names it: `spec.containers{web}` or `spec.initContainers{setup}`; undefined for the pod itself
   */
  record(pod: Pod, fieldPath: string | undefined, type: 'Normal' | 'Warning', reason: string, message: string): void;
}
