import type { RequirementResult } from '../../conformance/framework/index.js';
import type { Certificate } from './certificate.js';

/** A Markdown report for people: verdict, subject, every requirement, and the evidence of what failed. */
export function renderMarkdown(certificate: Certificate): string {
  const out: string[] = [];
  out.push(`# kubeplug certification report`, '');
  out.push(`**Verdict:** ${certificate.verdict.certified ? 'certified' : 'not certified'} (exit ${certificate.verdict.exitCode}). ${certificate.verdict.summary}`, '');
  out.push(
    `kubeplug ${certificate.kit.version}, ${certificate.startedAt}, ${(certificate.durationMs / 1000).toFixed(1)} s, ` +
      `${certificate.environment.platform}/${certificate.environment.arch}, kernel ${certificate.environment.kernel}, ` +
      `node ${certificate.environment.node}, ${certificate.environment.isRoot ? 'root' : 'not root'}.`,
    '',
  );
  if (certificate.profile.partial) {
    out.push(
      `> Partial run: --focus ${JSON.stringify(certificate.profile.focus)} --skip ${JSON.stringify(certificate.profile.skip)} left cases out.`,
      '',
    );
  }
  for (const run of certificate.runs) {
    out.push(`## ${run.iface.toUpperCase()} (spec ${run.specVersion}${run.durationMs === undefined ? '' : `, ${(run.durationMs / 1000).toFixed(1)} s`})`, '');
    out.push('| subject | |', '| --- | --- |');
    for (const [key, value] of Object.entries(run.subject)) out.push(`| ${cell(key)} | ${cell(formatValue(value))} |`);
    out.push('');
    out.push('| requirement | level | status | title | note |', '| --- | --- | --- | --- | --- |');
    for (const requirement of run.requirements) out.push(requirementRow(requirement));
    out.push('');
    const problems = run.cases.filter((result) => result.outcome === 'fail' || result.outcome === 'error');
    if (problems.length > 0) {
      out.push('### Evidence for failures and errors', '');
      for (const result of problems) {
        out.push(`#### ${result.outcome}: [${result.ids.join(' ')}] ${result.title}`, '');
        out.push(`${result.reason ?? ''}`, '', '```');
        for (const item of result.evidence) {
          if (item.kind === 'call') {
            const answer = item.status === undefined ? JSON.stringify(item.response) : `${item.status.code}: ${item.status.message}`;
            out.push(`call ${item.method} at ${item.target} -> ${answer}`);
          } else if (item.kind === 'check') {
            out.push(`${item.passed ? 'ok  ' : 'FAIL'} ${item.what}: expected ${JSON.stringify(item.expected)}, got ${JSON.stringify(item.got)}`);
          } else {
            out.push(`note ${item.text}`);
          }
        }
        out.push('```', '');
      }
    }
  }
  return `${out.join('\n')}\n`;
}

function requirementRow(requirement: RequirementResult): string {
  return `| ${requirement.id} | ${requirement.level} | ${requirement.status} | ${cell(requirement.title)} | ${cell(requirement.reason ?? '')} |`;
}

function formatValue(value: unknown): string {
  return typeof value === 'string' ? value : JSON.stringify(value);
}

function cell(text: string): string {
  return text.replace(/\|/g, '\\|').replace(/\r?\n/g, ' ');
}
