/**
 * Which disruption budget refused an eviction, read from the 429 answer.
 * Upstream's eviction subresource puts one StatusCause of type
 * "DisruptionBudget" in details.causes whose message starts
 * "The disruption budget NAME " (kubernetes/kubernetes
 * pkg/registry/core/pod/storage/eviction.go at 277391ee, checkAndDecrement:
 * "… needs D healthy pods and has C currently"; later wordings for other
 * refusals start the same way, so only that prefix is relied on).
 */
import type { StatusObject } from './kubelet-objects.js';

/** The budget named by a refusal, and the sentence that said why. */
export interface BlockingBudget {
  /** The budget's name (it lives in the pod's namespace: budgets select pods of their own namespace only). */
  readonly name: string | undefined;
  /** The cause's message, else the Status message. */
  readonly message: string;
}

/** The StatusCause type upstream gives budget refusals (k8s.io/api policy/v1 DisruptionBudgetCause). */
export const disruptionBudgetCause = 'DisruptionBudget';

const budgetNamePattern = /The disruption budget (\S+) /;

/** Reads the blocking budget out of a 429's Status; `name` is undefined when no cause names one. */
export function blockingBudgetOf(status: StatusObject | undefined): BlockingBudget {
  const causes = status?.details?.causes ?? [];
  const budgetCauses = causes.filter((cause) => cause.reason === disruptionBudgetCause || cause.type === disruptionBudgetCause);
  for (const cause of [...budgetCauses, ...causes]) {
    const match = budgetNamePattern.exec(cause.message ?? '');
    if (match?.[1] !== undefined) return { name: match[1], message: cause.message ?? '' };
  }
  const fallback = budgetCauses[0]?.message ?? status?.message ?? 'HTTP 429 Too Many Requests';
  return { name: undefined, message: fallback };
}
