/**
 * The combined certificate of `kubeplug certify all`: each interface's own
 * certificate (exactly what `certify <iface>` would have written) inside,
 * with the part that served it, its wall time and its verdict, and an
 * overall verdict. The JUnit, TAP and Markdown reports are the
 * one-interface renderers applied per interface.
 */
import type { CaseResult, Environment, Verdict } from '../../conformance/framework/index.js';
import { summarize, type Certificate, type InterfaceRun, type RunProfile } from '../report/certificate.js';
import { renderJunit } from '../report/junit-report.js';
import { renderMarkdown } from '../report/markdown-report.js';
import { renderTap } from '../report/tap-report.js';
import { renderSummary } from '../report/terminal-report.js';
import type { ReportRenderers } from '../report/write-reports.js';
import type { NodeInterface } from './node-parts.js';

/** One interface of the node: who served it, how long it took, how it ended. */
export interface NodeInterfaceEntry {
  readonly iface: NodeInterface;
  readonly specVersion: string;
  readonly part: { readonly kind: 'ours' | 'user'; readonly description: string };
  /** False when --focus/--skip left none of its cases: its part was not started and it does not count. */
  readonly selected: boolean;
  /** Wall time of the step: starting the part, running the suite, stopping the part. */
  readonly durationMs: number;
  readonly verdict: { readonly certified: boolean; readonly exitCode: Verdict['exitCode']; readonly summary: string };
  /** The interface's own certificate, when its suite ran. */
  readonly certificate?: Certificate;
  /** Why the harness could not certify it (its part did not start or stop, its suite could not run). */
  readonly error?: string;
}

/**
 * The JSON document `certify all --report json=FILE` writes: the header of
 * a one-interface certificate (kit, times, environment, profile, verdict,
 * counts) over every interface, then the interfaces themselves.
 */
export interface NodeCertificate
  extends Pick<Certificate, 'schemaVersion' | 'kit' | 'startedAt' | 'finishedAt' | 'durationMs' | 'environment' | 'profile' | 'verdict' | 'summary'> {
  readonly kind: 'kubeplug-node-certificate';
  readonly interfaces: readonly NodeInterfaceEntry[];
  /** What stopping the node at the end could not undo (empty when it came down cleanly; anything here makes the exit code 2). */
  readonly teardownProblems: readonly string[];
}

/** What {@link combineCertificates} takes besides the entries. */
export interface NodeRunFacts {
  readonly kit: NodeCertificate['kit'];
  readonly startedAt: Date;
  readonly finishedAt: Date;
  readonly environment: Environment;
  readonly profile: RunProfile;
  readonly teardownProblems: readonly string[];
}

/** An entry's verdict from its certificate, or a harness error. */
export function entryVerdict(certificate: Certificate | undefined, error: string | undefined): NodeInterfaceEntry['verdict'] {
  if (error !== undefined || certificate === undefined) return { certified: false, exitCode: 2, summary: `harness error: ${error ?? 'no certificate'}` };
  return { certified: certificate.verdict.certified, exitCode: certificate.verdict.exitCode, summary: certificate.verdict.summary };
}

/**
 * The overall verdict: exit 0 only when every selected interface is
 * certified; 2 when the harness failed any of them; else 1.
 */
function overallVerdict(entries: readonly NodeInterfaceEntry[], teardownProblems: readonly string[]): Verdict & { certified: boolean } {
  const selected = entries.filter((entry) => entry.selected);
  const verdicts = selected.flatMap((entry) => (entry.certificate === undefined ? [] : [entry.certificate.verdict]));
  const harnessErrors = verdicts.reduce((sum, verdict) => sum + verdict.harnessErrors, 0) + selected.filter((entry) => entry.error !== undefined).length;
  const blockingMusts = verdicts.flatMap((verdict) => verdict.blockingMusts);
  const uncheckableMusts = verdicts.flatMap((verdict) => verdict.uncheckableMusts);
  const exitCode = selected.length === 0 || teardownProblems.length > 0 ? 2 : selected.some((entry) => entry.verdict.exitCode === 2) ? 2 : selected.some((entry) => entry.verdict.exitCode === 1) ? 1 : 0;
  const names = selected.map((entry) => entry.iface).join(', ');
  const teardown = teardownProblems.length === 0 ? '' : ` (and the node did not come down cleanly: ${teardownProblems.join('; ')})`;
  const failures = selected.filter((entry) => !entry.verdict.certified).map((entry) => `${entry.iface}: ${entry.verdict.summary}`);
  const summary =
    exitCode === 0
      ? `certified: every applicable MUST requirement in scope passed on every interface (${names})`
      : `not certified: ${failures.length === 0 ? 'every interface passed' : failures.join('; ')}${teardown}`;
  return { exitCode, summary, blockingMusts, uncheckableMusts, harnessErrors, certified: exitCode === 0 };
}

/** Puts the interfaces' certificates together under one verdict. */
export function combineCertificates(entries: readonly NodeInterfaceEntry[], facts: NodeRunFacts): NodeCertificate {
  const view = runsOf(entries);
  return {
    kind: 'kubeplug-node-certificate',
    schemaVersion: 1,
    kit: facts.kit,
    startedAt: facts.startedAt.toISOString(),
    finishedAt: facts.finishedAt.toISOString(),
    durationMs: facts.finishedAt.getTime() - facts.startedAt.getTime(),
    environment: facts.environment,
    profile: facts.profile,
    verdict: overallVerdict(entries, facts.teardownProblems),
    summary: summarize(view),
    interfaces: entries,
    teardownProblems: facts.teardownProblems,
  };
}

/** One run per selected interface; an interface the harness failed is one case in error, so every report shows it. */
function runsOf(entries: readonly NodeInterfaceEntry[]): InterfaceRun[] {
  return entries
    .filter((entry) => entry.selected)
    .map((entry): InterfaceRun => {
      const run = entry.certificate?.runs[0];
      if (run !== undefined && entry.error === undefined) return { ...run, durationMs: entry.durationMs };
      const failed: CaseResult = {
        title: `the harness certifies the ${entry.iface} part`,
        ids: [],
        outcome: 'error',
        reason: entry.error ?? 'no certificate',
        failedIds: [],
        passedIds: [],
        durationMs: entry.durationMs,
        evidence: [],
      };
      return {
        iface: entry.iface,
        specVersion: entry.specVersion,
        subject: run?.subject ?? { part: entry.part.description },
        cases: [...(run?.cases ?? []), failed],
        requirements: run?.requirements ?? [],
        durationMs: entry.durationMs,
      };
    });
}

/** The node certificate seen as one multi-interface certificate, for the renderers written for those. */
export function asCertificate(node: NodeCertificate): Certificate {
  const runs = runsOf(node.interfaces);
  return {
    kind: 'kubeplug-certificate',
    schemaVersion: 1,
    kit: node.kit,
    startedAt: node.startedAt,
    finishedAt: node.finishedAt,
    durationMs: node.durationMs,
    environment: node.environment,
    profile: node.profile,
    verdict: node.verdict,
    summary: node.summary,
    runs,
  };
}

function seconds(ms: number): string {
  return `${(ms / 1000).toFixed(1)} s`;
}

/**
 * TAP 14 with one subtest per interface: each is that interface's own TAP
 * report, indented, and its test point passes when the interface is
 * certified.
 */
export function renderNodeTap(node: NodeCertificate): string {
  const selected = node.interfaces.filter((entry) => entry.selected);
  const lines = ['TAP version 14', `1..${selected.length}`];
  const views = asCertificate(node).runs;
  selected.forEach((entry, index) => {
    const run = views[index] as InterfaceRun;
    const own = renderTap({ ...asCertificate(node), verdict: { ...node.verdict, summary: entry.verdict.summary }, runs: [run] });
    lines.push(`# Subtest: ${entry.iface}`);
    for (const line of own.trimEnd().split('\n').slice(1)) lines.push(line === '' ? '' : `    ${line}`);
    const point = `${entry.iface} - ${entry.part.description} (${seconds(entry.durationMs)})`.replace(/#/g, '\\#');
    lines.push(`${entry.verdict.certified ? 'ok' : 'not ok'} ${index + 1} - ${point}`);
  });
  lines.push(`# ${node.verdict.summary}`);
  return `${lines.join('\n')}\n`;
}

/** Markdown: the node's verdict and a table of interfaces, then each interface's own report one heading level down. */
export function renderNodeMarkdown(node: NodeCertificate): string {
  const out = ['# kubeplug node certification report', ''];
  out.push(`**Verdict:** ${node.verdict.certified ? 'certified' : 'not certified'} (exit ${node.verdict.exitCode}). ${node.verdict.summary}`, '');
  out.push(`kubeplug ${node.kit.version}, ${node.startedAt}, ${seconds(node.durationMs)} in all.`, '');
  out.push('| interface | part | verdict | wall time |', '| --- | --- | --- | --- |');
  for (const entry of node.interfaces) {
    const verdict = entry.selected ? `${entry.verdict.certified ? 'certified' : 'not certified'} (exit ${entry.verdict.exitCode})` : 'not selected';
    out.push(`| ${entry.iface} | ${entry.part.description.replace(/\|/g, '\\|')} | ${verdict} | ${entry.selected ? seconds(entry.durationMs) : ''} |`);
  }
  out.push('');
  for (const entry of node.interfaces.filter((candidate) => candidate.selected)) {
    out.push(`## ${entry.iface.toUpperCase()}: ${entry.verdict.certified ? 'certified' : 'not certified'} in ${seconds(entry.durationMs)}`, '');
    if (entry.error !== undefined) out.push(`Harness error: ${entry.error}`, '');
    if (entry.certificate === undefined) continue;
    const own = renderMarkdown({ ...entry.certificate, runs: entry.certificate.runs.map((run) => ({ ...run, durationMs: entry.durationMs })) });
    // The interface's report without its own title, every heading one level down.
    for (const line of own.trimEnd().split('\n').slice(2)) out.push(/^#{1,5} /.test(line) ? `#${line}` : line);
    out.push('');
  }
  return `${out.join('\n')}\n`;
}

/** The renderers `--report FORMAT=FILE` uses for a node certificate. */
export const nodeReportRenderers: ReportRenderers<NodeCertificate> = {
  json: (node) => `${JSON.stringify(node, null, 2)}\n`,
  junit: (node) => renderJunit(asCertificate(node)),
  tap: renderNodeTap,
  markdown: renderNodeMarkdown,
};

/** The end-of-run summary: one line per interface with its verdict and wall time, then the requirement table over all of them. */
export function renderNodeSummary(node: NodeCertificate): string {
  const lines = ['', 'Interfaces:'];
  for (const entry of node.interfaces) {
    const verdict = entry.selected ? (entry.verdict.certified ? 'certified' : `not certified (exit ${entry.verdict.exitCode})`) : 'not selected';
    lines.push(`  ${entry.iface.padEnd(8)} ${verdict.padEnd(26)} ${entry.selected ? seconds(entry.durationMs).padStart(8) : ''.padStart(8)}  ${entry.part.description}`);
  }
  lines.push(`  ${'total'.padEnd(8)} ${''.padEnd(26)} ${seconds(node.durationMs).padStart(8)}`);
  return `${lines.join('\n')}\n${renderSummary(asCertificate(node))}`;
}
