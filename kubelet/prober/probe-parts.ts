/**
 * The prober's default parts: initial verdicts, the consecutive-result tally
 * and startup gating, as upstream's worker does them (kubernetes/kubernetes
 * v1.34 pkg/kubelet/prober/worker.go).
 */
import type { ProbeKind, ProbeOutcome, ProbeTally, ProbeThresholds } from '../kubelet-parts.js';

/**
 * Readiness starts as failure, liveness and startup as success (upstream's
 * worker.go initialValue; a startup probe's success still needs a real result
 * before the container counts as started).
 * @see KUBELET-PROBE-006
 * @see KUBELET-PROBE-007
 */
export function initialProbeVerdict(kind: ProbeKind): ProbeOutcome {
  return kind === 'readiness' ? 'failure' : 'success';
}

/**
 * Counts consecutive equal outcomes; the verdict turns only when the run
 * reaches the threshold for that outcome (upstream's worker.go resultRun).
 * @see KUBELET-PROBE-009
 */
export function tallyProbe(tally: ProbeTally, outcome: ProbeOutcome, thresholds: ProbeThresholds): ProbeTally {
  const consecutive = tally.lastOutcome === outcome ? tally.consecutive + 1 : 1;
  const threshold = outcome === 'success' ? thresholds.successThreshold : thresholds.failureThreshold;
  return { verdict: consecutive >= threshold ? outcome : tally.verdict, lastOutcome: outcome, consecutive };
}

/**
 * Liveness and readiness wait for startup to succeed; startup stops once it
 * has (upstream's worker.go doProbe).
 * @see KUBELET-PROBE-008
 */
export function mayProbe(kind: ProbeKind, startupSucceeded: boolean): boolean {
  return kind === 'startup' ? !startupSucceeded : startupSucceeded;
}
