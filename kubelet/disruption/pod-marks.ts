/**
 * How evictions and the cordon show on a pod: an evicted pod carries
 * metadata.deletionTimestamp (so it stops counting as healthy at once, and
 * the pod workers stop it with deletionGracePeriodSeconds as the grace
 * period) and the DisruptionTarget condition the eviction subresource adds;
 * once its containers have stopped it is Failed with reason Evicted. A pod
 * held back by the cordon shows PodScheduled=False, reason Unschedulable.
 * Sources: kubernetes/kubernetes master (rules unchanged since v1.27) pkg/registry/core/pod/storage/eviction.go
 * (addConditionAndDeletePod), pkg/kubelet/eviction/helpers.go (Reason "Evicted").
 */
import type { Pod, PodCondition, PodStatus } from '../api/pod-types.js';
import type { ObservedPod } from '../kubelet-parts.js';
import type { EvictionRecord } from './disruption-state.js';

/** status.reason and status.message of an evicted pod. */
export const evictedPodFailure = {
  reason: 'Evicted',
  message: 'The pod was evicted through the eviction API; it is not started again while its manifest stays the same.',
} as const;

/** The condition the eviction subresource sets on the pod it deletes. */
export const disruptionTargetCondition = { type: 'DisruptionTarget', status: 'True', reason: 'EvictionByEvictionAPI', message: 'Eviction API: evicting' } as const;

/** The default grace period of a pod (core/v1 defaults). */
const defaultGracePeriodSeconds = 30;

function replaceCondition(conditions: readonly PodCondition[], condition: PodCondition): PodCondition[] {
  const kept = conditions.filter((each) => each.type !== condition.type);
  return [...kept, condition];
}

/** The pod as being deleted by the eviction `record`; idempotent. */
export function withEvictionMarks(pod: Pod, record: EvictionRecord): Pod {
  const marked: Pod = {
    ...pod,
    metadata: {
      ...pod.metadata,
      deletionTimestamp: record.at,
      deletionGracePeriodSeconds: record.gracePeriodSeconds ?? pod.spec.terminationGracePeriodSeconds ?? defaultGracePeriodSeconds,
    },
  };
  if (pod.status === undefined) return marked;
  const previous = pod.status.conditions?.find((each) => each.type === 'DisruptionTarget');
  const condition: PodCondition = { ...disruptionTargetCondition, lastTransitionTime: previous?.status === 'True' ? (previous.lastTransitionTime ?? record.at) : record.at };
  return { ...marked, status: { ...pod.status, conditions: replaceCondition(pod.status.conditions ?? [], condition) } };
}

/** Whether none of the pod's containers runs any more (or it never had any). */
export function podStoppedRunning(observed: ObservedPod | undefined): boolean {
  return (observed?.containers ?? []).every((container) => container.state === 'exited');
}

/** The status of a pod the cordon holds back: PodScheduled=False, reason Unschedulable. */
export function withCordonCondition(status: PodStatus, nodeName: string, now: Date): PodStatus {
  const previous = status.conditions?.find((each) => each.type === 'PodScheduled');
  const condition: PodCondition = {
    type: 'PodScheduled',
    status: 'False',
    reason: 'Unschedulable',
    message: `node ${nodeName} is cordoned (spec.unschedulable): the pod starts once it is uncordoned`,
    lastProbeTime: null,
    lastTransitionTime: previous?.status === 'False' && previous.lastTransitionTime !== undefined ? previous.lastTransitionTime : now.toISOString().replace(/\.\d{3}Z$/, 'Z'),
  };
  return { ...status, phase: 'Pending', conditions: replaceCondition(status.conditions ?? [], condition) };
}
