import type { Pod } from '../api/pod-types.js';
import type { ObservedContainer, ProbeLookup } from '../kubelet-parts.js';

/**
 * The prober as the pod workers see it: told which containers of a pod run
 * now, it keeps one worker per (container, probe kind), and answers the
 * current verdicts by CRI container ID.
 */
export interface ProbeManager {
  /** Starts workers for running containers that have probes and stops those of containers no longer listed. */
  syncPod(pod: Pod, podIp: string | undefined, running: readonly ObservedContainer[]): void;
  readonly lookup: ProbeLookup;
  /** Forgets every worker and result of a pod. */
  removePod(uid: string): void;
  /** Called when a verdict changes, so the pod is synced at once instead of at the next period. */
  onChange(listener: (podUid: string) => void): void;
  close(): void;
}
