import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import t, * as Tap from 'tap';
import { createNetworkNamespace, uniqueNetnsName, type NetworkNamespace } from '../../conformance/cni/network-namespaces.js';
import { createCriSuite } from '../../conformance/cri/index.js';
import { CleanupStack } from '../../conformance/framework/index.js';
import { registryUnavailable } from '../../conformance/cri/test-images/loopback-registry.js';
import { testImagesUnavailable } from '../../conformance/cri/test-images/test-image.js';
import { loadRegistry, packageRoot } from '../../specs/registry/index.js';
import { cliPath } from '../helpers/run-cli.js';

// `kubeplug certify cri` as a user runs it, against `kubeplug serve cri` in a
// node network namespace the test makes (the suite runs in that namespace
// too, as it must run on the runtime's node).

type Test = Tap.Test;

const root = packageRoot();
const cniBin = path.join(root, 'dist', 'cni-bin');

function missingPrerequisites(): string | undefined {
  if (process.getuid?.() !== 0) return 'needs root (network namespaces, mounts, cgroups)';
  if (!fs.existsSync(cliPath)) return 'needs a build (npm run build)';
  if (!fs.existsSync(path.join(cniBin, 'kubeplug-bridge'))) return `needs ${cniBin}/kubeplug-bridge (npm run build)`;
  if (spawnSync('sh', ['-c', 'command -v runc'], { stdio: 'ignore' }).status !== 0) return 'needs runc';
  return registryUnavailable() ?? testImagesUnavailable();
}

const skip = missingPrerequisites();

// The whole suite takes about 4 minutes on an idle 2-core machine and far longer on a busy one.
t.setTimeout(2_400_000);

/** A node for the runtime: a network namespace, a CNI configuration and a folder holding the runtime's root. */
interface RuntimeNode {
  readonly dir: string;
  readonly root: string;
  readonly netns: NetworkNamespace;
  readonly endpoint: string;
}

/** Processes whose command line names `dir` (shims and the containers they supervise keep the root in theirs). */
function processesNaming(dir: string): number[] {
  const pids: number[] = [];
  for (const name of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(name) || Number(name) === process.pid) continue;
    try {
      if (fs.readFileSync(`/proc/${name}/cmdline`, 'utf8').includes(`${dir}/`)) pids.push(Number(name));
    } catch {
      // ended meanwhile
    }
  }
  return pids;
}

function mountsUnder(dir: string): string[] {
  return fs
    .readFileSync('/proc/self/mountinfo', 'utf8')
    .split('\n')
    .map((line) => line.split(' ')[4] ?? '')
    .filter((point) => point.startsWith(`${dir}/`));
}

/** What the runtime left on the machine: shims, mounts, OCI containers, sandbox and container records. */
function leftoversOf(node: RuntimeNode, runtimePid: number | undefined): string[] {
  const found: string[] = [];
  const processes = processesNaming(node.root).filter((pid) => pid !== runtimePid);
  if (processes.length > 0) found.push(`processes ${processes.join(', ')}`);
  const mounts = mountsUnder(node.root);
  if (mounts.length > 0) found.push(`mounts ${mounts.join(', ')}`);
  const oci = spawnSync('runc', ['--root', path.join(node.root, 'oci'), 'list', '-q'], { encoding: 'utf8' }).stdout?.trim() ?? '';
  if (oci !== '') found.push(`OCI containers ${oci.split('\n').join(', ')}`);
  for (const kind of ['sandboxes', 'containers']) {
    const records = fs.existsSync(path.join(node.root, kind)) ? fs.readdirSync(path.join(node.root, kind)) : [];
    if (records.length > 0) found.push(`${kind} ${records.join(', ')}`);
  }
  return found;
}

/** Last resort after a failure: what the runtime left, removed by OCI ID, pid and mount point. */
function forceClean(node: RuntimeNode): void {
  const ociRoot = path.join(node.root, 'oci');
  for (const id of (spawnSync('runc', ['--root', ociRoot, 'list', '-q'], { encoding: 'utf8' }).stdout ?? '').trim().split('\n').filter(Boolean)) {
    spawnSync('runc', ['--root', ociRoot, 'delete', '--force', id]);
  }
  for (const pid of processesNaming(node.root)) {
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      // already gone
    }
  }
  for (const point of mountsUnder(node.root).reverse()) spawnSync('umount', ['--lazy', point]);
}

/** Makes a node and starts `kubeplug serve cri` in it; everything is released in teardown, even after a failure. */
async function startRuntimeNode(t: Test): Promise<{ node: RuntimeNode; runtime: ChildProcess }> {
  // One stack, unwound newest first, so the runtime stops before its leftovers are cleaned and the folder goes last.
  const cleanup = new CleanupStack();
  t.teardown(async () => {
    const failures = await cleanup.unwind(30_000);
    if (failures.length > 0) t.comment(`cleanup failed: ${JSON.stringify(failures)}`);
  });
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'kp-cricert-'));
  cleanup.push(() => fs.rmSync(dir, { recursive: true, force: true }), `remove ${dir}`);
  const netns = await createNetworkNamespace(uniqueNetnsName('cricert'));
  cleanup.push(() => netns.remove(), `delete ${netns.name}`);
  const node: RuntimeNode = { dir, root: path.join(dir, 'root'), netns, endpoint: `unix://${dir}/cri.sock` };
  cleanup.push(() => {
    const left = leftoversOf(node, undefined);
    if (left.length > 0) t.comment(`force-cleaning what the runtime left: ${left.join('; ')}`);
    forceClean(node);
  }, 'force-clean leftovers');
  fs.mkdirSync(path.join(dir, 'net.d'));
  fs.writeFileSync(
    path.join(dir, 'net.d', '10-kubeplug.conflist'),
    JSON.stringify({
      cniVersion: '1.0.0',
      name: 'kp-certify',
      plugins: [
        { type: 'kubeplug-bridge', bridge: 'kpcert0', isGateway: true, ipMasq: false, ipam: { type: 'kubeplug-host-local', ranges: [[{ subnet: '10.231.0.0/16' }]], dataDir: path.join(dir, 'ipam') } },
        { type: 'portmap', capabilities: { portMappings: true } },
      ],
    }),
  );
  const args = ['serve', 'cri', '--endpoint', node.endpoint, '--root', node.root, '--cni-conf-dir', path.join(dir, 'net.d'), '--cni-path', cniBin, '--cni-path', '/usr/lib/cni'];
  const runtime = spawn('nsenter', [`--net=${netns.path}`, '--', process.execPath, cliPath, ...args], { stdio: ['ignore', 'pipe', 'inherit'] });
  cleanup.push(async () => {
    if (runtime.exitCode === null && runtime.signalCode === null) {
      runtime.kill('SIGTERM');
      await once(runtime, 'exit');
    }
  }, 'stop kubeplug serve cri');
  const [chunk] = (await once(runtime.stdout!, 'data')) as [Buffer];
  if (!chunk.toString().startsWith('ready ')) throw new Error(`kubeplug serve cri did not start: ${chunk.toString()}`);
  return { node, runtime };
}

/** Runs `kubeplug certify cri ARGS` in the node's network namespace, as a user on that node would. */
function certifyCri(node: RuntimeNode, args: readonly string[], timeoutMs = 1_800_000): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn('nsenter', [`--net=${node.netns.path}`, '--', process.execPath, cliPath, 'certify', 'cri', '--runtime-endpoint', node.endpoint, ...args], { cwd: root, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    child.on('exit', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
}

interface CertificateCase {
  title: string;
  ids: string[];
  outcome: string;
  reason?: string;
}

interface CertificateRequirement {
  id: string;
  level: string;
  status: string;
  reason?: string;
}

t.test('kubeplug serve cri is certified by the whole CRI suite: exit 0, a sane certificate, nothing left behind', { skip: skip ?? false }, async (t) => {
  const { node, runtime } = await startRuntimeNode(t);
  const report = path.join(node.dir, 'report.json');
  const { code, stdout, stderr } = await certifyCri(node, ['--case-timeout', '90', '--report', `json=${report}`]);
  const certificate = JSON.parse(fs.readFileSync(report, 'utf8'));
  const run = certificate.runs[0] as { iface: string; subject: Record<string, unknown>; cases: CertificateCase[]; requirements: CertificateRequirement[] };
  const failed = run.requirements.filter((requirement) => ['fail', 'error', 'skipped'].includes(requirement.status));
  t.equal(code, 0, `exit 0; blocking: ${JSON.stringify(certificate.verdict.blockingMusts)}; failed: ${failed.map((r) => `${r.id} (${r.reason})`).join('; ')}\n${stderr.slice(-2000)}`);
  t.match(stdout, /certified: every applicable MUST requirement in scope passed/);

  t.match(certificate, { kind: 'kubeplug-certificate', verdict: { certified: true, exitCode: 0 }, runs: [{ iface: 'cri', specVersion: 'v0.36.3' }] });
  t.match(run.subject, { name: 'kubeplug-process-runtime', runtimeApiVersion: 'v1', kubeletApiVersion: '0.1.0', runtimeEndpoint: node.endpoint, registry: /^127\.0\.0\.1:\d+$/ });
  t.equal(run.cases.length, createCriSuite().cases.length, 'every declared case ran');
  t.same(run.cases.filter((c) => c.outcome === 'error').map((c) => `${c.title}: ${c.reason}`), [], 'no harness error');
  t.same(run.cases.filter((c) => c.outcome === 'skipped').map((c) => c.title), [], 'nothing skipped: the test runs as root on the node');

  // The runtime serves Exec, Attach and PortForward through its streaming server: those rules pass on their own checks.
  for (const id of ['CRI-EXEC-011', 'CRI-EXEC-012', 'CRI-EXEC-013', 'CRI-EXEC-014', 'CRI-EXEC-015']) {
    t.equal(run.requirements.find((r) => r.id === id)?.status, 'pass', `${id} passes`);
  }

  // Every requirement of the CRI spec is in the certificate, with a status.
  const ids = loadRegistry().list('cri').filter((requirement) => requirement.binds !== 'runtime').map((requirement) => requirement.id);
  t.same(run.requirements.map((requirement) => requirement.id), ids);
  const passedCases = run.cases.filter((c) => c.outcome === 'pass').length;
  t.ok(passedCases > 100, `${passedCases} of ${run.cases.length} cases passed`);

  // The suite removed everything it made: the runtime holds nothing and the machine shows nothing.
  t.same(leftoversOf(node, runtime.pid), [], 'no shim, container process, mount, OCI container or record left');
});

t.test('a focused run of the runtime rules is partial and names what it left out', { skip: skip ?? false }, async (t) => {
  const { node } = await startRuntimeNode(t);
  const report = path.join(node.dir, 'focused.json');
  const { code } = await certifyCri(node, ['--focus', '^CRI-RUNTIME-', '--report', `json=${report}`], 120_000);
  const certificate = JSON.parse(fs.readFileSync(report, 'utf8'));
  t.equal(certificate.profile.partial, true);
  const statusOf = (id: string): string => certificate.runs[0].requirements.find((r: CertificateRequirement) => r.id === id).status;
  t.equal(statusOf('CRI-RUNTIME-002'), 'pass');
  t.equal(statusOf('CRI-SANDBOX-001'), 'not-run');
  t.equal(code, 0, 'requirements left out by --focus are not-run: they neither pass nor block (the certificate says partial)');
});
