import { requirementStatuses, type CaseResult, type RunListener } from '../../conformance/framework/index.js';
import type { Certificate } from './certificate.js';

/** Where terminal output goes and whether it is a terminal. */
export interface TerminalOutput {
  write(text: string): void;
  readonly isTTY: boolean;
  readonly columns?: number;
}

const outcomeLabels: Readonly<Record<CaseResult['outcome'], string>> = {
  pass: 'PASS',
  fail: 'FAIL',
  error: 'ERROR',
  'not-applicable': 'N/A',
  skipped: 'SKIP',
};

const colours: Readonly<Record<CaseResult['outcome'], string>> = {
  pass: '\x1b[32m',
  fail: '\x1b[31m',
  error: '\x1b[35m',
  'not-applicable': '\x1b[2m',
  skipped: '\x1b[33m',
};

/**
 * Progress while cases run. On a terminal: one line rewritten in place, and a
 * line kept for each case that did not pass. Elsewhere (CI logs): one plain
 * line per case, no colour, no cursor control.
 */
export function progressListener(output: TerminalOutput, label: string): RunListener {
  const colour = output.isTTY && process.env['NO_COLOR'] === undefined;
  const paint = (outcome: CaseResult['outcome'], text: string): string =>
    colour ? `${colours[outcome]}${text}\x1b[0m` : text;
  return {
    onCaseStart(testCase, position, total) {
      if (!output.isTTY) return;
      const line = `${label} [${position}/${total}] ${testCase.ids.join(' ')} ${testCase.title}`;
      output.write(`\r\x1b[2K${line.slice(0, (output.columns ?? 100) - 1)}`);
    },
    onCaseEnd(result, position, total) {
      const line = `${paint(result.outcome, outcomeLabels[result.outcome].padEnd(5))} ${label} [${position}/${total}] [${result.ids.join(' ')}] ${result.title} (${result.durationMs} ms)${result.outcome === 'pass' ? '' : `: ${result.reason ?? ''}`}`;
      if (output.isTTY) {
        output.write('\r\x1b[2K');
        if (result.outcome !== 'pass') output.write(`${line}\n`);
      } else {
        output.write(`${line}\n`);
      }
    },
  };
}

const statusOrder = requirementStatuses;

/** The table printed at the end of a run: requirements by level and status, what blocked, the verdict. */
export function renderSummary(certificate: Certificate): string {
  const lines: string[] = [''];
  const header = ['level', ...statusOrder];
  const rows = (['MUST', 'SHOULD', 'MAY'] as const).map((level) => [
    level,
    ...statusOrder.map((status) => String(certificate.summary.requirements[level][status] ?? 0)),
  ]);
  const widths = header.map((title, column) => Math.max(title.length, ...rows.map((row) => (row[column] ?? '').length)));
  const format = (row: string[]): string => row.map((text, column) => text.padStart(widths[column] ?? 0)).join('  ');
  lines.push(`Requirements (${certificate.runs.map((run) => `${run.iface} ${run.specVersion}`).join(', ')}):`);
  lines.push(format(header), format(header.map((title) => '-'.repeat(title.length))), ...rows.map(format));
  const cases = certificate.summary.cases;
  lines.push(
    '',
    `Cases: ${Object.entries(cases)
      .map(([outcome, n]) => `${n} ${outcome}`)
      .join(', ') || 'none'}`,
  );

  const notable = certificate.runs.flatMap((run) =>
    run.requirements.filter(
      (requirement) =>
        ['fail', 'error', 'skipped', 'known', 'stale'].includes(requirement.status) ||
        (requirement.status === 'not-checked' && requirement.level === 'MUST'),
    ),
  );
  if (notable.length > 0) {
    lines.push('');
    for (const requirement of notable) {
      lines.push(`  ${requirement.status.padEnd(11)} ${requirement.level.padEnd(6)} ${requirement.id}  ${requirement.title}`);
      if (requirement.reason !== undefined) lines.push(`${' '.repeat(35)}${requirement.reason}`);
    }
  }
  if (certificate.verdict.uncheckableMusts.length > 0 && !certificate.profile.strict) {
    lines.push(
      '',
      `Not checkable by any suite (listed, not counted as passed): ${certificate.verdict.uncheckableMusts.join(', ')}`,
    );
  }
  lines.push('', certificate.verdict.summary, '');
  return lines.join('\n');
}
