/**
 * What one case can end as.
 * - pass: every check held.
 * - fail: the subject broke a requirement (or did not finish by the deadline).
 * - error: the harness broke; the result says nothing about the subject.
 * - not-applicable: the subject does not advertise what the case needs.
 * - skipped: the environment lacks what the case needs (root, namespaces).
 */
export const caseOutcomes = ['pass', 'fail', 'error', 'not-applicable', 'skipped'] as const;
export type CaseOutcome = (typeof caseOutcomes)[number];

/**
 * What one requirement can end as in a run.
 * - pass / fail / error / skipped / not-applicable: from the cases that cite it.
 * - known: it failed, and the user declared it a known deviation.
 * - stale: the user declared it a known deviation, but it passed.
 * - not-checked: no case checks it (the spec says why, or no case exists yet).
 * - not-run: cases exist but --focus/--skip left them out of this run.
 */
export const requirementStatuses = [
  'pass',
  'fail',
  'error',
  'skipped',
  'not-applicable',
  'known',
  'stale',
  'not-checked',
  'not-run',
] as const;
export type RequirementStatus = (typeof requirementStatuses)[number];
