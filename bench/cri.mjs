#!/usr/bin/env node
// CRI pod lifecycle, driven over the unix socket as the kubelet would:
// RunPodSandbox -> PullImage (cached) -> CreateContainer -> StartContainer
// -> StopContainer -> RemoveContainer -> StopPodSandbox -> RemovePodSandbox
// (median, p99), ExecSync of `true` (median, p99), and the runtime's
// resident memory with 100 pods running. kubeplug's process runtime
// (`kubeplug serve cri`) and Debian's containerd 1.6 + runc run as isolated
// nodes (conformance/peers: own network and mount namespaces, temp root),
// with the same CNI plugins and the same images from a registry on loopback,
// measured in the same run, call by call interleaved; ratios ours/containerd
// are printed against the targets. `--peer-endpoint unix:///…` measures a
// running peer instead of starting containerd (`--peer-pid` for its memory).
// `--oci-runtime crun` runs ours on crun (containerd stays on runc). Needs
// root and a build (`npm run bench -- cri` builds first).
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { randomUUID } from 'node:crypto';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const dist = (file) => import(path.join(root, 'dist', file));
const [cri, peers, registryModule, imagesModule, scan] = await Promise.all([
  dist('specs/cri/index.js'),
  dist('conformance/peers/index.js'),
  dist('conformance/cri/test-images/loopback-registry.js'),
  dist('conformance/cri/test-images/provision-test-images.js'),
  dist('conformance/peers/system-scan.js'),
]);

const args = process.argv.slice(2);
const peerEndpoint = valueOf('--peer-endpoint');
const peerPid = valueOf('--peer-pid') === undefined ? undefined : Number(valueOf('--peer-pid'));
const iterations = Number(valueOf('--iterations') ?? process.env.BENCH_RUNS ?? 30);
const warmup = Number(valueOf('--warmup') ?? 3);
const execRuns = Number(valueOf('--exec-iterations') ?? iterations * 3);
const podCount = Number(valueOf('--pods') ?? 100);
const ociRuntime = valueOf('--oci-runtime');
const cniChoice = valueOf('--cni') ?? (peers.upstreamCniPlugins() === undefined ? 'kubeplug' : 'upstream');
const targets = { cycle: 0.5, exec: 1.0 };

function valueOf(flag) {
  const index = args.indexOf(flag);
  if (index >= 0) return args[index + 1];
  const joined = args.find((arg) => arg.startsWith(`${flag}=`));
  return joined?.slice(flag.length + 1);
}

if (process.getuid?.() !== 0) {
  console.error('the CRI benchmark needs root (namespaces, mounts, cgroups)');
  process.exit(2);
}
for (const [flag, value, minimum] of [['--iterations', iterations, 1], ['--warmup', warmup, 0], ['--exec-iterations', execRuns, 1], ['--pods', podCount, 0]]) {
  if (!Number.isSafeInteger(value) || value < minimum) {
    console.error(`${flag} must be a whole number ≥ ${minimum}`);
    process.exit(2);
  }
}
if (ociRuntime !== undefined && ociRuntime !== 'runc' && ociRuntime !== 'crun') {
  console.error('--oci-runtime (ours only; containerd always runs runc) is runc or crun');
  process.exit(2);
}
if (cniChoice !== 'kubeplug' && cniChoice !== 'upstream') {
  console.error('--cni is kubeplug or upstream');
  process.exit(2);
}

const quantile = (values, q) => {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))];
};
const ms = (value) => (value === undefined ? 'n/a' : `${value.toFixed(1)} ms`);
const mib = (kib) => `${(kib / 1024).toFixed(1)} MiB`;
const deadline = (seconds) => ({ deadline: new Date(Date.now() + seconds * 1000) });
const call = (client, method, request, seconds = 60) => cri.callUnary(client, method, request, deadline(seconds));

// What the kubelet asks for a pod without shareProcessNamespace: one PID namespace per container, network and IPC shared.
const kubeletNamespaces = { network: cri.NamespaceMode.POD, pid: cri.NamespaceMode.CONTAINER, ipc: cri.NamespaceMode.POD };

const steps = ['runPodSandbox', 'pullImage', 'createContainer', 'startContainer', 'stopContainer', 'removeContainer', 'stopPodSandbox', 'removePodSandbox'];

/** What one measured runtime needs: its clients, a cgroup parent, and where its numbers go. */
function subjectFor(label, clients, cgroupParent, memory) {
  return { label, ...clients, cgroupParent, memory, cycle: [], perStep: Object.fromEntries(steps.map((step) => [step, []])), exec: [], pods: 0 };
}

function podConfig(subject, name) {
  subject.pods += 1;
  return cri.PodSandboxConfig.fromPartial({
    metadata: { name: `${name}-${subject.pods}`, uid: randomUUID(), namespace: 'kubeplug-bench', attempt: 0 },
    hostname: `${name}-${subject.pods}`.slice(0, 63),
    linux: { cgroupParent: subject.cgroupParent, securityContext: { namespaceOptions: kubeletNamespaces } },
  });
}

function containerConfig(image) {
  return cri.ContainerConfig.fromPartial({
    metadata: { name: 'bench', attempt: 0 },
    image: { image },
    command: [...peers.sleepUntilTermCommand],
    linux: { securityContext: { namespaceOptions: kubeletNamespaces } },
  });
}

/** One whole pod lifecycle; records each step and the total in ms. */
async function cycle(subject, image, record) {
  const { runtime, images } = subject;
  const times = {};
  const timed = async (step, run) => {
    const started = performance.now();
    const result = await run().catch((error) => {
      throw new Error(`${subject.label}: ${step} failed: ${error?.message ?? error}`);
    });
    times[step] = performance.now() - started;
    return result;
  };
  const config = podConfig(subject, 'cycle');
  const started = performance.now();
  const { podSandboxId } = await timed('runPodSandbox', () => call(runtime, runtime.runPodSandbox, { config, runtimeHandler: '' }));
  await timed('pullImage', () => call(images, images.pullImage, { image: cri.ImageSpec.fromPartial({ image }), sandboxConfig: config }));
  const { containerId } = await timed('createContainer', () => call(runtime, runtime.createContainer, { podSandboxId, config: containerConfig(image), sandboxConfig: config }));
  await timed('startContainer', () => call(runtime, runtime.startContainer, { containerId }));
  await timed('stopContainer', () => call(runtime, runtime.stopContainer, { containerId, timeout: 10n }));
  await timed('removeContainer', () => call(runtime, runtime.removeContainer, { containerId }));
  await timed('stopPodSandbox', () => call(runtime, runtime.stopPodSandbox, { podSandboxId }));
  await timed('removePodSandbox', () => call(runtime, runtime.removePodSandbox, { podSandboxId }));
  const total = performance.now() - started;
  if (record) {
    subject.cycle.push(total);
    for (const step of steps) subject.perStep[step].push(times[step]);
  }
}

/** Runs a pod with one sleeping container; returns what removes it. */
async function runPod(subject, image, name) {
  const { runtime } = subject;
  const config = podConfig(subject, name);
  const { podSandboxId } = await call(runtime, runtime.runPodSandbox, { config, runtimeHandler: '' });
  const remove = async () => {
    await call(runtime, runtime.stopPodSandbox, { podSandboxId }).catch(() => undefined);
    await call(runtime, runtime.removePodSandbox, { podSandboxId }).catch(() => undefined);
  };
  try {
    const { containerId } = await call(runtime, runtime.createContainer, { podSandboxId, config: containerConfig(image), sandboxConfig: config });
    await call(runtime, runtime.startContainer, { containerId });
    return { containerId, remove };
  } catch (error) {
    await remove();
    throw error;
  }
}

/** Runs `work` over `items` with at most `width` in flight. */
async function inParallel(items, width, work) {
  const results = [];
  let next = 0;
  await Promise.all(
    Array.from({ length: Math.min(width, items.length) }, async () => {
      while (next < items.length) {
        const index = next++;
        results[index] = await work(items[index]);
      }
    }),
  );
  return results;
}

const cpu = os.cpus()[0]?.model ?? 'unknown cpu';
console.log(
  `node ${process.version}, ${os.cpus().length} cores (${cpu}), kernel ${os.release()}, ${iterations} cycles after ${warmup} warm-up, ${execRuns} ExecSync, ${podCount} pods for memory, ` +
    `CNI ${cniChoice} bridge + host-local, ours on ${ociRuntime ?? 'runc'}, containerd on runc, NODE_EXTRA_CA_CERTS ${process.env.NODE_EXTRA_CA_CERTS ? 'set' : 'unset'}`,
);

const scratch = fs.mkdtempSync(path.join(os.tmpdir(), 'kp-cri-bench-'));
const stops = [];
const subjects = [];
let exitCode = 0;
try {
  const registry = await registryModule.startLoopbackRegistry({ dir: path.join(scratch, 'registry') });
  stops.push(() => registry.stop());
  const testImages = await imagesModule.provisionTestImages(registry.host);
  const image = testImages.images.busybox.reference;
  const sandboxImage = await peers.pushPauseImage(registry.host);
  const nodeOptions = {
    cniPlugins: cniChoice === 'upstream' ? peers.upstreamCniPlugins() : peers.kubeplugCniPlugins(),
    networkConfig: peers.bridgeNetworkConfig({ plugins: cniChoice, name: 'kp-bench', bridge: 'kpbench0', subnet: '10.90.0.0/16' }),
    loopbackRegistries: [registry.host],
  };
  const startNode = async (label, start) => {
    let stop;
    try {
      const node = await start({ ...nodeOptions, registerStop: (registered) => stops.push((stop = registered)) });
      console.log(`${label}: ${node.version.runtimeName} ${node.version.runtimeVersion} (pid ${node.pid}, ${node.dir})`);
      return node;
    } catch (error) {
      console.log(`${label}: not measured, it did not start: ${String(error?.message ?? error).split('\n').slice(0, 12).join('\n  ')}`);
      return undefined;
    }
  };

  const oursUnavailable = peers.processRuntimeNodeUnavailable();
  const ours = oursUnavailable === undefined ? await startNode('ours', (options) => peers.startProcessRuntimeNode({ ...options, ...(ociRuntime === undefined ? {} : { ociRuntime }) })) : (console.log(`ours: not measured, ${oursUnavailable}`), undefined);
  if (ours !== undefined) subjects.push(subjectFor('kubeplug process runtime', ours, ours.cgroupParent, () => ours.memory()));

  if (peerEndpoint !== undefined) {
    const clients = { runtime: cri.createClient(cri.RuntimeServiceClient, peerEndpoint), images: cri.createClient(cri.ImageServiceClient, peerEndpoint) };
    stops.push(() => (clients.runtime.close(), clients.images.close()));
    await cri.waitForConnection(clients.runtime, peerEndpoint, 10_000);
    const version = await call(clients.runtime, clients.runtime.version, { version: 'v1' });
    console.log(`peer: ${version.runtimeName} ${version.runtimeVersion} at ${peerEndpoint}${peerPid === undefined ? ' (no --peer-pid: memory not measured)' : ` (pid ${peerPid})`}`);
    const memory = peerPid === undefined ? undefined : () => ({ runtimeKib: scan.residentKib(peerPid), shimsKib: Number.NaN, shimCount: Number.NaN });
    subjects.push(subjectFor(`peer ${version.runtimeName}`, clients, '', memory));
  } else {
    const unavailable = peers.containerdNodeUnavailable();
    const containerd = unavailable === undefined ? await startNode('peer', (options) => peers.startContainerdNode({ ...options, sandboxImage })) : (console.log(`peer: containerd not measured, ${unavailable}`), undefined);
    if (containerd !== undefined) subjects.push(subjectFor('containerd + runc', containerd, containerd.cgroupParent, () => containerd.memory()));
  }
  if (subjects.length === 0) throw new Error('no runtime to measure');

  // Warm-up: the first pull of the image and of the sandbox image, first CNI ADD, page cache.
  for (const subject of subjects) {
    await call(subject.images, subject.images.pullImage, { image: cri.ImageSpec.fromPartial({ image }), sandboxConfig: undefined });
    for (let run = 0; run < warmup; run += 1) await cycle(subject, image, false);
  }
  // Interleaved run by run, so a machine that speeds up or slows down moves every subject alike.
  for (let run = 0; run < iterations; run += 1) {
    for (const subject of subjects) await cycle(subject, image, true);
  }

  for (const subject of subjects) {
    const pod = await runPod(subject, image, 'exec');
    subject.execPod = pod;
    for (let run = 0; run < 3; run += 1) await call(subject.runtime, subject.runtime.execSync, { containerId: pod.containerId, cmd: ['true'], timeout: 10n });
  }
  for (let run = 0; run < execRuns; run += 1) {
    for (const subject of subjects) {
      const started = performance.now();
      const result = await call(subject.runtime, subject.runtime.execSync, { containerId: subject.execPod.containerId, cmd: ['true'], timeout: 10n });
      subject.exec.push(performance.now() - started);
      if (result.exitCode !== 0) throw new Error(`${subject.label}: ExecSync true exited ${result.exitCode}`);
    }
  }
  for (const subject of subjects) await subject.execPod.remove();

  // Memory with podCount pods (one sleeping container each) running; one subject at a time, so they never share the machine's memory pressure.
  for (const subject of subjects) {
    if (podCount === 0 || subject.memory === undefined) continue;
    const started = performance.now();
    const pods = await inParallel(Array.from({ length: podCount }, (_, index) => index), 4, () => runPod(subject, image, 'mem'));
    subject.podsSeconds = (performance.now() - started) / 1000;
    await new Promise((resolve) => setTimeout(resolve, 2000));
    subject.rss = subject.memory();
    await inParallel(pods, 4, (pod) => pod.remove());
  }

  console.log('what is measured: wall time of each CRI call as the client sees it; memory is VmRSS of the runtime process alone (containerd itself; the node process serving CRI for ours), shims shown beside it, pod processes not counted');
  for (const subject of subjects) {
    const stepMedians = steps.map((step) => `${step} ${quantile(subject.perStep[step], 0.5).toFixed(1)}`).join(', ');
    const rss = subject.rss === undefined ? 'memory not measured' : `with ${podCount} pods: runtime ${mib(subject.rss.runtimeKib)}, ${Number.isNaN(subject.rss.shimCount) ? 'shims not measured' : `${subject.rss.shimCount} shims ${mib(subject.rss.shimsKib)}`} (${podCount} pods started in ${subject.podsSeconds.toFixed(1)} s)`;
    console.log(
      `${subject.label}: cycle median ${ms(quantile(subject.cycle, 0.5))}, p99 ${ms(quantile(subject.cycle, 0.99))}; ExecSync median ${ms(quantile(subject.exec, 0.5))}, p99 ${ms(quantile(subject.exec, 0.99))}; ${rss}\n  step medians (ms): ${stepMedians}`,
    );
  }
  if (subjects.length === 2 && ours !== undefined) {
    const [mine, peer] = subjects;
    const ratio = (a, b) => a / b;
    const cycleRatio = ratio(quantile(mine.cycle, 0.5), quantile(peer.cycle, 0.5));
    const execRatio = ratio(quantile(mine.exec, 0.5), quantile(peer.exec, 0.5));
    const verdict = (value, target) => `${value.toFixed(2)}x (target ≤ ${target.toFixed(1)}x: ${value <= target ? 'met' : 'NOT met'})`;
    console.log(
      `ratio ours/peer: cycle median ${verdict(cycleRatio, targets.cycle)}, p99 ${ratio(quantile(mine.cycle, 0.99), quantile(peer.cycle, 0.99)).toFixed(2)}x; ` +
        `ExecSync median ${verdict(execRatio, targets.exec)}, p99 ${ratio(quantile(mine.exec, 0.99), quantile(peer.exec, 0.99)).toFixed(2)}x` +
        (mine.rss !== undefined && peer.rss !== undefined ? `; runtime memory with ${podCount} pods ${ratio(mine.rss.runtimeKib, peer.rss.runtimeKib).toFixed(2)}x, with shims ${ratio(mine.rss.runtimeKib + mine.rss.shimsKib, peer.rss.runtimeKib + peer.rss.shimsKib).toFixed(2)}x (no target)` : ''),
    );
  } else {
    console.log('only one runtime measured: no ratios');
  }
} catch (error) {
  console.error(`the CRI benchmark failed: ${error?.message ?? error}`);
  exitCode = 1;
} finally {
  for (const stop of stops.reverse()) {
    const failures = await Promise.resolve().then(stop).catch((error) => [{ label: 'stop', message: String(error) }]);
    if (Array.isArray(failures) && failures.length > 0) console.log(`cleanup failed: ${JSON.stringify(failures)}`);
  }
  fs.rmSync(scratch, { recursive: true, force: true });
}
process.exit(exitCode);
