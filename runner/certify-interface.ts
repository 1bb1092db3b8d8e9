import {
  compileFilter,
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
import { loadRegistry, type InterfaceName } from '../specs/registry/index.js';
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

/**
 * Certifies one subject against one interface's suite: validates the flags,
 * connects, runs, judges, writes the reports and prints the summary. Usage
 * mistakes are thrown as UsageError before anything runs.
 */
export async function certifyInterface<S extends ClosableSubject>(
  options: CertifyInterfaceOptions<S>,
): Promise<{ certificate: Certificate; exitCode: number }> {
  const { flags } = options;
  const registry = loadRegistry();
  // Rules that bind runtimes are checked by kubeplug's own invoker tests, not by certifying a plugin.
  const requirements = registry.list(options.iface).filter((requirement) => requirement.binds !== 'runtime');
  let filter;
  try {
    filter = compileFilter({ focus: flags.focus, skip: flags.skip });
  } catch (error) {
    if (error instanceof FilterPatternError) throw new UsageError(error.message);
    throw error;
  }
  const reports = parseReportRequests(flags.report);
  await checkReportTargets(reports);
  const knownDeviations = await loadDeviations(flags.knownDeviations, options.iface, new Set(requirements.map((r) => r.id)));
  if (!Number.isFinite(flags.caseTimeoutSeconds) || flags.caseTimeoutSeconds <= 0) {
    throw new UsageError(`--case-timeout must be a positive number of seconds, got ${flags.caseTimeoutSeconds}`);
  }

  const environment = await probeEnvironment();
  const startedAt = new Date();
  const subject = await options.connect();
  try {
    const cases = await runSuite({
      suite: options.suite,
      subject,
      environment,
      filter,
      caseTimeoutMs: flags.caseTimeoutSeconds * 1000,
      listener: progressListener(options.progress, options.iface),
    });
    const requirementsResult = requirementResults({
      requirements,
      declaredCases: options.suite.cases,
      results: cases,
      knownDeviations,
    });
    const verdict = decideVerdict(cases, requirementsResult, { strict: flags.strict });
    const finishedAt = new Date();
    const runs = [
      {
        iface: options.iface,
        specVersion: options.specVersion,
        subject: subject.identity,
        cases,
        requirements: requirementsResult,
      },
    ];
    const certificate: Certificate = {
      kind: 'kubeplug-certificate',
      schemaVersion: 1,
      kit: { name: 'kubeplug', version: kitVersion() },
      startedAt: startedAt.toISOString(),
      finishedAt: finishedAt.toISOString(),
      durationMs: finishedAt.getTime() - startedAt.getTime(),
      environment,
      profile: {
        focus: flags.focus,
        skip: flags.skip,
        partial: !isUnfiltered(filter),
        strict: flags.strict,
        caseTimeoutMs: flags.caseTimeoutSeconds * 1000,
        knownDeviations,
      },
      verdict: { ...verdict, certified: verdict.exitCode === 0 },
      summary: summarize(runs),
      runs,
    };
    await writeReports(certificate, reports);
    options.out.write(renderSummary(certificate));
    return { certificate, exitCode: verdict.exitCode };
  } finally {
    subject.close();
  }
}

async function loadDeviations(
  file: string | undefined,
  iface: InterfaceName,
  ids: ReadonlySet<string>,
): Promise<KnownDeviation[]> {
  if (file === undefined) return [];
  try {
    const deviations = await readKnownDeviations(file);
    const unknown = deviations.filter((deviation) => !ids.has(deviation.id));
    if (unknown.length > 0) {
      throw new UsageError(
        `--known-deviations ${file}: ${unknown.map((deviation) => deviation.id).join(', ')} is not a requirement of the ${iface} spec`,
      );
    }
    return deviations;
  } catch (error) {
    if (error instanceof KnownDeviationsError) throw new UsageError(error.message);
    throw error;
  }
}
