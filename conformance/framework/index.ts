/**
 * kubeplug/conformance: how conformance cases are declared, filtered, run,
 * cleaned up and judged. Suites for CRI, CNI, CSI and the kubelet are built
 * on it; a vendor can declare extra cases for their own plugin the same way.
 */
export { Suite, type CaseDeclaration, type CaseNeeds, type ConformanceCase } from './case.js';
export {
  CaseContext,
  CaseSkipped,
  CaseNotApplicable,
  CaseStopped,
  type CheckInput,
  type CallInput,
} from './case-context.js';
export type { CaseResult } from './case-result.js';
export { CleanupStack, withTimeout, type CleanupFailure } from './cleanup-stack.js';
export { probeEnvironment } from './environment.js';
export { toJsonValue, type Evidence, type CallEvidence, type CheckEvidence, type NoteEvidence, type JsonValue } from './evidence.js';
export { compileFilter, isSelected, isUnfiltered, FilterPatternError, type CaseFilter } from './filter.js';
export {
  parseKnownDeviations,
  readKnownDeviations,
  KnownDeviationsError,
  type KnownDeviation,
} from './known-deviations.js';
export { caseOutcomes, requirementStatuses, type CaseOutcome, type RequirementStatus } from './outcome.js';
export {
  requirementResults,
  type RequirementResult,
  type RequirementResultsOptions,
} from './requirement-results.js';
export { runSuite, type RunListener, type RunSuiteOptions } from './run-suite.js';
export type { Subject, Environment } from './subject.js';
export { decideVerdict, exitCodes, type Verdict } from './verdict.js';
export { coverageOf, type RequirementCoverage, type CoverageKind } from './coverage.js';
