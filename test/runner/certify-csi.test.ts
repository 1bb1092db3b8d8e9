import fs from 'node:fs';
import path from 'node:path';
import { Parser } from 'tap-parser';
import t, * as Tap from 'tap';
import { createCsiSuite } from '../../conformance/csi/index.js';
import { kitVersion } from '../../runner/kit-version.js';
import { loadRegistry } from '../../specs/registry/index.js';
import { csiDriverFolders } from '../helpers/csi-driver-folders.js';
import { runCli, startCsiDriverProcess, startFixtureProcess } from '../helpers/run-cli.js';
import { tempDir } from '../helpers/temp-dir.js';

type Test = Tap.Test;

const csiRequirements = loadRegistry().list('csi');

// The Identity fixtures serve Identity alone: they are certified on its rules (CSI-IDENT), the driver on all.
const identityOnly = ['--focus', '^CSI-IDENT-'];

// One whole-suite run of the driver with real mounts, beside quick Identity runs.
t.setTimeout(300_000);
t.comment('timeout=300000');

async function fixtureEndpoint(t: Test, fixture: string): Promise<{ endpoint: string; dir: string }> {
  const dir = tempDir(t);
  const endpoint = `unix://${dir}/csi.sock`;
  await startFixtureProcess(t, fixture, endpoint);
  return { endpoint, dir };
}

/** `kubeplug serve csi` in fresh folders; the flags point the suite's mount and staging folders at its own. */
async function driverEndpoint(t: Test): Promise<{ endpoint: string; dir: string; runFlags: string[] }> {
  const { root, mountDir, stagingDir, endpoint } = csiDriverFolders(t);
  await startCsiDriverProcess(t, endpoint, root);
  return { endpoint, dir: path.dirname(root), runFlags: ['--mount-dir', mountDir, '--staging-dir', stagingDir] };
}

function reportFlags(dir: string): string[] {
  return ['json', 'junit', 'tap', 'markdown'].flatMap((format) => ['--report', `${format}=${path.join(dir, `report.${format}`)}`]);
}

function parseTap(text: string): Promise<{ pass: number; fail: number; skip: number; count: number }> {
  return new Promise((resolve) => {
    const parser = new Parser((results) => resolve({ pass: results.pass, fail: results.fail, skip: results.skip, count: results.count }));
    parser.end(text);
  });
}

t.test('the dir-volume driver (kubeplug serve csi) is certified by the whole suite: exit 0 and all four reports', async (t) => {
  const { endpoint, dir, runFlags } = await driverEndpoint(t);
  const { code, stdout, stderr } = await runCli(['certify', 'csi', '--endpoint', endpoint, ...runFlags, ...reportFlags(dir)], { timeoutMs: 240_000 });
  t.equal(code, 0, stderr);
  t.match(stdout, /certified: every applicable MUST requirement in scope passed/);
  t.notMatch(stderr + stdout, /\x1b\[/, 'no colour or cursor codes when not on a terminal');

  const certificate = JSON.parse(fs.readFileSync(path.join(dir, 'report.json'), 'utf8'));
  // Every MUST the spec marks as beyond any case's reach is listed as such, and nothing else is.
  const uncheckableMusts = csiRequirements
    .filter((r) => r.level === 'MUST' && r.notChecked !== undefined && r.binds !== 'runtime')
    .map((r) => r.id);
  t.match(certificate, {
    kind: 'kubeplug-certificate',
    kit: { name: 'kubeplug', version: /\d+\.\d+\.\d+/ },
    verdict: { exitCode: 0, certified: true, blockingMusts: [] },
    runs: [{ iface: 'csi', specVersion: '1.12.0', subject: { name: 'dir-volume.csi.kubeplug.io', vendorVersion: kitVersion() } }],
    environment: { platform: 'linux' },
  });
  t.same(certificate.verdict.uncheckableMusts, uncheckableMusts, 'the uncheckable MUSTs, as the spec lists them');
  const firstCase = certificate.runs[0].cases[0];
  t.ok(firstCase.evidence.some((item: { kind: string }) => item.kind === 'call'), 'cases carry call evidence');
  t.ok(firstCase.evidence.some((item: { kind: string }) => item.kind === 'check'), 'cases carry check evidence');

  // The whole suite ran: every declared case has a result, and only the restart cases are skipped
  // (this run gives no --restart-command).
  const cases = certificate.runs[0].cases as { title: string; outcome: string; reason?: string }[];
  t.equal(cases.length, createCsiSuite().cases.length, 'every declared case ran');
  const count = (outcome: string): number => cases.filter((c) => c.outcome === outcome).length;
  t.equal(count('pass') + count('not-applicable') + count('skipped'), cases.length, 'nothing failed or erred');
  t.same(cases.filter((c) => c.outcome === 'skipped' && !/--restart-command/.test(c.reason ?? '')).map((c) => c.title), [], 'skipped only for want of --restart-command');
  t.ok(count('pass') > 100, `${count('pass')} cases passed`);
  t.comment(`cases: ${cases.length}, pass ${count('pass')}, not-applicable ${count('not-applicable')}, skipped ${count('skipped')}`);
  const skipped = count('not-applicable') + count('skipped');

  const junit = fs.readFileSync(path.join(dir, 'report.junit'), 'utf8');
  t.match(junit, new RegExp(`^<\\?xml version="1.0" encoding="UTF-8"\\?>\\n<testsuites name="kubeplug certify" tests="${cases.length}" failures="0" errors="0" skipped="${skipped}"`));
  t.equal((junit.match(/<testcase /g) ?? []).length, cases.length);

  const tap = await parseTap(fs.readFileSync(path.join(dir, 'report.tap'), 'utf8'));
  t.same(tap, { pass: cases.length, fail: 0, skip: skipped, count: cases.length });

  const markdown = fs.readFileSync(path.join(dir, 'report.markdown'), 'utf8');
  t.match(markdown, /\*\*Verdict:\*\* certified \(exit 0\)/);
  t.match(markdown, /\| CSI-IDENT-018 \| MUST \| not-checked \|/);
});

t.test('a broken server is not certified: exit 1, the failed IDs in every report', async (t) => {
  const { endpoint, dir } = await fixtureEndpoint(t, 'empty-vendor-version');
  const { code, stdout } = await runCli(['certify', 'csi', '--endpoint', endpoint, ...identityOnly, ...reportFlags(dir)]);
  t.equal(code, 1);
  t.match(stdout, /not certified: 1 MUST requirement\(s\) failed or were not checked \(CSI-IDENT-007\)/);
  const certificate = JSON.parse(fs.readFileSync(path.join(dir, 'report.json'), 'utf8'));
  t.same(certificate.verdict.blockingMusts, ['CSI-IDENT-007']);
  const junit = fs.readFileSync(path.join(dir, 'report.junit'), 'utf8');
  t.match(junit, /failures="1"/);
  t.match(junit, /<failure message="[^"]*vendor_version[^"]*" type="CSI-IDENT-007">/);
  const tap = await parseTap(fs.readFileSync(path.join(dir, 'report.tap'), 'utf8'));
  t.equal(tap.fail, 1);
  t.match(fs.readFileSync(path.join(dir, 'report.markdown'), 'utf8'), /#### fail: \[CSI-IDENT-007\]/);
});

t.test('declared known deviations do not fail the run, and a stale one is reported', async (t) => {
  const { endpoint, dir } = await fixtureEndpoint(t, 'empty-vendor-version');
  const deviations = path.join(dir, 'deviations.txt');
  fs.writeFileSync(deviations, '# our fixture\nCSI-IDENT-007 vendor version lands in v2\nCSI-IDENT-002 was broken once\n');
  const { code, stdout } = await runCli(['certify', 'csi', '--endpoint', endpoint, ...identityOnly, '--known-deviations', deviations, '--report', `json=${dir}/c.json`]);
  t.equal(code, 0, stdout);
  t.match(stdout, /known +MUST +CSI-IDENT-007/);
  t.match(stdout, /stale +MUST +CSI-IDENT-002/);
  const certificate = JSON.parse(fs.readFileSync(path.join(dir, 'c.json'), 'utf8'));
  const status = (id: string): string => certificate.runs[0].requirements.find((r: { id: string }) => r.id === id).status;
  t.equal(status('CSI-IDENT-007'), 'known');
  t.equal(status('CSI-IDENT-002'), 'stale');
});

t.test('--focus makes a partial run whose other requirements are not-run', async (t) => {
  const { endpoint, dir } = await fixtureEndpoint(t, 'conforming');
  const { code } = await runCli(['certify', 'csi', '--endpoint', endpoint, '--focus', 'CSI-IDENT-01[67]', '--report', `json=${dir}/c.json`]);
  t.equal(code, 0);
  const certificate = JSON.parse(fs.readFileSync(path.join(dir, 'c.json'), 'utf8'));
  t.equal(certificate.profile.partial, true);
  t.equal(certificate.runs[0].cases.length, 2);
  const requirements = certificate.runs[0].requirements as { id: string; status: string }[];
  t.same(requirements.filter((r) => r.status === 'pass').map((r) => r.id), ['CSI-IDENT-016', 'CSI-IDENT-017']);
  // The rest were left out, or are rules no case can check (listed as such, not as passed).
  const uncheckable = new Set(csiRequirements.filter((r) => r.notChecked !== undefined).map((r) => r.id));
  t.same(requirements.filter((r) => r.status === 'not-checked' && !uncheckable.has(r.id)).map((r) => r.id), []);
  t.same(requirements.filter((r) => !['pass', 'not-checked', 'not-run'].includes(r.status)).map((r) => `${r.id} ${r.status}`), []);
  t.ok(requirements.filter((r) => r.status === 'not-run').length > 150, 'the other requirements are not-run');
});

const usageErrors: [string, string[], RegExp][] = [
  ['a missing --endpoint', ['certify', 'csi'], /^kubeplug: Missing required argument: endpoint/],
  ['an unknown flag', ['certify', 'csi', '--endpoint', '/tmp/x.sock', '--bogus'], /Unknown argument: bogus/],
  ['a non-unix endpoint', ['certify', 'csi', '--endpoint', 'tcp://127.0.0.1:9'], /^kubeplug: --endpoint: .*not a unix socket/],
  ['an endpoint with no socket', ['certify', 'csi', '--endpoint', 'unix:///nonexistent/csi.sock'], /^kubeplug: --endpoint: cannot reach unix:\/\/\/nonexistent\/csi\.sock: no socket/],
  ['an unknown report format', ['certify', 'csi', '--endpoint', '/x.sock', '--report', 'html=x'], /^kubeplug: --report "html=x": unknown format/],
  ['a report folder that does not exist', ['certify', 'csi', '--endpoint', '/x.sock', '--report', 'json=/nonexistent/x.json'], /^kubeplug: --report json=\/nonexistent\/x\.json: folder/],
  ['a bad --focus pattern', ['certify', 'csi', '--endpoint', '/x.sock', '--focus', '('], /^kubeplug: --focus "\("/],
  ['a missing known-deviations file', ['certify', 'csi', '--endpoint', '/x.sock', '--known-deviations', '/nonexistent'], /^kubeplug: --known-deviations \/nonexistent:/],
  ['certify cri without its endpoint', ['certify', 'cri'], /^kubeplug: Missing required argument: runtime-endpoint/],
  ['no interface', ['certify'], /^kubeplug: name an interface/],
];

for (const [what, args, message] of usageErrors) {
  t.test(`${what} is one clear line and exit 2`, async (t) => {
    const { code, stderr, stdout } = await runCli(args);
    t.equal(code, 2);
    t.match(stderr, message);
    t.equal(stderr.trim().split('\n').length, 1, 'one line');
    t.notMatch(stderr, /\n\s+at /, 'no stack trace');
    t.equal(stdout, '');
  });
}

t.test('a known deviation naming an ID the spec lacks is a usage error', async (t) => {
  const { endpoint, dir } = await fixtureEndpoint(t, 'conforming');
  fs.writeFileSync(path.join(dir, 'd.txt'), 'CSI-NOPE-001 reason\n');
  const { code, stderr } = await runCli(['certify', 'csi', '--endpoint', endpoint, '--known-deviations', path.join(dir, 'd.txt')]);
  t.equal(code, 2);
  t.match(stderr, /CSI-NOPE-001 is not a requirement of the csi spec/);
});

t.test('list prints requirements with level and coverage, as a table and as JSON', async (t) => {
  const table = await runCli(['list', 'csi']);
  t.equal(table.code, 0);
  t.match(table.stdout, /CSI-IDENT-001 +MUST +1 case +GetPluginInfo answers successfully on every endpoint/);
  t.match(table.stdout, /CSI-IDENT-018 +MUST +not checked/);
  const json = await runCli(['list', 'csi', '--json']);
  const { requirements } = JSON.parse(json.stdout) as { requirements: { id: string; level: string; coverage: string }[] };
  t.equal(requirements.length, csiRequirements.length);
  t.same(requirements.filter((r) => r.coverage === 'uncovered'), []);
  const all = await runCli(['list']);
  t.match(all.stdout, /CRI: 229 requirement\(s\)\n  CRI-RUNTIME-001 /);
  t.match(all.stdout, /KUBELET: 102 requirement\(s\)\n  KUBELET-MANIFEST-001 /);
});
