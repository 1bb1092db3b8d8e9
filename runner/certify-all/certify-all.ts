/**
 * `kubeplug certify all`: checks the flags and the machine, stands up the
 * node part by part in a private temporary root, certifies CNI, CSI, CRI
 * and the kubelet in turn with one progress display, tears everything
 * down (also on failure and on Ctrl-C, which exits 130), and writes one
 * combined certificate.
 */
import { isSelected, probeEnvironment, type CaseFilter, type KnownDeviation } from '../../conformance/framework/index.js';
import type { InterfaceName, Requirement } from '../../specs/registry/index.js';
import { certifiableRequirements, checkCaseTimeout, compileCaseFilter, loadDeviations, type CommonCertifyOptions } from '../certify-interface.js';
import type { CommandIo } from '../commands/certify.js';
import { kitVersion } from '../kit-version.js';
import { checkReportTargets, parseReportRequests, writeReports } from '../report/write-reports.js';
import { declaredCasesOf } from '../suites.js';
import { UsageError } from '../usage-error.js';
import { interfaceSteps, specVersionOf, type StepResult } from './interface-steps.js';
import { combineCertificates, entryVerdict, nodeReportRenderers, renderNodeSummary, type NodeInterfaceEntry } from './node-certificate.js';
import { createCertifyAllNode, describePart, nodeInterfaces, type CertifyAllNode, type NodeInterface, type NodeParts } from './node-parts.js';
import { missingPrerequisites } from './prerequisites.js';

/** Exit code after Ctrl-C (128 + SIGINT), as shells report it. */
const interruptedExitCode = 130;

/** How long a Ctrl-C waits for the case running to stop before the node is torn down under it. */
const interruptGraceMs = 60_000;

/** Everything `certify all` was asked to do. */
export interface CertifyAllOptions {
  readonly flags: CommonCertifyOptions;
  readonly parts: NodeParts;
}

/** The cases of each interface the filter selects. */
async function selectedCaseCounts(filter: CaseFilter): Promise<Map<NodeInterface, number>> {
  const counts = new Map<NodeInterface, number>();
  for (const iface of nodeInterfaces) counts.set(iface, (await declaredCasesOf(iface)).filter((testCase) => isSelected(filter, testCase)).length);
  return counts;
}

function seconds(ms: number): string {
  return `${(ms / 1000).toFixed(1)} s`;
}

/** Stops on SIGINT/SIGTERM: aborts the run at once, tears the node down after a grace period or at a second signal. */
function interruptOnSignals(io: CommandIo, node: CertifyAllNode): { controller: AbortController; release(): void } {
  const controller = new AbortController();
  let forced: NodeJS.Timeout | undefined;
  const forceTeardown = (): void => {
    void node.teardown().finally(() => process.exit(interruptedExitCode));
  };
  const onSignal = (signal: NodeJS.Signals): void => {
    if (controller.signal.aborted) {
      io.progress.write(`\nkubeplug certify all: ${signal} again, tearing the node down now\n`);
      forceTeardown();
      return;
    }
    io.progress.write(`\nkubeplug certify all: ${signal}, stopping the case running and tearing the node down\n`);
    controller.abort();
    forced = setTimeout(forceTeardown, interruptGraceMs);
    forced.unref();
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  return {
    controller,
    release() {
      clearTimeout(forced);
      process.off('SIGINT', onSignal);
      process.off('SIGTERM', onSignal);
    },
  };
}

/** Runs `certify all`; the exit code goes to `io`. Usage and prerequisite problems are thrown as UsageError before anything starts. */
export async function certifyAll(options: CertifyAllOptions, io: CommandIo): Promise<void> {
  const { flags, parts } = options;
  const filter = compileCaseFilter(flags);
  checkCaseTimeout(flags);
  const reports = parseReportRequests(flags.report);
  await checkReportTargets(reports);
  const requirements = new Map<InterfaceName, readonly Requirement[]>(nodeInterfaces.map((iface) => [iface, certifiableRequirements(iface)]));
  const deviations = await loadDeviations(flags.knownDeviations, requirements);
  const selected = await selectedCaseCounts(filter);
  if ([...selected.values()].every((count) => count === 0)) {
    throw new UsageError(`--focus/--skip select no case of any interface (${nodeInterfaces.join(', ')})`);
  }
  const missing = await missingPrerequisites(parts);
  if (missing.length > 0) throw new UsageError(`certify all cannot start here: ${missing.join('; ')}`);

  const environment = await probeEnvironment();
  const startedAt = new Date();
  const node = createCertifyAllNode(parts);
  const interrupt = interruptOnSignals(io, node);
  // Every temporary folder any part or suite makes lands in the private root, so the teardown's removal of the root removes them all.
  const previousTmpdir = process.env['TMPDIR'];
  process.env['TMPDIR'] = node.root;
  io.progress.write(`kubeplug certify all: private root ${node.root}\n`);
  const entries: NodeInterfaceEntry[] = [];
  let teardownProblems: string[] = [];
  try {
    for (const iface of nodeInterfaces) {
      const part = { kind: parts[iface].kind, description: describePart(iface, parts) };
      const specVersion = await specVersionOf(iface);
      if ((selected.get(iface) ?? 0) === 0) {
        entries.push({ iface, specVersion, part, selected: false, durationMs: 0, verdict: { certified: false, exitCode: 2, summary: 'not selected by --focus/--skip' } });
        continue;
      }
      if (interrupt.controller.signal.aborted) break;
      io.progress.write(`\n== ${iface}: ${part.description}, ${selected.get(iface)} case(s)\n`);
      const started = performance.now();
      let result: StepResult | undefined;
      let error: string | undefined;
      try {
        result = await interfaceSteps[iface]({
          node,
          parts,
          plan: { iface, requirements: requirements.get(iface) ?? [], filter, knownDeviations: deviations.get(iface) ?? ([] as KnownDeviation[]), flags },
          environment,
          progress: io.progress,
          signal: interrupt.controller.signal,
        });
      } catch (caught) {
        error = caught instanceof Error ? caught.message : String(caught);
      }
      if (result !== undefined && result.teardownProblems.length > 0) error = result.teardownProblems.join('; ');
      const durationMs = Math.round(performance.now() - started);
      const verdict = entryVerdict(result?.certificate, error);
      entries.push({ iface, specVersion, part, selected: true, durationMs, verdict, ...(result === undefined ? {} : { certificate: result.certificate }), ...(error === undefined ? {} : { error }) });
      io.progress.write(`== ${iface}: ${verdict.summary} (${seconds(durationMs)})\n`);
    }
  } finally {
    io.progress.write('kubeplug certify all: tearing the node down\n');
    teardownProblems = (await node.teardown()).map((failure) => `${failure.label}: ${failure.message}`);
    if (previousTmpdir === undefined) delete process.env['TMPDIR'];
    else process.env['TMPDIR'] = previousTmpdir;
    interrupt.release();
    if (teardownProblems.length > 0) io.progress.write(`kubeplug certify all: tearing the node down left problems: ${teardownProblems.join('; ')}\n`);
  }
  if (interrupt.controller.signal.aborted) {
    io.progress.write('kubeplug certify all: interrupted; the node is torn down and nothing was certified\n');
    io.setExitCode(interruptedExitCode);
    // A handle a stopped part left open must not keep the process from ending.
    setTimeout(() => process.exit(interruptedExitCode), 5000).unref();
    return;
  }

  const certificate = combineCertificates(entries, {
    kit: { name: 'kubeplug', version: kitVersion() },
    startedAt,
    finishedAt: new Date(),
    environment,
    teardownProblems,
    profile: {
      focus: flags.focus,
      skip: flags.skip,
      partial: [...selected.values()].some((count) => count === 0) || flags.focus.length > 0 || flags.skip.length > 0,
      strict: flags.strict,
      caseTimeoutMs: flags.caseTimeoutSeconds * 1000,
      knownDeviations: [...deviations.values()].flat(),
    },
  });
  await writeReports(certificate, reports, nodeReportRenderers);
  io.out.write(renderNodeSummary(certificate));
  io.setExitCode(certificate.verdict.exitCode);
}
