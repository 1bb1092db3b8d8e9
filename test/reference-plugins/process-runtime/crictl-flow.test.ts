import { randomUUID } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import t from 'tap';
import { registryUnavailable, startLoopbackRegistry } from '../../../conformance/cri/test-images/loopback-registry.js';
import { provisionTestImages, type ProvisionedTestImage } from '../../../conformance/cri/test-images/provision-test-images.js';
import { markerPath, testImagesUnavailable } from '../../../conformance/cri/test-images/test-image.js';
import {
  bridgeNetworkConfig,
  processRuntimeNodeUnavailable,
  startProcessRuntimeNode,
  upstreamCniPlugins,
  type CriNode,
} from '../../../conformance/peers/index.js';
import { openIndependentCriClient, type IndependentCriClient, type Message } from '../../helpers/independent-cri-client.js';
import { tempDir } from '../../helpers/temp-dir.js';

// crictl's everyday flow (pull, images, runp, create, start, exec, logs,
// stop, rm, stopp, rmp, rmi) against `kubeplug serve cri`, driven by a client
// that shares no code with the kit's generated contract: Debian has no
// crictl, so the flow goes through @grpc/proto-loader over api.proto with
// snake_case fields, the way an outside tool sees the runtime.

const skip =
  (process.getuid?.() === 0 ? undefined : 'needs root') ??
  processRuntimeNodeUnavailable() ??
  registryUnavailable() ??
  testImagesUnavailable() ??
  (upstreamCniPlugins() === undefined ? "needs upstream's CNI plugins (Debian package containernetworking-plugins)" : undefined);

t.setTimeout(600_000);

/** A CRI log line: timestamp, stream, tag, text. */
const criLogLine = /^(\S+) (stdout|stderr) ([PF]) (.*)$/;

t.test("crictl's flow works against kubeplug serve cri through an independent client", { skip: skip ?? false }, async (t) => {
  const dir = tempDir(t, 'kp-crictl-');
  const registry = await startLoopbackRegistry({ dir: path.join(dir, 'registry') });
  t.teardown(() => registry.stop());
  const image: ProvisionedTestImage = (await provisionTestImages(registry.host)).images.busybox;
  let stop: (() => Promise<unknown>) | undefined;
  t.teardown(async () => {
    await stop?.();
  });
  const node: CriNode = await startProcessRuntimeNode({
    cniPlugins: upstreamCniPlugins() ?? {},
    networkConfig: bridgeNetworkConfig({ plugins: 'upstream', name: 'kp-crictl', bridge: 'kpcrictl0', subnet: '10.95.0.0/16' }),
    loopbackRegistries: [registry.host],
    registerStop: (registered) => (stop = registered),
  });
  const client: IndependentCriClient = openIndependentCriClient(node.endpoint);
  t.teardown(() => client.close());

  // crictl pull, crictl images
  const pulled = await client.image('PullImage', { image: { image: image.reference } });
  t.equal(pulled['image_ref'], image.id, 'pull answers the image ID');
  const listed = (await client.image('ListImages', {}))['images'] as Message[];
  t.ok(listed.some((entry) => entry['id'] === image.id && (entry['repo_tags'] as string[]).includes(image.reference)), 'images lists it with its tag');

  // crictl runp
  const logDirectory = path.join(node.dir, 'pod-logs');
  fs.mkdirSync(logDirectory, { recursive: true });
  const podConfig: Message = {
    metadata: { name: 'crictl-pod', uid: randomUUID(), namespace: 'kubeplug-crictl', attempt: 0 },
    hostname: 'crictl-pod',
    log_directory: logDirectory,
    linux: { cgroup_parent: node.cgroupParent, security_context: { namespace_options: { network: 'POD', pid: 'CONTAINER', ipc: 'POD' } } },
  };
  const podId = (await client.runtime('RunPodSandbox', { config: podConfig }))['pod_sandbox_id'] as string;
  t.match(podId, /^[0-9a-f]{64}$/, 'runp answers a sandbox ID');
  const pod = (await client.runtime('PodSandboxStatus', { pod_sandbox_id: podId }))['status'] as Message;
  t.equal(pod['state'], 'SANDBOX_READY', 'the pod is ready');
  t.match((pod['network'] as Message)['ip'], /^10\.95\./, 'with an IP from the range');

  // crictl create, crictl start
  const containerConfig: Message = {
    metadata: { name: 'crictl-ctr', attempt: 0 },
    image: { image: image.reference },
    command: ['sh', '-c', 'echo hello from crictl; trap "exit 0" TERM; while :; do sleep 1; done'],
    log_path: 'crictl-ctr.log',
    linux: { security_context: { namespace_options: { network: 'POD', pid: 'CONTAINER', ipc: 'POD' } } },
  };
  const containerId = (await client.runtime('CreateContainer', { pod_sandbox_id: podId, config: containerConfig, sandbox_config: podConfig }))['container_id'] as string;
  t.equal(((await client.runtime('ContainerStatus', { container_id: containerId }))['status'] as Message)['state'], 'CONTAINER_CREATED', 'create leaves it CREATED');
  await client.runtime('StartContainer', { container_id: containerId });
  t.equal(((await client.runtime('ContainerStatus', { container_id: containerId }))['status'] as Message)['state'], 'CONTAINER_RUNNING', 'start makes it RUNNING');

  // crictl exec -s
  const exec = await client.runtime('ExecSync', { container_id: containerId, cmd: ['cat', markerPath], timeout: 10 });
  t.equal(exec['exit_code'], 0, 'exec exits 0');
  t.equal(Buffer.from(exec['stdout'] as Uint8Array).toString(), image.marker, "exec runs in the image's rootfs");

  // crictl logs: the file at log_directory/log_path, in the CRI format
  const logFile = path.join(logDirectory, 'crictl-ctr.log');
  let lines: string[] = [];
  for (let waited = 0; waited < 5000 && lines.length === 0; waited += 100) {
    lines = fs.existsSync(logFile) ? fs.readFileSync(logFile, 'utf8').split('\n').filter(Boolean) : [];
    if (lines.length === 0) await new Promise((resolve) => setTimeout(resolve, 100));
  }
  const first = criLogLine.exec(lines[0] ?? '');
  t.ok(first, `the log line is in the CRI format: ${lines[0]}`);
  t.equal(first?.[2], 'stdout');
  t.equal(first?.[3], 'F');
  t.equal(first?.[4], 'hello from crictl');
  t.ok(!Number.isNaN(Date.parse(first?.[1] ?? '')), 'its timestamp parses');

  // crictl stop, crictl rm
  await client.runtime('StopContainer', { container_id: containerId, timeout: 10 });
  const stopped = (await client.runtime('ContainerStatus', { container_id: containerId }))['status'] as Message;
  t.match(stopped, { state: 'CONTAINER_EXITED', exit_code: 0, reason: 'Completed' }, 'stop ends it through its TERM trap');
  await client.runtime('RemoveContainer', { container_id: containerId });
  const containers = (await client.runtime('ListContainers', {}))['containers'] as Message[];
  t.notOk(containers.some((entry) => entry['id'] === containerId), 'rm removes it');

  // crictl stopp, crictl rmp
  await client.runtime('StopPodSandbox', { pod_sandbox_id: podId });
  await client.runtime('RemovePodSandbox', { pod_sandbox_id: podId });
  const pods = (await client.runtime('ListPodSandbox', {}))['items'] as Message[];
  t.notOk(pods.some((entry) => entry['id'] === podId), 'rmp removes the pod');

  // crictl rmi
  await client.image('RemoveImage', { image: { image: image.reference } });
  const status = await client.image('ImageStatus', { image: { image: image.reference } });
  t.equal(status['image'] ?? null, null, 'rmi removes the image');

  client.close();
  const failures = await stop?.();
  stop = undefined;
  t.same(failures, [], 'the node stops cleanly');
  t.same(node.leftovers(), { processes: [], mounts: [], cgroups: [], networkNamespace: false, folder: false }, 'nothing is left');
});
