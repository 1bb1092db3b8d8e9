/**
 * `kubeplug certify all` as a user runs it: a run narrowed with --focus to a
 * few cases per interface certifies our node and leaves nothing behind; a
 * Ctrl-C mid-way tears the node down and exits 130; without root it names
 * what is missing and exits 2. Each run happens in a mount namespace the
 * test makes, with a /run/netns of its own, so the namespaces the run makes
 * (and any it leaves) are told apart from those of other tests running on
 * the machine at the same time.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { Parser } from 'tap-parser';
import t, * as Tap from 'tap';
import { registryUnavailable } from '../../conformance/cri/test-images/loopback-registry.js';
import { testImagesUnavailable } from '../../conformance/cri/test-images/test-image.js';
import { packageRoot } from '../../specs/registry/index.js';
import { processesNaming } from '../helpers/process-scan.js';
import { cliPath, runCli, startCsiDriverProcess } from '../helpers/run-cli.js';
import { tempDir } from '../helpers/temp-dir.js';

type Test = Tap.Test;

const root = packageRoot();

const skip =
  (process.getuid?.() === 0 ? undefined : 'needs root (namespaces, mounts, cgroups)') ??
  (fs.existsSync(path.join(root, 'dist', 'cni-bin', 'kubeplug-bridge')) ? undefined : 'needs a build (npm run build)') ??
  registryUnavailable() ??
  testImagesUnavailable();

// A few cases per interface, among them ones that make a pod network, a mount, a sandbox and a static pod.
const focus = '^(CNI-VERSION-001|CNI-ADD-003|CSI-IDENT-001|CSI-NODE-026|CRI-RUNTIME-001|CRI-SANDBOX-001|KUBELET-MANIFEST-001|KUBELET-SANDBOX-001)$';

// Each run takes under a minute on a quiet 2-core machine; far longer while other suites share it.
t.setTimeout(1_200_000);

/** A process holding a private mount namespace with a fresh /run/netns; killed in teardown. */
async function startMountNamespaceKeeper(t: Test): Promise<ChildProcess & { pid: number; mountsBefore: readonly string[] }> {
  const script = 'mkdir -p /run/netns && mount -t tmpfs kp-all-test /run/netns && echo ready && exec sleep 100000';
  const keeper = spawn('unshare', ['--mount', '--propagation', 'private', '--', 'sh', '-c', script], { stdio: ['ignore', 'pipe', 'inherit'] });
  t.teardown(() => {
    if (keeper.exitCode === null && keeper.signalCode === null) keeper.kill('SIGKILL');
  });
  const ready = await new Promise<boolean>((resolve) => {
    keeper.stdout.once('data', (chunk: Buffer) => resolve(chunk.toString().startsWith('ready')));
    keeper.once('exit', () => resolve(false));
  });
  if (!ready || keeper.pid === undefined) throw new Error('could not make a private mount namespace');
  const pid = keeper.pid;
  return Object.assign(keeper, { pid, mountsBefore: mountTable({ pid }) });
}

/** `kubeplug certify all ARGS` inside the keeper's mount namespace (nsenter execs Node, so the pid is Node's). */
function startCertifyAll(keeper: { pid: number }, args: readonly string[]): { child: ChildProcess; output: () => { stdout: string; stderr: string }; exited: Promise<number | null> } {
  const child = spawn('nsenter', [`--mount=/proc/${keeper.pid}/ns/mnt`, '--', process.execPath, cliPath, 'certify', 'all', ...args], { cwd: root, stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout?.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
  child.stderr?.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  const exited = new Promise<number | null>((resolve) => child.once('close', (code, signal) => resolve(code ?? (signal === null ? null : -1))));
  return { child, output: () => ({ stdout, stderr }), exited };
}

/** Processes in the keeper's mount namespace besides the keeper itself. */
function processesInNamespaceOf(keeper: { pid: number }): string[] {
  const namespace = fs.readlinkSync(`/proc/${keeper.pid}/ns/mnt`);
  const found: string[] = [];
  for (const name of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(name) || Number(name) === keeper.pid) continue;
    try {
      if (fs.readlinkSync(`/proc/${name}/ns/mnt`) === namespace) found.push(`${name} ${fs.readFileSync(`/proc/${name}/cmdline`, 'utf8').replace(/\0/g, ' ')}`);
    } catch {
      // ended meanwhile
    }
  }
  return found;
}

/** The keeper's mount table, as `ID mount-point` (propagation flags change as `ip netns` shares /run/netns). */
function mountTable(keeper: { pid: number }): string[] {
  return fs
    .readFileSync(`/proc/${keeper.pid}/mountinfo`, 'utf8')
    .split('\n')
    .filter((line) => line !== '')
    .map((line) => line.split(' '))
    .map((fields) => `${fields[0]} ${fields[4]}`);
}

/**
 * What a run left: namespaces in the private /run/netns, mounts the keeper's
 * namespace did not have before the run (it inherits the machine's, among
 * them other tests' namespaces under the /run/netns it covers), processes,
 * the root itself.
 */
async function leftovers(keeper: { pid: number; mountsBefore: readonly string[] }, privateRoot: string): Promise<Record<string, unknown>> {
  // Processes the run killed last may take a moment to be reaped.
  for (let attempt = 0; attempt < 20 && processesInNamespaceOf(keeper).length + processesNaming(privateRoot).length > 0; attempt += 1) await sleep(250);
  return {
    networkNamespaces: fs.readdirSync(`/proc/${keeper.pid}/root/run/netns`),
    mounts: mountTable(keeper).filter((line) => !keeper.mountsBefore.includes(line)),
    processes: [...processesInNamespaceOf(keeper), ...processesNaming(privateRoot)],
    rootExists: fs.existsSync(privateRoot),
  };
}

const nothingLeft = { networkNamespaces: [], mounts: [], processes: [], rootExists: false };

function privateRootOf(stderr: string): string {
  const match = /private root (\S+)/.exec(stderr);
  if (match?.[1] === undefined) throw new Error(`no private root in the output:\n${stderr.slice(-2000)}`);
  return match[1];
}

interface NodeInterfaceEntry {
  iface: string;
  selected: boolean;
  durationMs: number;
  part: { kind: string };
  verdict: { certified: boolean; exitCode: number };
  certificate?: { kind: string; runs: { iface: string; cases: { outcome: string }[] }[] };
}

t.test('a focused run certifies our node on all four interfaces, writes every report, and leaves nothing behind', { skip: skip ?? false }, async (t) => {
  const keeper = await startMountNamespaceKeeper(t);
  const dir = tempDir(t, 'kp-all-test-');
  const reports = ['json', 'junit', 'tap', 'markdown'].flatMap((format) => ['--report', `${format}=${path.join(dir, `report.${format}`)}`]);
  const run = startCertifyAll(keeper, ['--focus', focus, '--case-timeout', '120', ...reports]);
  const code = await run.exited;
  const { stdout, stderr } = run.output();
  if (code !== 0) t.comment(`${stderr.slice(-3000)}\n${stdout.slice(-2000)}`);
  t.equal(code, 0, 'exit 0');
  t.match(stdout, /certified: every applicable MUST requirement in scope passed on every interface \(cni, csi, cri, kubelet\)/);

  const certificate = JSON.parse(fs.readFileSync(path.join(dir, 'report.json'), 'utf8')) as {
    kind: string;
    verdict: { certified: boolean; exitCode: number };
    profile: { partial: boolean };
    durationMs: number;
    interfaces: NodeInterfaceEntry[];
    teardownProblems: string[];
  };
  t.match(certificate, { kind: 'kubeplug-node-certificate', verdict: { certified: true, exitCode: 0 }, profile: { partial: true }, teardownProblems: [] });
  t.same(certificate.interfaces.map((entry) => entry.iface), ['cni', 'csi', 'cri', 'kubelet'], 'four interfaces, in order');
  for (const entry of certificate.interfaces) {
    t.match(entry, { selected: true, part: { kind: 'ours' }, verdict: { certified: true, exitCode: 0 } }, `${entry.iface} is certified`);
    t.ok(entry.durationMs > 0, `${entry.iface} has a wall time (${entry.durationMs} ms)`);
    t.equal(entry.certificate?.kind, 'kubeplug-certificate', `${entry.iface} carries its own certificate`);
    t.equal(entry.certificate?.runs[0]?.iface, entry.iface);
    const cases = entry.certificate?.runs[0]?.cases ?? [];
    t.ok(cases.length >= 1 && cases.every((c) => c.outcome === 'pass'), `${entry.iface}: ${cases.length} case(s), all passed`);
  }
  const wallTimes = certificate.interfaces.reduce((sum, entry) => sum + entry.durationMs, 0);
  t.ok(certificate.durationMs >= wallTimes, 'the total covers every interface');

  const junit = fs.readFileSync(path.join(dir, 'report.junit'), 'utf8');
  t.same([...junit.matchAll(/<testsuite name="([a-z]+)"/g)].map((match) => match[1]), ['cni', 'csi', 'cri', 'kubelet'], 'one JUnit testsuite per interface');
  t.match(junit, /<testsuites name="kubeplug certify" tests="\d+" failures="0" errors="0"/);
  const tap = await new Promise<{ ok: boolean; count: number }>((resolve) => new Parser((results) => resolve({ ok: results.ok, count: results.count })).end(fs.readFileSync(path.join(dir, 'report.tap'), 'utf8')));
  t.same(tap, { ok: true, count: 4 }, 'TAP: one passing subtest per interface');
  const markdown = fs.readFileSync(path.join(dir, 'report.markdown'), 'utf8');
  t.match(markdown, /\*\*Verdict:\*\* certified \(exit 0\)/);
  for (const iface of ['CNI', 'CSI', 'CRI', 'KUBELET']) t.match(markdown, new RegExp(`^## ${iface}: certified in [\\d.]+ s$`, 'm'));

  t.same(await leftovers(keeper, privateRootOf(stderr)), nothingLeft, 'no network namespace, mount, process or temporary root left');
});

t.test('Ctrl-C mid-way tears the node down and exits 130, leaving nothing behind', { skip: skip ?? false }, async (t) => {
  const keeper = await startMountNamespaceKeeper(t);
  // Enough CRI cases that the suite is still running (sandboxes and containers up) when the first one has ended.
  const run = startCertifyAll(keeper, ['--focus', '^(CNI-VERSION-001|CRI-RUNTIME-001|CRI-SANDBOX-0\\d\\d|CRI-CONTAINER-0\\d\\d|KUBELET-MANIFEST-001)$', '--case-timeout', '120']);
  t.teardown(() => {
    if (run.child.exitCode === null && run.child.signalCode === null) run.child.kill('SIGKILL');
  });
  // Interrupted once the runtime's node is up and its suite is running: the most there is to tear down.
  const until = Date.now() + 600_000;
  while (!/ cri \[1\//.test(run.output().stderr) && run.child.exitCode === null && Date.now() < until) await sleep(100);
  await sleep(500);
  t.equal(run.child.exitCode, null, 'still running when interrupted');
  run.child.kill('SIGINT');
  const code = await run.exited;
  const { stderr } = run.output();
  if (code !== 130) t.comment(stderr.slice(-3000));
  t.equal(code, 130, 'exit 130');
  t.match(stderr, /SIGINT, stopping the case running and tearing the node down/);
  t.notMatch(stderr, /== cri: (certified|not certified)/, 'interrupted while the CRI suite ran');
  t.notMatch(stderr, /== kubelet: /, 'the kubelet part was never started');
  t.same(await leftovers(keeper, privateRootOf(stderr)), nothingLeft, 'no network namespace, mount, process or temporary root left');
});

t.test('a mixed node: --csi-endpoint certifies your driver instead of ours; interfaces --focus leaves out are not started', { skip: skip ?? false }, async (t) => {
  const dir = tempDir(t, 'kp-all-mixed-');
  const endpoint = `unix://${path.join(dir, 'csi.sock')}`;
  fs.mkdirSync(path.join(dir, 'driver'));
  await startCsiDriverProcess(t, endpoint, path.join(dir, 'driver'));
  const report = path.join(dir, 'node.json');
  const { code, stdout, stderr } = await runCli(['certify', 'all', '--csi-endpoint', endpoint, '--focus', '^CSI-IDENT-001$', '--report', `json=${report}`], { timeoutMs: 300_000 });
  if (code !== 0) t.comment(stderr.slice(-2000));
  t.equal(code, 0, 'exit 0');
  t.match(stdout, /csi +certified .*\(yours\)/);
  const certificate = JSON.parse(fs.readFileSync(report, 'utf8')) as { verdict: { certified: boolean }; interfaces: NodeInterfaceEntry[] };
  t.equal(certificate.verdict.certified, true);
  t.same(
    certificate.interfaces.map((entry) => [entry.iface, entry.selected, entry.part.kind]),
    [['cni', false, 'ours'], ['csi', true, 'user'], ['cri', false, 'ours'], ['kubelet', false, 'ours']],
  );
  t.notMatch(stderr, /== (cni|cri|kubelet): /, 'only the CSI step ran');
});

t.test('without root it names what is missing and exits 2 before starting anything', async (t) => {
  const before = fs.readdirSync('/tmp').filter((name) => name.startsWith('kubeplug-all-'));
  const { code, stdout, stderr } = await new Promise<{ code: number | null; stdout: string; stderr: string }>((resolve) => {
    const child = spawn(
      'unshare',
      // A user namespace without a mapping: the CLI sees uid 65534 yet still reads the checkout, whatever its folders' modes
      // (setpriv to nobody failed where CI clones into a 0700 folder). env -i: the test runner's loader options stay out.
      ['--user', '--', 'env', '-i', `PATH=${process.env['PATH'] ?? '/usr/sbin:/usr/bin:/sbin:/bin'}`, process.execPath, cliPath, 'certify', 'all'],
      { cwd: root, stdio: ['ignore', 'pipe', 'pipe'] },
    );
    let out = '';
    let err = '';
    child.stdout.on('data', (chunk: Buffer) => (out += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (err += chunk.toString()));
    child.once('close', (exitCode) => resolve({ code: exitCode, stdout: out, stderr: err }));
  });
  t.equal(code, 2);
  t.match(stderr, /^kubeplug: certify all cannot start here: needs root \(uid 0\)/);
  t.equal(stderr.trim().split('\n').length, 1, `one line: ${stderr}`);
  t.equal(stdout, '');
  t.same(fs.readdirSync('/tmp').filter((name) => name.startsWith('kubeplug-all-') && !before.includes(name)), [], 'no private root was made');
});

const usageErrors: [string, string[], RegExp][] = [
  ['--cni-path without --conf', ['--cni-path', '/usr/lib/cni'], /^kubeplug: --cni-path needs --conf/],
  ['--node-agent with our plugins', ['--node-agent', 'true'], /^kubeplug: --node-agent goes with --cni-path and --conf/],
  ['a --cri-endpoint with no socket', ['--cri-endpoint', 'unix:///nonexistent/cri.sock'], /^kubeplug: --cri-endpoint: cannot reach unix:\/\/\/nonexistent\/cri\.sock/],
  ['a --csi-endpoint that is not a unix socket', ['--csi-endpoint', 'tcp://127.0.0.1:9'], /^kubeplug: --csi-endpoint: "tcp:\/\/127\.0\.0\.1:9" is not a unix socket/],
  ['a --kubelet-cmd without its placeholders', ['--kubelet-cmd', 'my-kubelet'], /^kubeplug: --kubelet-cmd: the command must use/],
  ['a --focus that selects nothing', ['--focus', '^NOTHING-000$'], /^kubeplug: --focus\/--skip select no case of any interface/],
];

for (const [what, args, message] of usageErrors) {
  t.test(`${what} is one clear line and exit 2`, async (t) => {
    const { code, stderr, stdout } = await runCli(['certify', 'all', ...args]);
    t.equal(code, 2);
    t.match(stderr, message);
    t.equal(stderr.trim().split('\n').length, 1, 'one line');
    t.equal(stdout, '');
  });
}
