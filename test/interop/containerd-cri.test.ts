import { randomUUID } from 'node:crypto';
import t from 'tap';
import { bridgeNetworkConfig, pushPauseImage, sleepUntilTermCommand, upstreamCniPlugins } from '../../conformance/peers/index.js';
import { registryUnavailable, startLoopbackRegistry, type LoopbackRegistry } from '../../conformance/cri/test-images/loopback-registry.js';
import { provisionTestImages, type TestImageSet } from '../../conformance/cri/test-images/provision-test-images.js';
import { markerPath, testImagesUnavailable } from '../../conformance/cri/test-images/test-image.js';
import { ContainerConfig, ContainerState, ImageSpec, PodSandboxConfig, PodSandboxState, callUnary } from '../../specs/cri/index.js';
import { containerdNodeUnavailable, startContainerdNode, type ContainerdNode } from '../helpers/containerd-node.js';
import { tempDir } from '../helpers/temp-dir.js';

// containerd 1.6 as a CRI peer: the node conformance/peers starts answers
// Version, pulls the suite's test images from a registry on the machine's
// loopback (relayed into the node's network namespace), pulls its sandbox
// image from there too, runs a pod and a container, and leaves nothing behind.

const upstreamCni = upstreamCniPlugins();
const skip =
  containerdNodeUnavailable() ??
  registryUnavailable() ??
  testImagesUnavailable() ??
  (upstreamCni === undefined ? "needs upstream's bridge and host-local CNI plugins (Debian package containernetworking-plugins)" : undefined);

const inSeconds = (seconds: number): { deadline: Date } => ({ deadline: new Date(Date.now() + seconds * 1000) });

let node: ContainerdNode | undefined;
let registry: LoopbackRegistry | undefined;
let testImages: TestImageSet | undefined;
let sandboxId: string | undefined;
let containerId: string | undefined;
let sandboxConfig: PodSandboxConfig | undefined;

function requireNode(): ContainerdNode {
  if (node === undefined) throw new Error('no containerd node: its start-up failed above');
  return node;
}

function required<T>(value: T | undefined, what: string): T {
  if (value === undefined) throw new Error(`no ${what}: an earlier step failed`);
  return value;
}

if (skip === undefined) {
  t.before(async () => {
    const started = await startLoopbackRegistry({ dir: tempDir(t, 'kp-reg-') });
    t.teardown(() => started.stop());
    registry = started;
    testImages = await provisionTestImages(started.host);
    const sandboxImage = await pushPauseImage(started.host);
    node = await startContainerdNode(t, {
      cniPlugins: upstreamCni ?? {},
      networkConfig: bridgeNetworkConfig({ plugins: 'upstream', name: 'kp-ctd-cri', bridge: 'kpcri0', subnet: '10.89.0.0/16' }),
      loopbackRegistries: [started.host],
      sandboxImage,
    });
  });
}

t.test('containerd answers Version with its name and CRI v1', { skip: skip ?? false }, async (t) => {
  const { version } = requireNode();
  t.equal(version.runtimeName, 'containerd', 'runtimeName');
  t.equal(version.runtimeApiVersion, 'v1', 'runtimeApiVersion');
  t.match(version.runtimeVersion, /^1\.6\./, `runtimeVersion ${version.runtimeVersion} is 1.6.x`);
});

t.test('PullImage fetches a test image from the loopback registry through the relay', { skip: skip ?? false }, async (t) => {
  const { images } = requireNode();
  const busybox = required(testImages, 'test images').images.busybox;
  const pulled = await callUnary(images, images.pullImage, { image: ImageSpec.fromPartial({ image: busybox.reference }), sandboxConfig: undefined }, inSeconds(60));
  t.equal(pulled.imageRef, busybox.id, 'the image ref is the config digest the suite computed');
  const status = await callUnary(images, images.imageStatus, { image: ImageSpec.fromPartial({ image: busybox.reference }), verbose: false }, inSeconds(10));
  t.ok(status.image?.repoTags.includes(busybox.reference), `ImageStatus lists ${busybox.reference} among the repo tags`);
});

t.test('RunPodSandbox pulls the pause image from the registry and the sandbox is ready with a pod IP', { skip: skip ?? false }, async (t) => {
  const current = requireNode();
  const { runtime } = current;
  sandboxConfig = PodSandboxConfig.fromPartial({
    metadata: { name: 'kp-ctd-cri-pod', uid: randomUUID(), namespace: 'kubeplug-interop', attempt: 0 },
    hostname: 'kp-ctd-cri-pod',
    linux: { cgroupParent: current.cgroupParent },
  });
  current.defer(async () => {
    if (sandboxId === undefined) return;
    await callUnary(runtime, runtime.stopPodSandbox, { podSandboxId: sandboxId }, inSeconds(30)).catch(() => undefined);
    await callUnary(runtime, runtime.removePodSandbox, { podSandboxId: sandboxId }, inSeconds(30)).catch(() => undefined);
  }, 'remove the pod sandbox');
  ({ podSandboxId: sandboxId } = await callUnary(runtime, runtime.runPodSandbox, { config: sandboxConfig, runtimeHandler: '' }, inSeconds(60)));
  const status = await callUnary(runtime, runtime.podSandboxStatus, { podSandboxId: sandboxId, verbose: false }, inSeconds(10));
  t.equal(status.status?.state, PodSandboxState.SANDBOX_READY, 'the sandbox is ready');
  t.match(status.status?.network?.ip ?? '', /^10\.89\./, `the pod IP ${status.status?.network?.ip} is in the node's range`);
});

t.test('a container from the test image starts, runs, answers ExecSync and stops with exit code 0', { skip: skip ?? false }, async (t) => {
  const { runtime } = requireNode();
  const podSandboxId = required(sandboxId, 'sandbox');
  const busybox = required(testImages, 'test images').images.busybox;
  const config = ContainerConfig.fromPartial({
    metadata: { name: 'sleeper', attempt: 0 },
    image: { image: busybox.reference },
    command: [...sleepUntilTermCommand],
  });
  ({ containerId } = await callUnary(runtime, runtime.createContainer, { podSandboxId, config, sandboxConfig: required(sandboxConfig, 'sandbox config') }, inSeconds(60)));
  await callUnary(runtime, runtime.startContainer, { containerId }, inSeconds(30));
  const running = await callUnary(runtime, runtime.containerStatus, { containerId, verbose: false }, inSeconds(10));
  t.equal(running.status?.state, ContainerState.CONTAINER_RUNNING, 'the container is running');
  const exec = await callUnary(runtime, runtime.execSync, { containerId, cmd: ['cat', markerPath], timeout: 10n }, inSeconds(20));
  t.equal(exec.exitCode, 0, 'ExecSync exits 0');
  t.equal(exec.stdout.toString(), busybox.marker, "the container's rootfs is the test image's");
  await callUnary(runtime, runtime.stopContainer, { containerId, timeout: 10n }, inSeconds(30));
  const stopped = await callUnary(runtime, runtime.containerStatus, { containerId, verbose: false }, inSeconds(10));
  t.equal(stopped.status?.state, ContainerState.CONTAINER_EXITED, 'the container exited');
  t.equal(stopped.status?.exitCode, 0, 'with exit code 0 (the trap ran on SIGTERM)');
  t.equal(stopped.status?.reason, 'Completed', 'reason Completed');
  await callUnary(runtime, runtime.removeContainer, { containerId }, inSeconds(30));
});

t.test('StopPodSandbox and RemovePodSandbox remove the pod: its status is NOT_FOUND afterwards', { skip: skip ?? false }, async (t) => {
  const { runtime } = requireNode();
  const podSandboxId = required(sandboxId, 'sandbox');
  await callUnary(runtime, runtime.stopPodSandbox, { podSandboxId }, inSeconds(60));
  await callUnary(runtime, runtime.removePodSandbox, { podSandboxId }, inSeconds(60));
  sandboxId = undefined;
  await t.rejects(callUnary(runtime, runtime.podSandboxStatus, { podSandboxId, verbose: false }, inSeconds(10)), { code: 'NOT_FOUND' }, 'PodSandboxStatus fails with NOT_FOUND');
});

t.test('stopping the node leaves no process, mount, cgroup, namespace or folder behind', { skip: skip ?? false }, async (t) => {
  const current = requireNode();
  t.same(await current.stop(), [], 'every cleanup step succeeded');
  t.same(current.leftovers(), { processes: [], mounts: [], cgroups: [], networkNamespace: false, folder: false }, 'nothing of the node is left');
  t.ok(required(registry, 'registry').pid > 0, 'the registry (stopped in teardown) served the whole run');
});
