import { execFile, spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import t from 'tap';
import { registryUnavailable } from '../../conformance/cri/test-images/loopback-registry.js';
import { testImagesUnavailable } from '../../conformance/cri/test-images/test-image.js';
import {
  attachedSkipReasons,
  defaultKubeletCommand,
  getFromKubelet,
  kubeletNodeUnavailable,
  loadKubeletRunSettings,
  parseKubeletUrl,
  startKubeletNode,
  type KubeletNode,
} from '../../conformance/kubelet/index.js';
import { ListPodSandboxRequest, PodSandboxState, callUnary } from '../../specs/cri/index.js';
import { packageRoot } from '../../specs/registry/index.js';
import { cliPath, runCli } from '../helpers/run-cli.js';
import { tempDir } from '../helpers/temp-dir.js';

// `kubeplug certify kubelet` attached to a kubelet it did not start: the
// test starts the reference kubelet on a node of its own (process runtime in
// a network and mount namespace the test makes, loopback registry), serving
// its read-only endpoints on a unix socket too; the CLI certifies it through
// its manifest folder, that socket and the runtime's endpoint only.

const skip =
  (fs.existsSync(cliPath) ? undefined : 'needs a build (npm run build)') ??
  kubeletNodeUnavailable(loadKubeletRunSettings({})) ??
  registryUnavailable() ??
  testImagesUnavailable();

// Five cases, two of them skipped before or after a pod runs; about a minute here when quiet.
t.setTimeout(600_000);

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

/** The cases the run focuses on, by a title fragment, with the outcome each must come out with. */
const focused = [
  { kind: 'manifest', title: "The spec in /pods carries the API server's defaults", outcome: 'pass' },
  { kind: 'phase', title: 'A container killed for exceeding its memory limit is terminated with reason OOMKilled', outcome: 'pass' },
  { kind: 'hostPath and emptyDir, with --host-path-dir and --root-dir', title: "A hostPath volume is the node's folder itself", outcome: 'pass' },
  { kind: 'call order', title: 'A pod gets exactly one sandbox, created before any of its containers', outcome: 'skipped', reason: attachedSkipReasons.criCalls },
  { kind: 'kubelet restart', title: 'After the kubelet is killed and restarted, completed init containers are not run again', outcome: 'skipped', reason: attachedSkipReasons.restart },
] as const;

/** Sandboxes the runtime still reports ready. */
async function readySandboxes(node: KubeletNode): Promise<string[]> {
  const { runtime } = node.runtime;
  const listed = await callUnary(runtime, runtime.listPodSandbox, ListPodSandboxRequest.fromPartial({}));
  return listed.items.filter((sandbox) => sandbox.state === PodSandboxState.SANDBOX_READY).map((sandbox) => `${sandbox.metadata?.name ?? '?'} ${sandbox.id}`);
}

t.test('a running reference kubelet is certified attached: what needs no spy passes, call order and restart come out skipped, exit 1, nothing left', { skip: skip ?? false }, async (t) => {
  const dir = tempDir(t, 'kp-klatt-');
  const socketPath = path.join(dir, 'read-only.sock');
  const settings = loadKubeletRunSettings({ kubeletCmd: `${defaultKubeletCommand()} --read-only-socket ${socketPath}` });
  let stop: (() => Promise<unknown>) | undefined;
  t.teardown(async () => {
    await stop?.();
  });
  const node = await startKubeletNode(settings, { registerStop: (registered) => (stop = registered), nodeName: 'attached-node' });
  t.not(fs.readlinkSync(`/proc/${node.kubeletPid()}/ns/net`), fs.readlinkSync('/proc/self/ns/net'), "the kubelet runs outside the machine's network namespace");

  const report = path.join(dir, 'kubelet.json');
  const args = [
    cliPath,
    'certify',
    'kubelet',
    '--manifest-dir',
    node.manifestsDir,
    '--kubelet-url',
    `unix://${socketPath}`,
    '--node-name',
    node.nodeName,
    '--runtime-endpoint',
    node.runtime.endpoint,
    '--registry',
    node.registry,
    '--root-dir',
    node.rootDir,
    '--host-path-dir',
    node.hostPathDir,
    '--max-restart-period',
    String(settings.maxRestartPeriodSeconds),
    '--report',
    `json=${report}`,
    ...focused.flatMap((testCase) => ['--focus', testCase.title.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')]),
  ];
  const { code, stderr } = await new Promise<{ code: number; stdout: string; stderr: string }>((resolve) => {
    execFile(process.execPath, args, { cwd: packageRoot(), timeout: 540_000, maxBuffer: 64 * 1024 * 1024 }, (error, out, err) => {
      resolve({ code: error === null ? 0 : typeof error.code === 'number' ? error.code : -1, stdout: out, stderr: err });
    });
  });
  const certificate = JSON.parse(fs.readFileSync(report, 'utf8'));
  const run = certificate.runs[0] as { subject: Record<string, unknown>; cases: CertificateCase[]; requirements: CertificateRequirement[] };
  t.equal(run.cases.length, focused.length, `the focused cases ran: ${run.cases.map((c) => c.title).join(' | ')}`);
  for (const wanted of focused) {
    const result = run.cases.find((c) => c.title.startsWith(wanted.title));
    t.equal(result?.outcome, wanted.outcome, `${wanted.kind}: ${wanted.outcome} (${result?.reason ?? ''})`);
    if ('reason' in wanted) t.equal(result?.reason, wanted.reason, `${wanted.kind}: the reason says why and how to check it`);
  }
  t.match(run.subject, { name: 'attached kubelet', mode: 'attached', kubeletUrl: `unix://${socketPath}`, nodeName: 'attached-node', runtime: { endpoint: node.runtime.endpoint } });

  const skippedIds = focused.filter((c) => c.outcome === 'skipped').flatMap((c) => run.cases.find((r) => r.title.startsWith(c.title))?.ids ?? []);
  const statusOf = (id: string): string | undefined => run.requirements.find((requirement) => requirement.id === id)?.status;
  for (const id of skippedIds) t.equal(statusOf(id), 'skipped', `${id} is skipped, never passed or not-applicable`);
  if (code !== 1) t.comment(stderr.slice(-3000));
  t.equal(code, 1, 'exit 1: skipped MUSTs block certification');
  t.match(certificate.verdict, { certified: false, exitCode: 1 });
  const blocking = certificate.verdict.blockingMusts as string[];
  t.ok(skippedIds.filter((id) => run.requirements.find((r) => r.id === id)?.level === 'MUST').every((id) => blocking.includes(id)), 'the skipped MUSTs are what blocks');
  for (const passing of focused.filter((c) => c.outcome === 'pass')) {
    for (const id of run.cases.find((r) => r.title.startsWith(passing.title))?.ids ?? []) {
      if (!skippedIds.includes(id)) t.equal(statusOf(id), 'pass', `${id} passes`);
    }
  }

  // What the run made is gone while the kubelet goes on running: no manifest (nor temporary file), no pod, no ready sandbox.
  t.same(fs.readdirSync(node.manifestsDir), [], 'the manifest folder is empty');
  const pods = JSON.parse((await getFromKubelet(parseKubeletUrl(`unix://${socketPath}`), '/pods')).body) as { items: unknown[] };
  t.same(pods.items, [], '/pods lists no pod');
  t.same(await readySandboxes(node), [], 'the runtime runs no sandbox');
  t.same(fs.readdirSync(node.hostPathDir), [], 'the hostPath folders the run made are removed');
  t.equal((await getFromKubelet(parseKubeletUrl(`unix://${socketPath}`), '/healthz')).status, 200, 'the kubelet is still healthy');

  // Interrupted mid-case, an attached run takes its manifests back out of the kubelet's folder before it exits.
  const interrupted = spawn(process.execPath, [...args.slice(0, args.indexOf('--report')), '--focus', 'OOMKilled'], { cwd: packageRoot(), stdio: 'ignore' });
  t.teardown(() => {
    if (interrupted.exitCode === null && interrupted.signalCode === null) interrupted.kill('SIGKILL');
  });
  const exited = new Promise<number | null>((resolve) => interrupted.once('exit', (exitCode) => resolve(exitCode)));
  const until = Date.now() + 120_000;
  while (fs.readdirSync(node.manifestsDir).filter((name) => !name.startsWith('.')).length === 0 && Date.now() < until) await sleep(100);
  t.not(fs.readdirSync(node.manifestsDir).length, 0, 'the interrupted run has written a manifest');
  interrupted.kill('SIGINT');
  t.equal(await exited, 130, 'SIGINT ends the run with 130');
  t.same(fs.readdirSync(node.manifestsDir), [], 'and its manifests are removed');
  const gone = Date.now() + 60_000;
  let left: unknown[] = [];
  while ((left = (JSON.parse((await getFromKubelet(parseKubeletUrl(`unix://${socketPath}`), '/pods')).body) as { items: unknown[] }).items).length > 0 && Date.now() < gone) await sleep(200);
  t.same(left, [], 'so the kubelet stops its pods');

  const failures = await node.stop();
  t.same(failures, [], 'the node stops cleanly');
  t.same(node.leftovers(), { processes: [], mounts: [], cgroups: [], networkNamespace: false, folder: false }, 'nothing of the node is left');
});

t.test('attached certify refuses bad flags with one line naming the flag and exit 2', { skip: fs.existsSync(cliPath) ? false : 'needs a build (npm run build)' }, async (t) => {
  const dir = tempDir(t, 'kp-klatt-');
  const attach = ['--manifest-dir', dir, '--kubelet-url', `unix://${path.join(dir, 'absent.sock')}`, '--node-name', 'n', '--runtime-endpoint', 'unix:///run/absent.sock', '--registry', '127.0.0.1:5000'];
  const without = (flag: string): string[] => {
    const at = attach.indexOf(flag);
    return [...attach.slice(0, at), ...attach.slice(at + 2)];
  };
  for (const [args, message] of [
    [[...attach, '--kubelet-cmd', 'kubelet {manifests} {cri} {port}'], /^kubeplug: --kubelet-cmd cannot be used with --manifest-dir/],
    [[...attach, '--runtime', 'containerd'], /^kubeplug: --runtime cannot be used with --manifest-dir/],
    [without('--node-name'), /^kubeplug: --node-name is required to attach/],
    [without('--registry'), /^kubeplug: --registry is required to attach/],
    [[...without('--manifest-dir'), '--manifest-dir', path.join(dir, 'nope')], /^kubeplug: --manifest-dir: .*nope does not exist/],
    [[...without('--kubelet-url'), '--kubelet-url', 'http://127.0.0.1'], /^kubeplug: --kubelet-url: .*names no port/],
    [attach, /^kubeplug: --kubelet-url: GET \/healthz on unix:\/\/.*absent\.sock failed/],
  ] as const) {
    const { code, stderr, stdout } = await runCli(['certify', 'kubelet', ...args]);
    t.equal(code, 2, args.join(' '));
    t.match(stderr, message);
    t.equal(stderr.trim().split('\n').length, 1, 'one line');
    t.equal(stdout, '');
  }
  t.same(fs.readdirSync(dir), [], 'nothing was written into the manifest folder');
});
