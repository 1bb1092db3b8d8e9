/**
 * Restart back-off, level-triggered: each container carries in an annotation
 * the crash streak that created it, so the delay before the next restart is
 * computed from what CRI reports (finishedAt, startedAt, annotations), never
 * from the kubelet's memory, and survives a kubelet restart.
 *
 * Upstream: kubernetes/kubernetes pkg/kubelet/kubelet.go (backOffPeriod 10 s,
 * MaxContainerBackOff 300 s), pkg/kubelet/kuberuntime/kuberuntime_manager.go
 * doBackOff, and the 10-minute reset (pkg/util/flowcontrol backoff, maxDuration*2).
 *
 * @see KUBELET-RESTART-004
 * @see KUBELET-RESTART-005
 */
import type { ObservedContainer, RestartBackoff } from '../kubelet-parts.js';
import { crashStreakOf } from './runtime-labels.js';

/** The first non-immediate delay. */
export const initialBackoffMs = 10_000;
/** The default cap (the real kubelet's MaxContainerBackOff). */
export const defaultMaxBackoffMs = 300_000;
/** A container that ran this long resets its crash streak. */
export const backoffResetAfterMs = 10 * 60_000;

/**
 * The default back-off: streak 0 restarts at once, then min(10 s, cap),
 * doubling each time, never above the cap.
 */
export const defaultRestartBackoff: RestartBackoff = (streak, capMs) => {
  if (streak <= 0) return 0;
  const cap = Math.max(0, capMs);
  // 2^30 · 10 s is far past any cap; clamping the exponent keeps the arithmetic finite.
  const delay = initialBackoffMs * 2 ** Math.min(streak - 1, 30);
  return Math.min(delay, cap);
};

/** Where a restart of an exited (or just-killed) container stands. */
export interface RestartGate {
  /** The streak the previous run counts from (0 after a long run). */
  readonly streak: number;
  readonly delayMs: number;
  /** When the restart may happen (ms since the epoch). */
  readonly until: number;
  /** The crash streak the new container carries. */
  readonly nextStreak: number;
}

/**
 * When `previous` (exited at `finishedAt`, or `now` if it has no finish time
 * yet) may be restarted.
 */
export function restartGate(previous: ObservedContainer, now: number, backoff: RestartBackoff, capMs: number): RestartGate {
  const finishedAt = previous.finishedAt > 0 ? previous.finishedAt : now;
  const ranMs = previous.startedAt > 0 ? finishedAt - previous.startedAt : 0;
  const streak = ranMs >= backoffResetAfterMs ? 0 : crashStreakOf(previous.annotations);
  const delayMs = backoff(streak, capMs);
  return { streak, delayMs, until: finishedAt + delayMs, nextStreak: streak + 1 };
}
