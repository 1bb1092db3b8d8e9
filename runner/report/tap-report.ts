import type { CaseResult } from '../../conformance/framework/index.js';
import type { Certificate } from './certificate.js';

/**
 * TAP version 14: one test point per case. Skipped and not-applicable cases
 * carry a SKIP directive; failures and harness errors carry a YAML block with
 * the failed checks.
 */
export function renderTap(certificate: Certificate): string {
  const cases = certificate.runs.flatMap((run) => run.cases.map((result) => ({ iface: run.iface, result })));
  const lines = ['TAP version 14', `1..${cases.length}`];
  cases.forEach(({ iface, result }, index) => {
    const description = `${iface} [${result.ids.join(' ')}] ${result.title}`.replace(/#/g, '\\#');
    const number = index + 1;
    switch (result.outcome) {
      case 'pass':
        lines.push(`ok ${number} - ${description}`);
        break;
      case 'skipped':
      case 'not-applicable':
        lines.push(`ok ${number} - ${description} # SKIP ${result.outcome}: ${oneLine(result.reason ?? '')}`);
        break;
      case 'fail':
      case 'error':
        lines.push(`not ok ${number} - ${description}`, ...yamlBlock(result));
        break;
    }
  });
  lines.push(`# ${certificate.verdict.summary}`);
  return `${lines.join('\n')}\n`;
}

function yamlBlock(result: CaseResult): string[] {
  const lines = ['  ---', `  outcome: ${result.outcome}`, `  message: ${JSON.stringify(result.reason ?? '')}`];
  if (result.failedIds.length > 0) lines.push(`  requirements: [${result.failedIds.join(', ')}]`);
  const failed = result.evidence.filter((item) => item.kind === 'check' && !item.passed);
  if (failed.length > 0) {
    lines.push('  checks:');
    for (const item of failed) {
      if (item.kind !== 'check') continue;
      lines.push(`    - what: ${JSON.stringify(item.what)}`);
      lines.push(`      expected: ${JSON.stringify(item.expected)}`);
      lines.push(`      got: ${JSON.stringify(item.got)}`);
    }
  }
  lines.push('  ...');
  return lines;
}

function oneLine(text: string): string {
  return text.replace(/\s+/g, ' ').trim();
}
