import type { Evidence } from './evidence.js';
import type { CaseOutcome } from './outcome.js';

/** How one case ended and what it saw. */
export interface CaseResult {
  readonly title: string;
  readonly ids: readonly string[];
  readonly outcome: CaseOutcome;
  /** Why the case did not pass (failed checks, skip or error reason). */
  readonly reason?: string;
  /** Requirement IDs whose checks failed in this case (a subset of `ids`). */
  readonly failedIds: readonly string[];
  /** Requirement IDs with at least one passing check and no failing one in this case. */
  readonly passedIds: readonly string[];
  readonly durationMs: number;
  readonly evidence: readonly Evidence[];
}
