import fs from 'node:fs';
import path from 'node:path';
import t from 'tap';
import { registryUnavailable } from '../../conformance/cri/test-images/loopback-registry.js';
import { testImagesUnavailable } from '../../conformance/cri/test-images/test-image.js';
import {
  CallRecorder,
  connectKubeletSubject,
  createKubeletSuite,
  defaultDrainCommand,
  defaultKubeletCommand,
  expandDrainCommand,
  expandKubeletCommand,
  KubeletRunConfigError,
  kubeletNodeUnavailable,
  loadKubeletRunSettings,
  startCriSpy,
  startCsiSpy,
  type PlaceholderValues,
} from '../../conformance/kubelet/index.js';
import {
  GrpcStatusError,
  RuntimeServiceClient,
  RuntimeServiceService,
  bindService,
  callUnary,
  createClient,
  serve,
} from '../../specs/cri/index.js';
import { IdentityClient, IdentityService, NodeClient, NodeService } from '../../specs/csi/index.js';
import { loadRegistry } from '../../specs/registry/index.js';
import { tempDir } from '../helpers/temp-dir.js';

// The kubelet suite's harness on its own: the spy proxies, the command
// template, and a node that comes up with a stand-in kubelet and leaves
// nothing behind.

const values: PlaceholderValues = {
  manifests: '/n/manifests',
  cri: 'unix:///n/cri.sock',
  csi: 'unix:///n/csi.sock',
  'csi-driver': 'dir-volume.csi.kubeplug.io',
  port: '10255',
  root: '/n/root dir',
  'node-name': 'node-a',
  'max-restart-period': '20',
  'cgroup-parent': '/kp-node',
};

t.test('a template of plain words is split as a shell would and each placeholder filled in place', async (t) => {
  const expanded = expandKubeletCommand(`kubelet --manifests={manifests} --cri "{cri}" 'a b' --csi-endpoint {csi-driver}={csi} --root-dir {root} --port {port}`, values);
  t.same(expanded, {
    argv: ['kubelet', '--manifests=/n/manifests', '--cri', 'unix:///n/cri.sock', 'a b', '--csi-endpoint', 'dir-volume.csi.kubeplug.io=unix:///n/csi.sock', '--root-dir', '/n/root dir', '--port', '10255'],
    throughShell: false,
  });
});

t.test('a template with shell syntax runs through sh -c with every value quoted', async (t) => {
  const expanded = expandKubeletCommand('exec kubelet --root {root} --manifests {manifests} --cri {cri} --port {port} 2>&1 | cat', values);
  t.equal(expanded.throughShell, true);
  t.same(expanded.argv.slice(0, 2), ['sh', '-c']);
  t.match(expanded.argv[2], /--root '\/n\/root dir' /);
});

t.test('the default template is the reference kubelet with every flag it needs', async (t) => {
  const expanded = expandKubeletCommand(defaultKubeletCommand('/kit/dist/runner/cli.js'), values);
  t.equal(expanded.throughShell, false);
  t.same(expanded.argv.slice(1, 3), ['/kit/dist/runner/cli.js', 'kubelet']);
  for (const flag of ['--pod-manifest-path', '--container-runtime-endpoint', '--csi-endpoint', '--root-dir', '--node-name', '--read-only-port', '--max-container-restart-period', '--cgroup-parent']) {
    t.ok(expanded.argv.includes(flag), flag);
  }
});

t.test('the default drain template is kubeplug drain with the kubelet URL and the timeout filled in', async (t) => {
  t.equal(loadKubeletRunSettings({}).drainCmd, defaultDrainCommand());
  const expanded = expandDrainCommand(defaultDrainCommand('/kit/dist/runner/cli.js'), { 'kubelet-url': 'unix:///n/read only.sock', timeout: '20s' });
  t.same(expanded, { argv: [process.execPath, '/kit/dist/runner/cli.js', 'drain', '--kubelet', 'unix:///n/read only.sock', '--timeout', '20s'], throughShell: false });
});

t.test('a drain template with shell syntax runs through sh -c with the URL quoted', async (t) => {
  const expanded = expandDrainCommand('my-drain --node {kubelet-url} --timeout {timeout} 2>&1', { 'kubelet-url': 'unix:///n/a b.sock', timeout: '5s' });
  t.same(expanded.argv.slice(0, 2), ['sh', '-c']);
  t.match(expanded.argv[2], /--node 'unix:\/\/\/n\/a b.sock' --timeout 5s 2>&1/);
});

const badSettings: [string, Parameters<typeof loadKubeletRunSettings>[0], RegExp][] = [
  ['an unknown placeholder', { kubeletCmd: 'k {manifests} {cri} {port} {nope}' }, /unknown placeholder \{nope\}/],
  ['a template without {cri}', { kubeletCmd: 'k {manifests} {port}' }, /must use \{cri\}/],
  ['an unterminated quote', { kubeletCmd: 'k "{manifests} {cri} {port}' }, /unterminated/],
  ['an unknown runtime', { runtime: 'cri-o' }, /--runtime/],
  ['a registry off the loopback', { registry: 'registry.example:5000' }, /--registry/],
  ['a restart period of 0', { maxRestartPeriodSeconds: 0 }, /--max-restart-period/],
  ['an empty drain command', { drainCmd: ' ' }, /--drain-cmd: the command is empty/],
  ['a drain command naming an unknown placeholder', { drainCmd: 'drain {kubelet-url} {port}' }, /--drain-cmd: unknown placeholder \{port\}/],
  ['a drain command that cannot reach the kubelet', { drainCmd: 'drain --timeout {timeout}' }, /--drain-cmd: the command must use \{kubelet-url\}/],
];
for (const [what, input, message] of badSettings) {
  t.test(`run settings refuse ${what}`, async (t) => {
    t.throws(() => loadKubeletRunSettings(input), KubeletRunConfigError);
    t.throws(() => loadKubeletRunSettings(input), message);
  });
}

t.test('every case of the suite cites requirements of the kubelet spec', async (t) => {
  const known = new Set(loadRegistry().list('kubelet').map((requirement) => requirement.id));
  const cited = createKubeletSuite().cases.flatMap((declared) => declared.ids);
  t.same(cited.filter((id) => !known.has(id)), []);
  for (const area of ['MANIFEST', 'SANDBOX', 'PLUGIN']) {
    const ids = [...known].filter((id) => id.startsWith(`KUBELET-${area}-`));
    t.same(ids.filter((id) => !cited.includes(id)), [], `every ${area} requirement is cited`);
  }
});

t.test('the CRI spy forwards calls unchanged and records them, failures with their code', async (t) => {
  const dir = tempDir(t, 'kp-spy-');
  const binding = bindService(RuntimeServiceService, {
    version: async (request) => ({ version: request.version, runtimeName: 'upstream', runtimeVersion: '1', runtimeApiVersion: 'v1' }),
    stopContainer: async () => {
      throw new GrpcStatusError({ code: 'NOT_FOUND', message: 'no such container' });
    },
  });
  const upstream = await serve({ endpoint: `unix://${path.join(dir, 'up.sock')}`, services: [binding] });
  t.teardown(() => upstream.close());
  const recorder = new CallRecorder();
  const spy = await startCriSpy({ endpoint: `unix://${path.join(dir, 'spy.sock')}`, upstream: `unix://${upstream.socketPath}`, recorder });
  t.teardown(() => spy.close());
  const client = createClient(RuntimeServiceClient, spy.endpoint);
  t.teardown(() => client.close());
  const version = await callUnary(client, client.version, { version: '0.1.0' });
  t.equal(version.runtimeName, 'upstream');
  const failed = await callUnary(client, client.stopContainer, { containerId: 'c1', timeout: 5n }).catch((error: unknown) => error);
  t.equal((failed as GrpcStatusError).code, 'NOT_FOUND', 'the status passes through');
  const calls = recorder.calls('cri');
  t.equal(calls.length, 2);
  t.match(calls[0], { seq: 1, method: 'Version', request: { version: '0.1.0' }, response: { runtimeName: 'upstream' } });
  t.match(calls[1], { seq: 2, method: 'StopContainer', request: { containerId: 'c1', timeout: '5' }, code: 'NOT_FOUND' });
  t.notOk('response' in (calls[1] as object));
  t.ok((calls[0]?.endedAt ?? 0) >= (calls[0]?.startedAt ?? Infinity));
  t.same(recorder.calls('csi'), []);
});

t.test('the CSI spy records into the same sequence as the CRI spy', async (t) => {
  const dir = tempDir(t, 'kp-spy-');
  const upstream = await serve({
    endpoint: `unix://${path.join(dir, 'up.sock')}`,
    services: [
      bindService(IdentityService, { getPluginInfo: async () => ({ name: 'upstream.example', vendorVersion: '1', manifest: {} }) }),
      bindService(NodeService, { nodeGetCapabilities: async () => ({ capabilities: [] }) }),
    ],
  });
  t.teardown(() => upstream.close());
  const recorder = new CallRecorder();
  await recorder.record('cri', 'Version', {}, async () => ({}));
  const spy = await startCsiSpy({ endpoint: `unix://${path.join(dir, 'spy.sock')}`, upstream: `unix://${upstream.socketPath}`, recorder });
  t.teardown(() => spy.close());
  const identity = createClient(IdentityClient, spy.endpoint);
  const node = createClient(NodeClient, spy.endpoint);
  t.teardown(() => {
    identity.close();
    node.close();
  });
  t.equal((await callUnary(identity, identity.getPluginInfo, {})).name, 'upstream.example');
  await callUnary(node, node.nodeGetCapabilities, {});
  t.same(
    recorder.calls('csi').map((call) => [call.seq, call.method]),
    [
      [2, 'GetPluginInfo'],
      [3, 'NodeGetCapabilities'],
    ],
  );
});

/** A stand-in kubelet: answers /healthz and /pods on {port}, as the template gives it, until SIGTERM. */
const standInKubelet = [
  `"${process.execPath}"`,
  '-e',
  `'const [port] = process.argv.slice(1); require("node:http").createServer((q, s) => s.end(q.url === "/healthz" ? "ok" : JSON.stringify({ apiVersion: "v1", kind: "PodList", metadata: {}, items: [] }))).listen(Number(port), "127.0.0.1"); process.on("SIGTERM", () => process.exit(0));'`,
  '{port}',
  '{manifests}',
  '{cri}',
].join(' ');

const nodeSkip =
  kubeletNodeUnavailable(loadKubeletRunSettings({ kubeletCmd: standInKubelet })) ?? registryUnavailable() ?? testImagesUnavailable();

t.test('the node comes up with the kubelet in its namespaces, answers through the relay, restarts it, and leaves nothing', { skip: nodeSkip ?? false, timeout: 180_000 }, async (t) => {
  const settings = loadKubeletRunSettings({ kubeletCmd: standInKubelet });
  let stop: (() => Promise<unknown>) | undefined;
  t.teardown(async () => {
    await stop?.();
  });
  const subject = await connectKubeletSubject({ settings, registerStop: (registered) => (stop = registered) });
  const node = subject.node;
  const pid = node.kubeletPid();
  t.equal(fs.readlinkSync(`/proc/${pid}/ns/net`), fs.readlinkSync(`/proc/${node.runtime.pid}/ns/net`), "the kubelet is in the node's network namespace");
  t.equal(fs.readlinkSync(`/proc/${pid}/ns/mnt`), fs.readlinkSync(`/proc/${node.runtime.pid}/ns/mnt`), "the kubelet is in the runtime's mount namespace");
  t.not(fs.readlinkSync(`/proc/${pid}/ns/net`), fs.readlinkSync('/proc/self/ns/net'), "never in the machine's");
  t.same(await subject.readOnlyGet('/healthz'), { status: 200, body: 'ok' });
  t.same((await subject.pods()).items, []);
  t.match(subject.images.busybox, /^127\.0\.0\.1:\d+\/kubeplug-kubelet-suite\/busybox:1$/);
  t.ok(fs.statSync(subject.hostPathDir).isDirectory());
  await subject.writeManifest('p.json', { metadata: { name: 'p' } });
  t.same(fs.readdirSync(node.manifestsDir), ['p.json'], 'written whole, no temporary file left');
  await subject.restartKubelet('SIGKILL');
  t.not(node.kubeletPid(), pid, 'a new kubelet process');
  t.equal((await subject.readOnlyGet('/healthz')).status, 200);
  const failures = await subject.closed();
  t.same(failures, []);
  t.same(node.leftovers(), { processes: [], mounts: [], cgroups: [], networkNamespace: false, folder: false });
});
