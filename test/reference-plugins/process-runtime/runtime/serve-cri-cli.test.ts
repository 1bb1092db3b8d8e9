import { spawn } from 'node:child_process';
import { once } from 'node:events';
import fs from 'node:fs';
import path from 'node:path';
import t from 'tap';
import type { Client } from '@grpc/grpc-js';
import { registryUnavailable, startTestImageRegistry, testImageNames } from '../../../../conformance/cri/test-images/index.js';
import {
  callUnary,
  ContainerState,
  createClient,
  ImageServiceClient,
  PodSandboxState,
  RuntimeServiceClient,
  waitForConnection,
} from '../../../../specs/cri/index.js';
import { cliPath, runCli } from '../../../helpers/run-cli.js';
import { cleanUpRuntime, containerConfig, cri, findLeftovers, missingPrerequisites, podConfig, tempFolder, type TestNode } from './fixtures/runtime-harness.js';

const missing = missingPrerequisites() ?? registryUnavailable() ?? (fs.existsSync(cliPath) ? undefined : 'needs a build (npm run build)');
if (missing !== undefined) t.plan(0, missing);
// Each test starts a runtime process and real pods; on a loaded 2-core machine a file needs more than tap's default 120 s.
t.setTimeout(300_000);

t.test('serve cri names the flag of a usage error', async (t) => {
  const dir = tempFolder(t);
  const base = ['serve', 'cri', '--endpoint', `unix://${dir}/s.sock`, '--root', path.join(dir, 'root'), '--cni-conf-dir', dir];
  const cases: [string[], RegExp][] = [
    [[...base.slice(0, -2)], /cni-conf-dir/],
    [[...base, '--cni-path', dir, '--oci-runtime', 'kata'], /--oci-runtime/],
    [[...base, '--cni-path', dir, '--registry-mirror', 'docker.io'], /--registry-mirror/],
    [[...base.map((arg) => (arg.startsWith('unix://') ? 'tcp://127.0.0.1:1' : arg)), '--cni-path', dir], /--endpoint/],
  ];
  for (const [args, wanted] of cases) {
    const { code, stderr } = await runCli(args);
    t.equal(code, 2, `exit 2 for ${args.slice(2).join(' ')}`);
    t.match(stderr, wanted);
  }
  t.notOk(fs.existsSync(path.join(dir, 'root')), 'a usage error creates nothing');
});

t.test('kubeplug serve cri pulls an image from a registry and runs it with the image STOPSIGNAL (host network)', async (t) => {
  const dir = tempFolder(t);
  const registry = await startTestImageRegistry({ dir: path.join(dir, 'registry') });
  t.teardown(() => registry.stop());
  const cniConfDir = path.join(dir, 'net.d');
  fs.mkdirSync(cniConfDir);
  const node: TestNode = { ns: undefined as never, dir, root: path.join(dir, 'root'), cniConfDir, endpoint: `unix://${path.join(dir, 'cri.sock')}`, image: undefined as never, subnet: '' };
  // The runtime runs in this namespace so it can reach the loopback registry; it only gets host-network pods, so no CNI call touches it.
  const child = spawn(process.execPath, [cliPath, 'serve', 'cri', '--endpoint', node.endpoint, '--root', node.root, '--cni-conf-dir', cniConfDir, '--cni-path', '/usr/lib/cni', '--insecure-registry', registry.registry.host], {
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  t.teardown(async () => {
    if (child.exitCode === null && child.signalCode === null) {
      child.kill('SIGTERM');
      await once(child, 'exit');
    }
  });
  const [chunk] = (await once(child.stdout!, 'data')) as [Buffer];
  t.match(chunk.toString(), /^ready /);
  const client = createClient(RuntimeServiceClient, node.endpoint);
  const images = createClient(ImageServiceClient, node.endpoint);
  t.teardown(() => {
    client.close();
    images.close();
  });
  await waitForConnection(client as Client, node.endpoint, 10_000);
  t.teardown(() => cleanUpRuntime(t, node, client));

  const reference = `${registry.registry.host}/${testImageNames.stopSignal}`;
  const pulled = await callUnary(images, images.pullImage, { image: { image: reference, annotations: {}, userSpecifiedImage: '', runtimeHandler: '', imageRef: '' }, auth: undefined, sandboxConfig: undefined });
  t.match(pulled.imageRef, /^sha256:[0-9a-f]{64}$/);
  const status = await cri(client, 'status', { verbose: false });
  t.match(status.status?.conditions, [{ type: 'RuntimeReady', status: true }, { type: 'NetworkReady', status: false }], 'no CNI config here');

  const config = podConfig(node, { hostNetwork: true });
  const { podSandboxId } = await cri(client, 'runPodSandbox', { config, runtimeHandler: '' });
  t.equal((await cri(client, 'podSandboxStatus', { podSandboxId, verbose: false })).status?.state, PodSandboxState.SANDBOX_READY);
  const create = containerConfig({ ...node, image: { repoTags: [reference] } as never }, 'stopsignal', []);
  const { containerId } = await cri(client, 'createContainer', { podSandboxId, config: create, sandboxConfig: config });
  await cri(client, 'startContainer', { containerId });
  const running = (await cri(client, 'containerStatus', { containerId, verbose: false })).status;
  t.match(running, { state: ContainerState.CONTAINER_RUNNING, imageId: pulled.imageRef });
  await new Promise((resolve) => setTimeout(resolve, 300));
  const started = Date.now();
  await cri(client, 'stopContainer', { containerId, timeout: 20n });
  t.ok(Date.now() - started < 10_000, 'stopped by the image STOPSIGNAL well before the grace period');
  t.match((await cri(client, 'containerStatus', { containerId, verbose: false })).status, { state: ContainerState.CONTAINER_EXITED, exitCode: 0, reason: 'Completed' });
  await cri(client, 'removePodSandbox', { podSandboxId });
  t.same(findLeftovers(node), []);
});
