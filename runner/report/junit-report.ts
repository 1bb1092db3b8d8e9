import type { CaseResult } from '../../conformance/framework/index.js';
import type { Certificate } from './certificate.js';

/**
 * JUnit XML, the format CI systems read: one <testsuite> per interface, one
 * <testcase> per case. Not-applicable and skipped cases are <skipped> with
 * their reason; harness errors are <error>, subject failures <failure>.
 */
export function renderJunit(certificate: Certificate): string {
  const lines: string[] = ['<?xml version="1.0" encoding="UTF-8"?>'];
  const all = certificate.runs.flatMap((run) => run.cases);
  lines.push(
    `<testsuites name="kubeplug certify" tests="${all.length}" failures="${count(all, 'fail')}" errors="${count(all, 'error')}" skipped="${count(all, 'skipped') + count(all, 'not-applicable')}" time="${seconds(certificate.durationMs)}">`,
  );
  for (const run of certificate.runs) {
    const cases = run.cases;
    const time = run.durationMs ?? cases.reduce((sum, result) => sum + result.durationMs, 0);
    lines.push(
      `  <testsuite name="${escapeXml(run.iface)}" tests="${cases.length}" failures="${count(cases, 'fail')}" errors="${count(cases, 'error')}" skipped="${count(cases, 'skipped') + count(cases, 'not-applicable')}" time="${seconds(time)}" timestamp="${certificate.startedAt}">`,
    );
    lines.push('    <properties>');
    lines.push(`      <property name="spec-version" value="${escapeXml(run.specVersion)}"/>`);
    lines.push(`      <property name="kubeplug-version" value="${escapeXml(certificate.kit.version)}"/>`);
    lines.push(`      <property name="verdict" value="${escapeXml(certificate.verdict.summary)}"/>`);
    lines.push('    </properties>');
    for (const result of cases) lines.push(...testcase(run.iface, result));
    lines.push('  </testsuite>');
  }
  lines.push('</testsuites>');
  return `${lines.join('\n')}\n`;
}

function testcase(iface: string, result: CaseResult): string[] {
  const area = result.ids[0]?.split('-').slice(0, 2).join('-') ?? iface;
  const open = `    <testcase classname="${escapeXml(`${iface}.${area}`)}" name="${escapeXml(`[${result.ids.join(' ')}] ${result.title}`)}" time="${seconds(result.durationMs)}"`;
  const reason = escapeXml(result.reason ?? '');
  switch (result.outcome) {
    case 'pass':
      return [`${open}/>`];
    case 'fail':
      return [
        `${open}>`,
        `      <failure message="${reason}" type="${escapeXml(result.failedIds.join(' '))}">${escapeXml(failedChecks(result))}</failure>`,
        '    </testcase>',
      ];
    case 'error':
      return [`${open}>`, `      <error message="${reason}" type="harness"/>`, '    </testcase>'];
    case 'skipped':
    case 'not-applicable':
      return [`${open}>`, `      <skipped message="${escapeXml(`${result.outcome}: ${result.reason ?? ''}`)}"/>`, '    </testcase>'];
  }
}

function failedChecks(result: CaseResult): string {
  return result.evidence
    .flatMap((item) =>
      item.kind === 'check' && !item.passed
        ? [`${item.ids.join(' ')}: ${item.what}\n  expected: ${JSON.stringify(item.expected)}\n  got: ${JSON.stringify(item.got)}`]
        : [],
    )
    .join('\n');
}

function count(results: readonly CaseResult[], outcome: CaseResult['outcome']): number {
  return results.filter((result) => result.outcome === outcome).length;
}

function seconds(ms: number): string {
  return (ms / 1000).toFixed(3);
}

/** Escapes text for an XML attribute or element, dropping characters XML 1.0 cannot hold. */
export function escapeXml(text: string): string {
  return text
    .replace(/[^\t\n\r\u0020-\uD7FF\uE000-\uFFFD\u{10000}-\u{10FFFF}]/gu, '')
    .replace(/&/g, '&amp;')
    .replace(/</g, '&lt;')
    .replace(/>/g, '&gt;')
    .replace(/"/g, '&quot;')
    .replace(/'/g, '&apos;');
}
