import type { CaseResult } from './case-result.js';
import type { RequirementResult } from './requirement-results.js';

/** Exit codes of `kubeplug certify`, as data. */
export const exitCodes = {
  /** Every applicable MUST in scope passed (or is a declared known deviation). */
  certified: 0,
  /** A MUST failed, or was in scope and could not be checked in this run. */
  notCertified: 1,
  /** Bad usage, an unreachable subject, or the harness broke. */
  usageOrHarnessError: 2,
} as const;

/** The run's conclusion, with the counts that led to it. */
export interface Verdict {
  readonly exitCode: (typeof exitCodes)[keyof typeof exitCodes];
  readonly summary: string;
  /** MUSTs that failed or could not be checked in this run. */
  readonly blockingMusts: readonly string[];
  /** MUSTs no case can observe (the spec says why); listed, never counted as passed. */
  readonly uncheckableMusts: readonly string[];
  readonly harnessErrors: number;
}

/**
 * Decides the exit code. A MUST blocks certification when it failed, erred,
 * was skipped for want of root or namespaces, or has no case yet. A MUST the
 * spec itself marks as beyond any case's reach does not block (no plugin
 * could ever pass it) unless `strict` is set; it is listed either way.
 */
export function decideVerdict(
  results: readonly CaseResult[],
  requirements: readonly RequirementResult[],
  options: { strict?: boolean } = {},
): Verdict {
  const harnessErrors = results.filter((result) => result.outcome === 'error').length;
  const musts = requirements.filter((requirement) => requirement.level === 'MUST');
  const uncheckableMusts = musts
    .filter((requirement) => !requirement.checkable && requirement.status === 'not-checked')
    .map((requirement) => requirement.id);
  const blockingMusts = musts
    .filter((requirement) => {
      if (['fail', 'error', 'skipped'].includes(requirement.status)) return true;
      if (requirement.status !== 'not-checked') return false;
      return options.strict === true || !uncheckableMusts.includes(requirement.id);
    })
    .map((requirement) => requirement.id);

  if (results.length === 0) {
    return {
      exitCode: exitCodes.usageOrHarnessError,
      summary: 'no case ran: nothing was certified',
      blockingMusts,
      uncheckableMusts,
      harnessErrors,
    };
  }
  if (harnessErrors > 0) {
    return {
      exitCode: exitCodes.usageOrHarnessError,
      summary: `${harnessErrors} case(s) hit a harness error; the run proves nothing about them`,
      blockingMusts,
      uncheckableMusts,
      harnessErrors,
    };
  }
  if (blockingMusts.length > 0) {
    return {
      exitCode: exitCodes.notCertified,
      summary: `not certified: ${blockingMusts.length} MUST requirement(s) failed or were not checked (${blockingMusts.join(', ')})`,
      blockingMusts,
      uncheckableMusts,
      harnessErrors,
    };
  }
  return {
    exitCode: exitCodes.certified,
    summary: 'certified: every applicable MUST requirement in scope passed',
    blockingMusts,
    uncheckableMusts,
    harnessErrors,
  };
}
