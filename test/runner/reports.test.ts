import t from 'tap';
import type { CaseResult } from '../../conformance/framework/index.js';
import { escapeXml, renderJunit } from '../../runner/report/junit-report.js';
import { renderTap } from '../../runner/report/tap-report.js';
import { progressListener } from '../../runner/report/terminal-report.js';
import { summarize, type Certificate } from '../../runner/report/certificate.js';
import { parseReportRequests } from '../../runner/report/write-reports.js';

const failing: CaseResult = {
  title: 'names <things> & "quotes" # hash',
  ids: ['CSI-IDENT-002'],
  outcome: 'fail',
  reason: 'name is empty',
  failedIds: ['CSI-IDENT-002'],
  passedIds: [],
  durationMs: 3,
  evidence: [{ kind: 'check', ids: ['CSI-IDENT-002'], what: 'name is empty', passed: false, expected: 'x', got: '' }],
};

function certificateOf(cases: CaseResult[]): Certificate {
  const runs = [{ iface: 'csi' as const, specVersion: '1.12.0', subject: {}, cases, requirements: [] }];
  return {
    kind: 'kubeplug-certificate',
    schemaVersion: 1,
    kit: { name: 'kubeplug', version: '0.1.0' },
    startedAt: '2026-01-01T00:00:00.000Z',
    finishedAt: '2026-01-01T00:00:01.000Z',
    durationMs: 1000,
    environment: { isRoot: true, canCreateNetns: true, platform: 'linux', arch: 'x64', kernel: 'k', node: 'v20' },
    profile: { focus: [], skip: [], partial: false, strict: false, caseTimeoutMs: 30000, knownDeviations: [] },
    verdict: { exitCode: 1, certified: false, summary: 'not certified', blockingMusts: ['CSI-IDENT-002'], uncheckableMusts: [], harnessErrors: 0 },
    summary: summarize(runs),
    runs,
  };
}

t.test('XML escaping covers markup characters and drops characters XML cannot hold', async (t) => {
  t.equal(escapeXml(`<a href="x">&'\u0001`), '&lt;a href=&quot;x&quot;&gt;&amp;&apos;');
});

t.test('JUnit escapes titles and reports the failed IDs as the failure type', async (t) => {
  const xml = renderJunit(certificateOf([failing]));
  t.match(xml, /name="\[CSI-IDENT-002\] names &lt;things&gt; &amp; &quot;quotes&quot; # hash"/);
  t.match(xml, /<failure message="name is empty" type="CSI-IDENT-002">CSI-IDENT-002: name is empty/);
});

t.test('TAP escapes # in descriptions so a title cannot become a directive', async (t) => {
  const tap = renderTap(certificateOf([failing]));
  t.match(tap, /not ok 1 - csi \[CSI-IDENT-002\] names <things> & "quotes" \\# hash\n  ---\n  outcome: fail/);
});

t.test('on a terminal, progress rewrites one line; elsewhere it prints plain lines', async (t) => {
  const written: string[] = [];
  const tty = progressListener({ write: (text) => written.push(text), isTTY: true, columns: 80 }, 'csi');
  tty.onCaseStart?.(failing, 1, 2);
  tty.onCaseEnd?.(failing, 1, 2);
  t.match(written[0], /^\r\x1b\[2Kcsi \[1\/2\] CSI-IDENT-002/);
  t.ok(written.some((text) => text.includes('FAIL')), 'a failure stays on screen');

  const plain: string[] = [];
  const log = progressListener({ write: (text) => plain.push(text), isTTY: false }, 'csi');
  log.onCaseStart?.(failing, 1, 2);
  log.onCaseEnd?.(failing, 1, 2);
  t.equal(plain.length, 1);
  t.match(plain[0], /^FAIL  csi \[1\/2\] \[CSI-IDENT-002\] names <things>.*: name is empty\n$/);
  t.notMatch(plain[0], /\x1b/);
});

t.test('--report values are FORMAT=FILE with a known format', async (t) => {
  t.same(parseReportRequests(['json=a.json', 'junit=b=c.xml']), [
    { format: 'json', file: 'a.json' },
    { format: 'junit', file: 'b=c.xml' },
  ]);
  t.throws(() => parseReportRequests(['json']), /give a file, as json=FILE/);
  t.throws(() => parseReportRequests(['pdf=x']), /unknown format "pdf"/);
});
