import { randomBytes } from 'node:crypto';
import { CaseContext, CaseNotApplicable, CaseSkipped, CaseStopped } from './case-context.js';
import type { ConformanceCase, Suite } from './case.js';
import type { CaseResult } from './case-result.js';
import { withTimeout } from './cleanup-stack.js';
import { isSelected, type CaseFilter } from './filter.js';
import type { Environment, Subject } from './subject.js';

/** Hears about cases as they start and end, for progress displays. */
export interface RunListener {
  onCaseStart?(testCase: { title: string; ids: readonly string[] }, position: number, total: number): void;
  onCaseEnd?(result: CaseResult, position: number, total: number): void;
}

/** Options for {@link runSuite}. */
export interface RunSuiteOptions<S extends Subject> {
  readonly suite: Suite<S>;
  readonly subject: S;
  readonly environment: Environment;
  readonly filter: CaseFilter;
  /** Default deadline per case. */
  readonly caseTimeoutMs?: number;
  /** Time each cleanup step may take. */
  readonly cleanupTimeoutMs?: number;
  readonly listener?: RunListener;
  /**
   * Stops the run early (e.g. on Ctrl-C): the case running is stopped as at
   * its deadline, recorded as a harness error, and its cleanup runs; no later
   * case starts.
   */
  readonly signal?: AbortSignal;
}

/**
 * Runs the selected cases one after another, each once (certification does
 * not retry), and returns one result per selected case in declaration order.
 */
export async function runSuite<S extends Subject>(options: RunSuiteOptions<S>): Promise<CaseResult[]> {
  const selected = options.suite.cases.filter((testCase) => isSelected(options.filter, testCase));
  const runId = randomBytes(3).toString('hex');
  const results: CaseResult[] = [];
  for (const [index, testCase] of selected.entries()) {
    if (options.signal?.aborted === true) break;
    options.listener?.onCaseStart?.(testCase, index + 1, selected.length);
    const result = await runCase(testCase, options, runId);
    results.push(result);
    options.listener?.onCaseEnd?.(result, index + 1, selected.length);
  }
  return results;
}

async function runCase<S extends Subject>(
  testCase: ConformanceCase<S>,
  options: RunSuiteOptions<S>,
  runId: string,
): Promise<CaseResult> {
  const started = performance.now();
  const base = { title: testCase.title, ids: testCase.ids };
  const unmet = unmetNeed(testCase, options.subject, options.environment);
  if (unmet !== undefined) {
    return { ...base, outcome: unmet.outcome, reason: unmet.reason, failedIds: [], passedIds: [], durationMs: 0, evidence: [] };
  }

  // A case's own deadline is a floor for heavy cases, never a cap on what the user allows.
  const timeoutMs = Math.max(testCase.timeoutMs ?? 0, options.caseTimeoutMs ?? 30_000);
  const controller = new AbortController();
  const ctx = new CaseContext<S>({
    subject: options.subject,
    signal: controller.signal,
    deadline: new Date(Date.now() + timeoutMs),
    caseIds: testCase.ids,
    runId: `${runId}-${testCase.index}`,
  });

  let outcome: CaseResult['outcome'] = 'pass';
  let reason: string | undefined;
  let timer: NodeJS.Timeout | undefined;
  const deadline = new Promise<'deadline'>((resolve) => {
    timer = setTimeout(() => resolve('deadline'), timeoutMs);
  });
  let onStop: (() => void) | undefined;
  const stopped = new Promise<'stopped'>((resolve) => {
    onStop = () => resolve('stopped');
    if (options.signal?.aborted === true) onStop();
    else options.signal?.addEventListener('abort', onStop, { once: true });
  });
  try {
    const running = testCase.run(ctx).then(() => 'done' as const);
    // A case that rejects after its deadline has already been judged; its late error must not crash the run.
    running.catch(() => {});
    const ended = await Promise.race([running, deadline, stopped]);
    if (ended === 'stopped') {
      controller.abort();
      outcome = 'error';
      reason = 'stopped: the run was interrupted';
      ctx.note(reason);
    } else if (ended === 'deadline') {
      controller.abort();
      outcome = 'fail';
      reason = `did not finish within its ${timeoutMs} ms deadline`;
      ctx.note(reason);
    }
  } catch (error) {
    if (error instanceof CaseSkipped) [outcome, reason] = ['skipped', error.reason];
    else if (error instanceof CaseNotApplicable) [outcome, reason] = ['not-applicable', error.reason];
    else if (error instanceof CaseStopped) [outcome, reason] = ['fail', error.what];
    else {
      outcome = 'error';
      reason = `harness error: ${error instanceof Error ? error.message : String(error)}`;
      ctx.note(error instanceof Error && error.stack !== undefined ? error.stack : String(error));
    }
  } finally {
    clearTimeout(timer);
    if (onStop !== undefined) options.signal?.removeEventListener('abort', onStop);
    if (!controller.signal.aborted) controller.abort();
  }

  const cleanupFailures = await withTimeout(
    ctx.cleanup.unwind(options.cleanupTimeoutMs ?? 10_000),
    (options.cleanupTimeoutMs ?? 10_000) * (ctx.cleanup.size + 1),
    'cleanup did not finish',
  ).catch((error: unknown) => [{ label: 'cleanup', message: String(error) }]);
  for (const failure of cleanupFailures) ctx.note(`cleanup step "${failure.label}" failed: ${failure.message}`);

  const checks = ctx.evidence.filter((item) => item.kind === 'check');
  const failedChecks = checks.filter((item) => !item.passed);
  const failedIds = new Set(failedChecks.flatMap((item) => item.ids));
  const passedIds = new Set(checks.filter((item) => item.passed).flatMap((item) => item.ids));
  // A failed check is a failure even when the case later found it could not go on: skipping must not hide it.
  if ((outcome === 'pass' || outcome === 'skipped' || outcome === 'not-applicable') && failedChecks.length > 0) {
    if (outcome !== 'pass') ctx.note(`after the failed check(s) the case ended ${outcome}: ${reason ?? ''}`);
    outcome = 'fail';
    reason = undefined;
  }
  if (outcome === 'fail') {
    // A deadline or a stop without a recorded check counts against every ID the case cites.
    if (failedIds.size === 0) testCase.ids.forEach((id) => failedIds.add(id));
    reason ??= failedChecks.map((item) => item.what).join('; ');
  }
  if (outcome === 'pass' && cleanupFailures.length > 0) {
    outcome = 'error';
    reason = `cleanup failed: ${cleanupFailures.map((failure) => failure.label).join(', ')}`;
  }
  return {
    ...base,
    outcome,
    ...(reason === undefined ? {} : { reason }),
    failedIds: outcome === 'fail' ? testCase.ids.filter((id) => failedIds.has(id)) : [],
    passedIds: testCase.ids.filter((id) => passedIds.has(id) && !failedIds.has(id)),
    durationMs: Math.round(performance.now() - started),
    evidence: ctx.evidence,
  };
}

function unmetNeed<S extends Subject>(
  testCase: ConformanceCase<S>,
  subject: S,
  environment: Environment,
): { outcome: 'skipped' | 'not-applicable'; reason: string } | undefined {
  const needs = testCase.needs ?? {};
  if (needs.root === true && !environment.isRoot) {
    return { outcome: 'skipped', reason: 'needs root; the suite is not running as uid 0' };
  }
  if (needs.netns === true && !environment.canCreateNetns) {
    return { outcome: 'skipped', reason: 'needs network namespaces; `ip netns` is not usable here' };
  }
  const missing = (needs.capabilities ?? []).filter((capability) => !subject.capabilities.has(capability));
  const unobservable = missing.flatMap((capability) => {
    const reason = subject.unobservable?.get(capability);
    return reason === undefined ? [] : [reason];
  });
  if (unobservable.length > 0) return { outcome: 'skipped', reason: [...new Set(unobservable)].join('; ') };
  if (missing.length > 0) {
    return { outcome: 'not-applicable', reason: `the subject does not advertise ${missing.join(', ')}` };
  }
  const versions = needs.specVersions ?? [];
  if (versions.length > 0 && !versions.some((version) => subject.specVersions?.has(version) === true)) {
    return { outcome: 'not-applicable', reason: `the subject supports none of spec versions ${versions.join(', ')}` };
  }
  return undefined;
}
