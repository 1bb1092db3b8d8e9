/**
 * The arithmetic of PodDisruptionBudgets, as the disruption controller and
 * the eviction subresource do it, but computed afresh from the pods on every
 * request instead of kept in a stored status. Sources (kubernetes/kubernetes
 * master, rules unchanged since v1.27): pkg/controller/disruption/disruption.go (getExpectedPodCount,
 * countHealthyPods, updatePdbStatus), pkg/registry/core/pod/storage/eviction.go
 * (Create, canIgnorePDB, checkAndDecrement, getPodDisruptionBudgets),
 * staging/src/k8s.io/apimachinery/pkg/util/intstr/intstr.go
 * (GetScaledValueFromIntOrPercent) and
 * staging/src/k8s.io/component-helpers/apps/poddisruptionbudget/helpers.go
 * (UpdateDisruptionAllowedCondition). Every function here is pure and one
 * {@link KubeletParts} entry.
 */
import type { IntOrPercent, PodDisruptionBudget, PodDisruptionBudgetStatus } from '../api/disruption-types.js';
import type { Pod } from '../api/pod-types.js';
import type { BudgetStatusInput, EvictionDecision, EvictionDecisionInput } from '../kubelet-parts.js';
import { selectorMatches } from './label-selector.js';

/** A value that is neither a whole number nor "NN%" (validation refuses such budgets first). */
export class BudgetValueError extends Error {
  readonly value: unknown;
  constructor(value: unknown) {
    super(`not an integer or a percentage: ${JSON.stringify(value)}`);
    this.name = 'BudgetValueError';
    this.value = value;
  }
}

/** Condition reasons of DisruptionAllowed (policy/v1 types.go). */
export const budgetConditionReasons = { sufficientPods: 'SufficientPods', insufficientPods: 'InsufficientPods' } as const;

/**
 * A budget value as a number of pods out of `total`: an integer as it is, a
 * percentage rounded up (GetScaledValueFromIntOrPercent with roundUp true,
 * which the disruption controller uses for minAvailable and maxUnavailable alike).
 */
export function scaleBudgetValue(value: IntOrPercent, total: number): number {
  if (typeof value === 'number' && Number.isInteger(value)) return value;
  if (typeof value === 'string') {
    const match = /^([0-9]+)%$/.exec(value);
    if (match !== null) return Math.ceil((Number(match[1]) * total) / 100);
  }
  throw new BudgetValueError(value);
}

function isReady(pod: Pod): boolean {
  return (pod.status?.conditions ?? []).some((condition) => condition.type === 'Ready' && condition.status === 'True');
}

/**
 * Whether a pod counts towards currentHealthy: Ready=True, not being deleted
 * (no deletionTimestamp, which an eviction sets at once) and not terminal.
 */
export function isPodHealthy(pod: Pod): boolean {
  if (pod.metadata.deletionTimestamp !== undefined) return false;
  const phase = pod.status?.phase;
  if (phase === 'Succeeded' || phase === 'Failed') return false;
  return isReady(pod);
}

/** Whether the budget covers the pod: same namespace, and its selector matches the pod's labels (a null selector matches nothing, {} everything). */
export function budgetSelectsPod(budget: PodDisruptionBudget, pod: Pod): boolean {
  if ((pod.metadata.namespace ?? 'default') !== budget.metadata.namespace) return false;
  return selectorMatches(budget.spec.selector, pod.metadata.labels ?? {});
}

/**
 * The budget's status from the pods it selects: expectedPods is how many
 * pods it selects (static pods have no controller whose scale upstream would
 * use), desiredHealthy comes from minAvailable, or from expectedPods minus
 * maxUnavailable (never below 0), disruptionsAllowed is currentHealthy minus
 * desiredHealthy, 0 when that is negative or no pod is expected.
 */
export function computeBudgetStatus(input: BudgetStatusInput): PodDisruptionBudgetStatus {
  const { budget, pods, isPodHealthy: healthy, scaleBudgetValue: scale } = input;
  const expectedPods = pods.length;
  const currentHealthy = pods.filter((pod) => healthy(pod)).length;
  let desiredHealthy = 0;
  if (budget.spec.maxUnavailable !== undefined) {
    desiredHealthy = Math.max(0, expectedPods - scale(budget.spec.maxUnavailable, expectedPods));
  } else if (budget.spec.minAvailable !== undefined) {
    desiredHealthy = scale(budget.spec.minAvailable, expectedPods);
  }
  const difference = currentHealthy - desiredHealthy;
  const disruptionsAllowed = expectedPods <= 0 || difference <= 0 ? 0 : difference;
  const observedGeneration = budget.metadata.generation ?? 1;
  const unreachable = input.unreachablePeers.length === 0 ? '' : `not counted (no answer): ${input.unreachablePeers.join('; ')}`;
  return {
    observedGeneration,
    disruptionsAllowed,
    currentHealthy,
    desiredHealthy,
    expectedPods,
    conditions: [
      {
        type: 'DisruptionAllowed',
        status: disruptionsAllowed > 0 ? 'True' : 'False',
        observedGeneration,
        lastTransitionTime: input.now.toISOString().replace(/\.\d{3}Z$/, 'Z'),
        reason: disruptionsAllowed > 0 ? budgetConditionReasons.sufficientPods : budgetConditionReasons.insufficientPods,
        message: unreachable,
      },
    ],
  };
}

/**
 * Whether an eviction may go ahead, in the eviction subresource's order: a
 * terminal, Pending or already deleting pod is evicted without looking at
 * budgets; more than one budget refuses (a 500); no budget allows; an
 * unready pod is allowed under AlwaysAllow, and under IfHealthyBudget when
 * the budget is met (currentHealthy >= desiredHealthy > 0); otherwise the
 * budget must allow a disruption.
 */
export function decideEviction(input: EvictionDecisionInput): EvictionDecision {
  const { pod, budgets } = input;
  const phase = pod.status?.phase;
  if (phase === 'Succeeded' || phase === 'Failed' || phase === 'Pending' || pod.metadata.deletionTimestamp !== undefined) {
    return { verdict: 'allow', why: 'not guarded' };
  }
  if (budgets.length > 1) return { verdict: 'multiple-budgets', budgets: budgets.map((budget) => budget.metadata.name) };
  const budget = budgets[0];
  if (budget === undefined) return { verdict: 'allow', why: 'no budget' };
  const status = budget.status;
  if (status === undefined) return { verdict: 'refuse', budget: budget.metadata.name, desiredHealthy: 0, currentHealthy: 0 };
  if (!input.podHealthy) {
    if (budget.spec.unhealthyPodEvictionPolicy === 'AlwaysAllow') return { verdict: 'allow', why: 'unhealthy pod' };
    if (status.currentHealthy >= status.desiredHealthy && status.desiredHealthy > 0) return { verdict: 'allow', why: 'unhealthy pod' };
  }
  if (status.disruptionsAllowed <= 0) {
    return { verdict: 'refuse', budget: budget.metadata.name, desiredHealthy: status.desiredHealthy, currentHealthy: status.currentHealthy };
  }
  return { verdict: 'allow', why: 'budget allows' };
}
