import { randomUUID } from 'node:crypto';
import type { Test } from 'tap';
import { registryUnavailable, startLoopbackRegistry } from '../../conformance/cri/test-images/loopback-registry.js';
import { provisionTestImages, type ProvisionedTestImage } from '../../conformance/cri/test-images/provision-test-images.js';
import { markerPath, testImagesUnavailable } from '../../conformance/cri/test-images/test-image.js';
import { bridgeNetworkConfig, pushPauseImage, sleepUntilTermCommand, upstreamCniPlugins, type CriNode, type CriNodeOptions } from '../../conformance/peers/index.js';
import { ContainerConfig, ContainerState, ImageSpec, NamespaceMode, PodSandboxConfig, PodSandboxState, callUnary } from '../../specs/cri/index.js';
import { tempDir } from '../helpers/temp-dir.js';

// One flow both node kinds go through (conformance/peers): Version, a pull
// from the loopback registry through the relay, a pod and a container that
// runs, answers ExecSync and stops, the pod's removal, and a stop that
// leaves nothing of the node behind.

/** What the kubelet asks for a pod without shareProcessNamespace: one PID namespace per container, network and IPC shared. */
const kubeletNamespaces = { network: NamespaceMode.POD, pid: NamespaceMode.CONTAINER, ipc: NamespaceMode.POD };

const inSeconds = (seconds: number): { deadline: Date } => ({ deadline: new Date(Date.now() + seconds * 1000) });

/** Why the flow cannot run here (besides the node kind's own reasons), or undefined. */
export function criNodeFlowUnavailable(): string | undefined {
  return (
    registryUnavailable() ??
    testImagesUnavailable() ??
    (upstreamCniPlugins() === undefined ? "needs upstream's bridge and host-local CNI plugins (Debian package containernetworking-plugins)" : undefined)
  );
}

/** How the flow starts a node and what it expects the node to say about itself. */
export interface CriNodeFlow {
  /** Starts the node with the options given (registry relay, CNI, stop registration) and the pause image reference. */
  readonly start: (options: CriNodeOptions, pauseImage: string) => Promise<CriNode>;
  readonly runtimeName: string;
  readonly runtimeVersion: RegExp;
}

/** Declares the flow's tests on `t`; each needs the ones before it. */
export function declareCriNodeFlow(t: Test, flow: CriNodeFlow): void {
  let node: CriNode | undefined;
  let busybox: ProvisionedTestImage | undefined;
  let sandboxId: string | undefined;
  let sandboxConfig: PodSandboxConfig | undefined;
  const required = <T>(value: T | undefined, what: string): T => {
    if (value === undefined) throw new Error(`no ${what}: an earlier step failed`);
    return value;
  };

  t.before(async () => {
    const registry = await startLoopbackRegistry({ dir: tempDir(t, 'kp-reg-') });
    t.teardown(() => registry.stop());
    busybox = (await provisionTestImages(registry.host)).images.busybox;
    const pauseImage = await pushPauseImage(registry.host);
    let stop: (() => Promise<unknown>) | undefined;
    t.teardown(async () => {
      const failures = await stop?.();
      if (Array.isArray(failures) && failures.length > 0) t.comment(`node cleanup failed: ${JSON.stringify(failures)}`);
      if (!t.passing() && node !== undefined) t.comment(`runtime log (last lines):\n${node.logTail()}`);
    });
    node = await flow.start(
      {
        cniPlugins: upstreamCniPlugins() ?? {},
        networkConfig: bridgeNetworkConfig({ plugins: 'upstream', name: 'kp-flow', bridge: 'kpflow0', subnet: '10.89.0.0/16' }),
        loopbackRegistries: [registry.host],
        registerStop: (registered) => (stop = registered),
      },
      pauseImage,
    );
  });

  t.test('the runtime answers Version with its name and CRI v1', async (t) => {
    const { version } = required(node, 'node');
    t.equal(version.runtimeName, flow.runtimeName, 'runtimeName');
    t.equal(version.runtimeApiVersion, 'v1', 'runtimeApiVersion');
    t.match(version.runtimeVersion, flow.runtimeVersion, `runtimeVersion ${version.runtimeVersion}`);
  });

  t.test('PullImage fetches a test image from the loopback registry through the relay', async (t) => {
    const { images } = required(node, 'node');
    const image = required(busybox, 'test image');
    const pulled = await callUnary(images, images.pullImage, { image: ImageSpec.fromPartial({ image: image.reference }), sandboxConfig: undefined }, inSeconds(60));
    t.equal(pulled.imageRef, image.id, 'the image ref is the config digest the suite computed');
    const status = await callUnary(images, images.imageStatus, { image: ImageSpec.fromPartial({ image: image.reference }), verbose: false }, inSeconds(10));
    t.ok(status.image?.repoTags.includes(image.reference), `ImageStatus lists ${image.reference} among the repo tags`);
  });

  t.test('RunPodSandbox makes a ready sandbox with a pod IP from the range', async (t) => {
    const current = required(node, 'node');
    const { runtime } = current;
    sandboxConfig = PodSandboxConfig.fromPartial({
      metadata: { name: 'kp-flow-pod', uid: randomUUID(), namespace: 'kubeplug-interop', attempt: 0 },
      hostname: 'kp-flow-pod',
      linux: { cgroupParent: current.cgroupParent, securityContext: { namespaceOptions: kubeletNamespaces } },
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

  t.test('a container from the test image starts, answers ExecSync and stops with exit code 0', async (t) => {
    const { runtime } = required(node, 'node');
    const podSandboxId = required(sandboxId, 'sandbox');
    const image = required(busybox, 'test image');
    const config = ContainerConfig.fromPartial({ metadata: { name: 'sleeper', attempt: 0 }, image: { image: image.reference }, command: [...sleepUntilTermCommand], linux: { securityContext: { namespaceOptions: kubeletNamespaces } } });
    const { containerId } = await callUnary(runtime, runtime.createContainer, { podSandboxId, config, sandboxConfig: required(sandboxConfig, 'sandbox config') }, inSeconds(60));
    await callUnary(runtime, runtime.startContainer, { containerId }, inSeconds(30));
    const running = await callUnary(runtime, runtime.containerStatus, { containerId, verbose: false }, inSeconds(10));
    t.equal(running.status?.state, ContainerState.CONTAINER_RUNNING, 'the container is running');
    const exec = await callUnary(runtime, runtime.execSync, { containerId, cmd: ['cat', markerPath], timeout: 10n }, inSeconds(20));
    t.equal(exec.exitCode, 0, 'ExecSync exits 0');
    t.equal(exec.stdout.toString(), image.marker, "the container's rootfs is the test image's");
    await callUnary(runtime, runtime.stopContainer, { containerId, timeout: 10n }, inSeconds(30));
    const stopped = await callUnary(runtime, runtime.containerStatus, { containerId, verbose: false }, inSeconds(10));
    t.equal(stopped.status?.state, ContainerState.CONTAINER_EXITED, 'the container exited');
    t.equal(stopped.status?.exitCode, 0, 'with exit code 0 (the trap ran on SIGTERM)');
    t.equal(stopped.status?.reason, 'Completed', 'reason Completed');
    await callUnary(runtime, runtime.removeContainer, { containerId }, inSeconds(30));
  });

  t.test('StopPodSandbox and RemovePodSandbox remove the pod: its status is NOT_FOUND afterwards', async (t) => {
    const { runtime } = required(node, 'node');
    const podSandboxId = required(sandboxId, 'sandbox');
    await callUnary(runtime, runtime.stopPodSandbox, { podSandboxId }, inSeconds(60));
    await callUnary(runtime, runtime.removePodSandbox, { podSandboxId }, inSeconds(60));
    sandboxId = undefined;
    await t.rejects(callUnary(runtime, runtime.podSandboxStatus, { podSandboxId, verbose: false }, inSeconds(10)), { code: 'NOT_FOUND' }, 'PodSandboxStatus fails with NOT_FOUND');
  });

  t.test('stopping the node leaves no process, mount, cgroup, namespace or folder behind', async (t) => {
    const current = required(node, 'node');
    t.same(await current.stop(), [], 'every cleanup step succeeded');
    t.same(current.leftovers(), { processes: [], mounts: [], cgroups: [], networkNamespace: false, folder: false }, 'nothing of the node is left');
  });
}
