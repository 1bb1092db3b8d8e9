import { spawn } from 'node:child_process';
import fs from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import type { sendUnaryData, ServerUnaryCall, UntypedServiceImplementation } from '@grpc/grpc-js';
import t, { type Test } from 'tap';
import type { EventList, PodList } from '../../../kubelet/api/pod-types.js';
import { startKubelet } from '../../../kubelet/kubelet.js';
import { RuntimeServiceService, serve } from '../../../specs/cri/index.js';
import { cliPath } from '../../helpers/run-cli.js';

// startKubelet against a stand-in CRI runtime with no pods: what the kubelet
// does with manifests it refuses, without root or a real runtime.

interface FakeRuntime {
  readonly endpoint: string;
  readonly calls: string[];
}

async function startFakeRuntime(t: Test, dir: string): Promise<FakeRuntime> {
  const calls: string[] = [];
  const answer =
    (method: string, response: unknown) =>
    (_call: ServerUnaryCall<unknown, unknown>, callback: sendUnaryData<unknown>): void => {
      calls.push(method);
      callback(null, response);
    };
  const handlers: UntypedServiceImplementation = {
    version: answer('Version', { version: '0.1.0', runtimeName: 'fake', runtimeVersion: '1', runtimeApiVersion: 'v1' }),
    listPodSandbox: answer('ListPodSandbox', { items: [] }),
    listContainers: answer('ListContainers', { containers: [] }),
  };
  const endpoint = `unix://${path.join(dir, 'cri.sock')}`;
  const server = await serve({ endpoint, services: [{ definition: RuntimeServiceService, handlers }] });
  t.teardown(() => server.close(0));
  return { endpoint, calls };
}

function get(port: number, urlPath: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    http
      .get({ host: '127.0.0.1', port, path: urlPath, agent: false }, (response) => {
        let body = '';
        response.setEncoding('utf8');
        response.on('data', (chunk: string) => (body += chunk));
        response.on('end', () => resolve({ status: response.statusCode ?? 0, body }));
      })
      .on('error', reject);
  });
}

function tempDir(t: Test): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'kp-kubelet-wiring-'));
  t.teardown(() => fs.rmSync(dir, { recursive: true, force: true }));
  return dir;
}

const refusedManifest = {
  apiVersion: 'v1',
  kind: 'Pod',
  metadata: { name: 'twins' },
  spec: { containers: [{ name: 'same', image: 'busybox:1' }, { name: 'same', image: 'busybox:1' }] },
};

t.test('a refused manifest is a Failed pod in /pods, an unparsable one an event; each FailedValidation once; no pod is run', async (t) => {
  const dir = tempDir(t);
  const manifests = path.join(dir, 'manifests');
  fs.mkdirSync(manifests);
  fs.writeFileSync(path.join(manifests, 'twins.json'), JSON.stringify(refusedManifest));
  fs.writeFileSync(path.join(manifests, 'garbage.yaml'), 'kind: [unclosed\n');
  const runtime = await startFakeRuntime(t, dir);
  const kubelet = await startKubelet({
    podManifestPath: manifests,
    containerRuntimeEndpoint: runtime.endpoint,
    rootDir: path.join(dir, 'root'),
    nodeName: 'n1',
    readOnlyPort: 0,
    address: '127.0.0.1',
    syncFrequencySeconds: 0.2,
  });
  t.teardown(() => kubelet.close());
  for (let round = 0; round < 3; round += 1) await kubelet.syncNow();

  const pods = JSON.parse((await get(kubelet.port, '/pods')).body) as PodList;
  t.equal(pods.items.length, 1);
  const [refused] = pods.items;
  t.equal(refused?.metadata.name, 'twins-n1', 'named as the static pod would be');
  t.equal(refused?.status?.phase, 'Failed');
  t.equal(refused?.status?.reason, 'InvalidManifest');
  t.match(refused?.status?.message, /spec\.containers\[1\]\.name/);

  const events = (JSON.parse((await get(kubelet.port, '/events')).body) as EventList).items.filter((event) => event.reason === 'FailedValidation');
  t.equal(events.length, 2, 'one event per bad file');
  t.ok(events.every((event) => event.count === 1 && event.type === 'Warning'), 'recorded once each across rounds');
  t.ok(events.some((event) => event.message.includes('garbage.yaml')), 'the unparsable file is named');
  t.ok(events.some((event) => event.message.includes('spec.containers[1].name') && event.involvedObject.name === 'twins-n1'), 'the refused pod is named with its field');
  t.same(new Set(runtime.calls), new Set(['Version', 'ListPodSandbox', 'ListContainers']), 'no call but observing');

  await kubelet.close();
  await t.rejects(get(kubelet.port, '/healthz'), 'the port is closed');
  const count = runtime.calls.length;
  await sleep(500);
  t.equal(runtime.calls.length, count, 'no CRI call after close');
});

t.test('kubeplug kubelet prints its port, serves /healthz, and exits 0 on SIGTERM', { skip: fs.existsSync(cliPath) ? false : 'run npm run build' }, async (t) => {
  const dir = tempDir(t);
  const runtime = await startFakeRuntime(t, dir);
  const child = spawn(
    process.execPath,
    [cliPath, 'kubelet', '--pod-manifest-path', path.join(dir, 'none'), '--container-runtime-endpoint', runtime.endpoint, '--root-dir', path.join(dir, 'root'), '--node-name', 'n1', '--read-only-port', '0', '--address', '127.0.0.1'],
    { stdio: ['ignore', 'pipe', 'pipe'] },
  );
  t.teardown(() => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  });
  let stdout = '';
  let stderr = '';
  child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  const port = await new Promise<number>((resolve, reject) => {
    child.stdout.on('data', (chunk: Buffer) => {
      stdout += chunk.toString();
      const match = /^ready (\d+)$/m.exec(stdout);
      if (match !== null) resolve(Number(match[1]));
    });
    child.on('exit', (code) => reject(new Error(`exited ${code}: ${stderr}`)));
  });
  t.same(await get(port, '/healthz'), { status: 200, body: 'ok' });
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  child.kill('SIGTERM');
  const code = await Promise.race([exited, sleep(5000).then(() => 'still running')]);
  t.equal(code, 0, stderr);
});

t.test('budgets and the cordon in the wiring: an invalid budget is an event naming the field, a valid one is listed, a cordon read at start holds a new pod without any sandbox', async (t) => {
  const dir = tempDir(t);
  const manifests = path.join(dir, 'manifests');
  const rootDir = path.join(dir, 'root');
  fs.mkdirSync(manifests);
  fs.mkdirSync(rootDir);
  fs.writeFileSync(path.join(rootDir, 'node-cordon.json'), JSON.stringify({ unschedulable: true }));
  fs.writeFileSync(path.join(manifests, 'good-pdb.yaml'), 'apiVersion: policy/v1\nkind: PodDisruptionBudget\nmetadata: {name: web}\nspec: {minAvailable: 1, selector: {matchLabels: {app: web}}}\n');
  fs.writeFileSync(path.join(manifests, 'bad-pdb.yaml'), 'apiVersion: policy/v1\nkind: PodDisruptionBudget\nmetadata: {name: bad}\nspec: {minAvailable: "150%"}\n');
  fs.writeFileSync(path.join(manifests, 'web.json'), JSON.stringify({ apiVersion: 'v1', kind: 'Pod', metadata: { name: 'web', labels: { app: 'web' } }, spec: { containers: [{ name: 'main', image: 'busybox:1' }] } }));
  const runtime = await startFakeRuntime(t, dir);
  const kubelet = await startKubelet({ podManifestPath: manifests, containerRuntimeEndpoint: runtime.endpoint, rootDir, nodeName: 'n1', readOnlyPort: 0, address: '127.0.0.1', syncFrequencySeconds: 0.2 });
  t.teardown(() => kubelet.close());
  for (let round = 0; round < 3; round += 1) await kubelet.syncNow();

  const events = (JSON.parse((await get(kubelet.port, '/events')).body) as EventList).items.filter((event) => event.reason === 'FailedValidation');
  t.equal(events.length, 1, 'one event, for the invalid budget');
  t.match(events[0]?.message, /^Error validating PodDisruptionBudget from file bad-pdb\.yaml: spec\.minAvailable: .*must not be greater than 100%/);
  const budgets = JSON.parse((await get(kubelet.port, '/poddisruptionbudgets')).body) as { items: { metadata: { name: string }; status: { expectedPods: number; currentHealthy: number } }[] };
  t.match(budgets.items, [{ metadata: { name: 'web' }, status: { expectedPods: 1, currentHealthy: 0 } }]);
  t.equal(budgets.items.length, 1);

  const [held] = (JSON.parse((await get(kubelet.port, '/pods')).body) as PodList).items;
  t.equal(held?.metadata.name, 'web-n1');
  t.equal(held?.status?.phase, 'Pending');
  t.match(held?.status?.conditions?.find((condition) => condition.type === 'PodScheduled'), { status: 'False', reason: 'Unschedulable', message: /cordoned/ });
  t.same(new Set(runtime.calls), new Set(['Version', 'ListPodSandbox', 'ListContainers']), 'no sandbox was asked for');
  t.same(JSON.parse((await get(kubelet.port, '/api/v1/nodes/n1')).body).spec, { unschedulable: true });
});
