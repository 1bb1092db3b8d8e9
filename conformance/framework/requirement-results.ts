import type { Requirement, RequirementLevel } from '../../specs/registry/index.js';
import type { CaseResult } from './case-result.js';
import type { KnownDeviation } from './known-deviations.js';
import type { RequirementStatus } from './outcome.js';

/** How one requirement fared in a run, decided from every case that cites it. */
export interface RequirementResult {
  readonly id: string;
  readonly level: RequirementLevel;
  readonly title: string;
  readonly source: string;
  /** False when the spec says no case can observe the rule (its `Not checked:` line). */
  readonly checkable: boolean;
  readonly status: RequirementStatus;
  /** Why the status is not a plain pass. */
  readonly reason?: string;
  /** Titles of the cases that cite the requirement in this run. */
  readonly cases: readonly string[];
}

/** Options for {@link requirementResults}. */
export interface RequirementResultsOptions {
  /** The requirements in scope: those of the interface certified. */
  readonly requirements: readonly Requirement[];
  /** Every declared case of the suite, selected or not, by the IDs it cites. */
  readonly declaredCases: readonly { readonly ids: readonly string[]; readonly title: string }[];
  readonly results: readonly CaseResult[];
  readonly knownDeviations?: readonly KnownDeviation[];
}

/**
 * Folds case results into one status per requirement. A requirement fails if
 * any citing case failed on it; otherwise it errs if any case erred, is
 * skipped if any was skipped, passes if a case recorded a passing check of
 * it, is not-checked if the cases that ran never checked it, and is
 * not-applicable only if every citing case was. Known deviations turn a fail, or a
 * not-checked whose case ran, into `known`, and a pass into `stale`.
 */
export function requirementResults(options: RequirementResultsOptions): RequirementResult[] {
  const resultsById = new Map<string, CaseResult[]>();
  for (const result of options.results) {
    for (const id of result.ids) resultsById.set(id, [...(resultsById.get(id) ?? []), result]);
  }
  const declaredIds = new Set(options.declaredCases.flatMap((testCase) => testCase.ids));
  const deviations = new Map((options.knownDeviations ?? []).map((deviation) => [deviation.id, deviation.reason]));

  return options.requirements.map((requirement) => {
    const base = {
      id: requirement.id,
      level: requirement.level,
      title: requirement.title,
      source: requirement.source,
      checkable: requirement.notChecked === undefined,
    };
    const results = resultsById.get(requirement.id) ?? [];
    let decided = decide(requirement, results, declaredIds.has(requirement.id));
    const deviation = deviations.get(requirement.id);
    if (deviation !== undefined) {
      if (decided.status === 'fail') decided = { status: 'known', reason: `known deviation: ${deviation}` };
      // A case ran but could not reach the check because the subject broke an earlier step: listed, it is known too, never passed.
      else if (decided.status === 'not-checked' && results.length > 0) {
        decided = { status: 'known', reason: `known deviation: ${deviation} (not checkable on this subject: ${decided.reason ?? ''})` };
      }
      else if (decided.status === 'pass') {
        decided = { status: 'stale', reason: `declared as a known deviation (${deviation}) but it passed; remove it` };
      }
    }
    return { ...base, ...decided, cases: results.map((result) => result.title) };
  });
}

function decide(
  requirement: Requirement,
  results: readonly CaseResult[],
  hasDeclaredCase: boolean,
): { status: RequirementStatus; reason?: string } {
  if (results.length === 0) {
    if (requirement.notChecked !== undefined) return { status: 'not-checked', reason: requirement.notChecked };
    if (hasDeclaredCase) return { status: 'not-run', reason: 'left out by --focus/--skip' };
    return { status: 'not-checked', reason: 'no case checks this requirement yet' };
  }
  const failed = results.filter((result) => result.outcome === 'fail' && result.failedIds.includes(requirement.id));
  if (failed.length > 0) return { status: 'fail', reason: failedChecksOf(requirement.id, failed) };
  const errored = results.filter((result) => result.outcome === 'error');
  if (errored.length > 0) return { status: 'error', reason: joinReasons(errored) };
  const skipped = results.filter((result) => result.outcome === 'skipped');
  if (skipped.length > 0) return { status: 'skipped', reason: joinReasons(skipped) };
  // Only a recorded passing check makes a pass: a case that never checked an ID it cites proves nothing about it.
  if (results.some((result) => result.passedIds.includes(requirement.id))) return { status: 'pass' };
  const unchecked = results.filter((result) => result.outcome === 'pass' || result.outcome === 'fail');
  if (unchecked.length > 0) {
    return { status: 'not-checked', reason: `no check of it was recorded by: ${unchecked.map((result) => result.title).join('; ')}` };
  }
  return { status: 'not-applicable', reason: joinReasons(results) };
}

/** What failed for this requirement alone, so a case judging many rules does not smear its reasons over all of them. */
function failedChecksOf(id: string, results: readonly CaseResult[]): string {
  const whats = results.flatMap((result) =>
    result.evidence.flatMap((item) => (item.kind === 'check' && !item.passed && item.ids.includes(id) ? [item.what] : [])),
  );
  return whats.length > 0 ? [...new Set(whats)].join('; ') : joinReasons(results);
}

function joinReasons(results: readonly CaseResult[]): string {
  return [...new Set(results.map((result) => result.reason ?? result.outcome))].join('; ');
}
