import { execFile } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import t from 'tap';
import { registryUnavailable } from '../../conformance/cri/test-images/loopback-registry.js';
import { testImagesUnavailable } from '../../conformance/cri/test-images/test-image.js';
import { createKubeletSuite, kubeletNodeUnavailable, loadKubeletRunSettings } from '../../conformance/kubelet/index.js';
import { loadRegistry, packageRoot } from '../../specs/registry/index.js';
import { cliPath, runCli } from '../helpers/run-cli.js';
import { tempDir } from '../helpers/temp-dir.js';

// `kubeplug certify kubelet` as a user runs it: the harness starts a node
// (process runtime, registry, dir-volume driver, spy proxies) and the
// reference kubelet on it, runs the whole suite, and stops everything.

const skip =
  (fs.existsSync(cliPath) ? undefined : 'needs a build (npm run build)') ??
  kubeletNodeUnavailable(loadKubeletRunSettings({})) ??
  registryUnavailable() ??
  testImagesUnavailable();

// The whole suite (71 cases) takes about 6.5 minutes here (back-off, grace-period and drain-retry cases wait in real time).
t.setTimeout(1_200_000);

interface CertificateRequirement {
  id: string;
  level: string;
  status: string;
  reason?: string;
}

interface CertificateCase {
  title: string;
  ids: string[];
  outcome: string;
  reason?: string;
}

/** Whether something accepts connections on 127.0.0.1:port. */
function listening(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = net.connect(port, '127.0.0.1');
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => resolve(false));
  });
}

function processesNaming(text: string): string[] {
  const found: string[] = [];
  for (const name of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(name) || Number(name) === process.pid) continue;
    try {
      const cmdline = fs.readFileSync(`/proc/${name}/cmdline`, 'utf8').replace(/\0/g, ' ');
      if (cmdline.includes(text)) found.push(`${name} ${cmdline}`);
    } catch {
      // ended meanwhile
    }
  }
  return found;
}

t.test('the reference kubelet on the process runtime is certified by the whole kubelet suite and nothing is left behind', { skip: skip ?? false }, async (t) => {
  const dir = tempDir(t, 'kp-klcert-');
  const report = path.join(dir, 'kubelet.json');
  const { code, stdout, stderr } = await new Promise<{ code: number; stdout: string; stderr: string }>((resolve) => {
    execFile(process.execPath, [cliPath, 'certify', 'kubelet', '--report', `json=${report}`], { cwd: packageRoot(), timeout: 1_100_000, maxBuffer: 64 * 1024 * 1024 }, (error, out, err) => {
      resolve({ code: error === null ? 0 : typeof error.code === 'number' ? error.code : -1, stdout: out, stderr: err });
    });
  });
  const certificate = JSON.parse(fs.readFileSync(report, 'utf8'));
  const run = certificate.runs[0] as { iface: string; subject: Record<string, unknown>; cases: CertificateCase[]; requirements: CertificateRequirement[] };
  const uncheckable = new Set(loadRegistry().list('kubelet').filter((requirement) => requirement.notChecked !== undefined).map((requirement) => requirement.id));
  const blocking = run.requirements.filter((requirement) => requirement.level === 'MUST' && requirement.status !== 'pass' && !uncheckable.has(requirement.id));
  t.same(blocking.map((r) => r.id), [], 'every MUST passed or is declared uncheckable by the spec');
  t.equal(code, 0, `exit 0; blocking: ${blocking.map((r) => `${r.id} ${r.status} (${r.reason ?? ''})`).join('; ')}\n${stderr.slice(-3000)}`);
  t.match(stdout, /certified/);
  t.match(certificate, { kind: 'kubeplug-certificate', verdict: { certified: true, exitCode: 0 }, runs: [{ iface: 'kubelet' }] });
  t.match(run.subject, { name: 'kubeplug kubelet', runtime: { kind: 'kubeplug' }, csiDriver: 'dir-volume.csi.kubeplug.io', registry: /^127\.0\.0\.1:\d+$/ });
  t.equal(run.cases.length, createKubeletSuite().cases.length, 'every declared case ran');
  t.same(run.cases.filter((c) => c.outcome === 'error').map((c) => `${c.title}: ${c.reason}`), [], 'no harness error');
  t.same(run.cases.filter((c) => c.outcome === 'skipped' || c.outcome === 'not-applicable').map((c) => c.title), [], 'nothing skipped');
  const ids = loadRegistry().list('kubelet').map((requirement) => requirement.id);
  t.same(run.requirements.map((requirement) => requirement.id).sort(), [...ids].sort(), 'every requirement has a status');

  // Everything the run made is gone: the node's folder, namespace, cgroups and processes, and the registry.
  const command = (run.subject.command as string[]) ?? [];
  const manifests = command.find((word) => word.endsWith('/kubelet/manifests')) ?? '';
  const nodeDir = path.dirname(path.dirname(manifests));
  t.match(nodeDir, /^\/.+\/kp-kpcri-/, 'the node folder is known from the command');
  const cgroupParent = command[command.indexOf('--cgroup-parent') + 1] ?? '';
  t.notOk(fs.existsSync(nodeDir), 'the node folder is removed');
  t.same(processesNaming(`${nodeDir}/`), [], 'no process of the node is left');
  t.notOk(fs.existsSync(`/run/netns${cgroupParent}`), 'the node network namespace is removed');
  t.notOk(fs.existsSync(`/sys/fs/cgroup${cgroupParent}`), 'the node cgroup parent is removed');
  const registryPort = Number(String(run.subject.registry).split(':')[1]);
  t.notOk(await listening(registryPort), 'the registry is stopped');
});

t.test('certify kubelet refuses bad flags with one clear line and exit 2', async (t) => {
  for (const [args, message] of [
    [['--runtime', 'cri-o'], /--runtime/],
    [['--kubelet-cmd', 'kubelet {nope}'], /unknown placeholder/],
    [['--registry', 'example.com:5000'], /--registry/],
    [['--drain-cmd', 'drain --timeout {timeout}'], /--drain-cmd/],
  ] as const) {
    const { code, stderr, stdout } = await runCli(['certify', 'kubelet', ...args]);
    t.equal(code, 2, args.join(' '));
    t.match(stderr, message);
    t.equal(stderr.trim().split('\n').length, 1, 'one line');
    t.equal(stdout, '');
  }
});
