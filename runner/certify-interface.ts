import {
  compileFilter,
  type CaseFilter,
  type Environment,
  decideVerdict,
  FilterPatternError,
  isUnfiltered,
  KnownDeviationsError,
  probeEnvironment,
  readKnownDeviations,
  requirementResults,
  runSuite,
  type KnownDeviation,
  type Subject,
  type Suite,
} from '../conformance/framework/index.js';
import { loadRegistry, type InterfaceName, type Requirement } from '../specs/registry/index.js';
import { kitVersion } from './kit-version.js';
import { summarize, type Certificate } from './report/certificate.js';
import { progressListener, renderSummary, type TerminalOutput } from './report/terminal-report.js';
import { checkReportTargets, parseReportRequests, writeReports } from './report/write-reports.js';
import { UsageError } from './usage-error.js';

/** The flags every `certify` command shares. */
export interface CommonCertifyOptions {
  readonly focus: readonly string[];
  readonly skip: readonly string[];
  readonly report: readonly string[];
  readonly knownDeviations?: string;
  readonly strict: boolean;
  readonly caseTimeoutSeconds: number;
}

/** A subject the runner can close when done. */
export type ClosableSubject = Subject & { close(): void };

/** What certifying one interface needs besides the flags. */
export interface CertifyInterfaceOptions<S extends ClosableSubject> {
  readonly iface: InterfaceName;
  readonly specVersion: string;
  readonly suite: Suite<S>;
  /** Connects to the subject; throws when it cannot be reached. */
  connect(): Promise<S>;
  readonly flags: CommonCertifyOptions;
  /** Progress (stderr) and summary (stdout). */
  readonly progress: TerminalOutput;
  readonly out: TerminalOutput;
}

/** What one interface's run is judged by: its requirements, the case filter, the known deviations and the flags. */
export interface InterfaceRunPlan {
  readonly iface: InterfaceName;
  readonly requirements: readonly Requirement[];
  readonly filter: CaseFilter;
  readonly knownDeviations: readonly KnownDeviation[];
  readonly flags: CommonCertifyOptions;
}

/** The requirements a suite certifies: rules that bind runtimes are checked by kubeplug's own invoker tests, not by certifying a plugin. */
export function certifiableRequirements(iface: InterfaceName): Requirement[] {
  return loadRegistry()
    .list(iface)
    .filter((requirement) => requirement.binds !== 'runtime');
}

/** Compiles --focus/--skip, naming the flag on a bad pattern. */
export function compileCaseFilter(flags: Pick<CommonCertifyOptions, 'focus' | 'skip'>): CaseFilter {
  try {
    return compileFilter({ focus: flags.focus, skip: flags.skip });
  } catch (error) {
    if (error instanceof FilterPatternError) throw new UsageError(error.message);
    throw error;
  }
}

/** Throws a UsageError unless --case-timeout is a positive number. */
export function checkCaseTimeout(flags: Pick<CommonCertifyOptions, 'caseTimeoutSeconds'>): void {
  if (!Number.isFinite(flags.caseTimeoutSeconds) || flags.caseTimeoutSeconds <= 0) {
    throw new UsageError(`--case-timeout must be a positive number of seconds, got ${flags.caseTimeoutSeconds}`);
  }
}

/** What {@link certifySubject} needs besides the plan. */
export interface CertifySubjectOptions<S extends ClosableSubject> {
  readonly specVersion: string;
  readonly suite: Suite<S>;
  readonly subject: S;
  readonly environment: Environment;
  /** Where case progress goes, and the label it carries. */
  readonly progress: TerminalOutput;
  readonly progressLabel?: string;
  /** Stops the run early: the case running is stopped and no later case starts. */
  readonly signal?: AbortSignal;
}

/**
 * Runs a connected subject through its suite and judges it: the
 * certificate of one interface, not yet written anywhere. The subject is
 * left open (the caller closes it).
 */
export async function certifySubject<S extends ClosableSubject>(plan: InterfaceRunPlan, options: CertifySubjectOptions<S>): Promise<Certificate> {
  const { flags } = plan;
  const startedAt = new Date();
  const cases = await runSuite({
    suite: options.suite,
    subject: options.subject,
    environment: options.environment,
    filter: plan.filter,
    caseTimeoutMs: flags.caseTimeoutSeconds * 1000,
    listener: progressListener(options.progress, options.progressLabel ?? plan.iface),
    ...(options.signal === undefined ? {} : { signal: options.signal }),
  });
  const requirementsResult = requirementResults({
    requirements: plan.requirements,
    declaredCases: options.suite.cases,
    results: cases,
    knownDeviations: plan.knownDeviations,
  });
  const verdict = decideVerdict(cases, requirementsResult, { strict: flags.strict });
  const finishedAt = new Date();
  const runs = [
    {
      iface: plan.iface,
      specVersion: options.specVersion,
      subject: options.subject.identity,
      cases,
      requirements: requirementsResult,
    },
  ];
  return {
    kind: 'kubeplug-certificate',
    schemaVersion: 1,
    kit: { name: 'kubeplug', version: kitVersion() },
    startedAt: startedAt.toISOString(),
    finishedAt: finishedAt.toISOString(),
    durationMs: finishedAt.getTime() - startedAt.getTime(),
    environment: options.environment,
    profile: {
      focus: flags.focus,
      skip: flags.skip,
      partial: !isUnfiltered(plan.filter),
      strict: flags.strict,
      caseTimeoutMs: flags.caseTimeoutSeconds * 1000,
      knownDeviations: plan.knownDeviations,
    },
    verdict: { ...verdict, certified: verdict.exitCode === 0 },
    summary: summarize(runs),
    runs,
  };
}

/**
 * Certifies one subject against one interface's suite: validates the flags,
 * connects, runs, judges, writes the reports and prints the summary. Usage
 * mistakes are thrown as UsageError before anything runs.
 */
export async function certifyInterface<S extends ClosableSubject>(
  options: CertifyInterfaceOptions<S>,
): Promise<{ certificate: Certificate; exitCode: number }> {
  const { flags } = options;
  const requirements = certifiableRequirements(options.iface);
  const filter = compileCaseFilter(flags);
  const reports = parseReportRequests(flags.report);
  await checkReportTargets(reports);
  const knownDeviations = (await loadDeviations(flags.knownDeviations, new Map([[options.iface, requirements]]))).get(options.iface) ?? [];
  checkCaseTimeout(flags);

  const environment = await probeEnvironment();
  const subject = await options.connect();
  try {
    const certificate = await certifySubject(
      { iface: options.iface, requirements, filter, knownDeviations, flags },
      { specVersion: options.specVersion, suite: options.suite, subject, environment, progress: options.progress },
    );
    await writeReports(certificate, reports);
    options.out.write(renderSummary(certificate));
    return { certificate, exitCode: certificate.verdict.exitCode };
  } finally {
    subject.close();
  }
}

/**
 * Reads a --known-deviations file and sorts its lines by interface; an ID
 * no given interface's spec holds is a usage error naming it.
 */
export async function loadDeviations(
  file: string | undefined,
  requirementsByIface: ReadonlyMap<InterfaceName, readonly Requirement[]>,
): Promise<Map<InterfaceName, KnownDeviation[]>> {
  const sorted = new Map<InterfaceName, KnownDeviation[]>();
  if (file === undefined) return sorted;
  const ifaceOf = new Map<string, InterfaceName>();
  for (const [iface, requirements] of requirementsByIface) for (const requirement of requirements) ifaceOf.set(requirement.id, iface);
  let deviations: KnownDeviation[];
  try {
    deviations = await readKnownDeviations(file);
  } catch (error) {
    if (error instanceof KnownDeviationsError) throw new UsageError(error.message);
    throw error;
  }
  const unknown = deviations.filter((deviation) => !ifaceOf.has(deviation.id));
  if (unknown.length > 0) {
    const specs = [...requirementsByIface.keys()].join(', ');
    throw new UsageError(
      `--known-deviations ${file}: ${unknown.map((deviation) => deviation.id).join(', ')} is not a requirement of the ${specs} spec${requirementsByIface.size > 1 ? 's' : ''}`,
    );
  }
  for (const deviation of deviations) {
    const iface = ifaceOf.get(deviation.id) as InterfaceName;
    sorted.set(iface, [...(sorted.get(iface) ?? []), deviation]);
  }
  return sorted;
}
