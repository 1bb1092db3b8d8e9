import fs from 'node:fs';
import os from 'node:os';
import t from 'tap';
import { registryUnavailable } from '../../conformance/cri/test-images/loopback-registry.js';
import { testImagesUnavailable } from '../../conformance/cri/test-images/test-image.js';
import { ipv4InNetwork, parseIpv4Network } from '../../conformance/cni/simulated-cluster.js';
import { appPod, clusterPods, reachAcrossNodes, sharedPodIps, type PlacedPod } from '../../conformance/kubelet/cluster-app.js';
import { startKubeletCluster, type KubeletCluster } from '../../conformance/kubelet/kubelet-cluster.js';
import { kubeletNodeUnavailable } from '../../conformance/kubelet/kubelet-node.js';
import { httpGetOverSocket } from '../../conformance/kubelet/read-only-port.js';
import { loadKubeletRunSettings } from '../../conformance/kubelet/run-config.js';
import type { Pod } from '../../kubelet/api/pod-types.js';

// Three simulated nodes, each a process runtime and a reference kubelet in
// namespaces of its own with a pod range of its own, joined by an underlay:
// one pod per node, each with an IP from its node's range, unique in the
// cluster, reaching the others across nodes with its own IP as the source.

const skip = kubeletNodeUnavailable(loadKubeletRunSettings({})) ?? registryUnavailable() ?? testImagesUnavailable();
// Three nodes start on a shared 2-core machine: measured at about 40 s for the whole file, the margin is for load.
t.setTimeout(600_000);

const isReady = (pod: Pod): boolean => pod.status?.conditions?.some((condition) => condition.type === 'Ready' && condition.status === 'True') === true;

let cluster: KubeletCluster | undefined;
let stopCluster: (() => Promise<unknown>) | undefined;
t.teardown(async () => {
  await stopCluster?.();
});

const pods: PlacedPod[] = [];

t.test('three nodes start, each kubelet answering on its read-only socket from outside the namespaces', { skip, timeout: 300_000 }, async (t) => {
  cluster = await startKubeletCluster({ registerStop: (stop) => (stopCluster = stop) });
  t.same(
    cluster.nodes.map((node) => [node.name, node.podRange]),
    [
      ['node-a', '10.244.0.0/24'],
      ['node-b', '10.244.1.0/24'],
      ['node-c', '10.244.2.0/24'],
    ],
  );
  for (const node of cluster.nodes) {
    t.same(await httpGetOverSocket(node.readOnlySocket, '/healthz'), { status: 200, body: 'ok' }, `${node.name} /healthz over ${node.readOnlySocket}`);
    t.not(fs.readlinkSync(`/proc/${node.kubelet.node.kubeletPid()}/ns/net`), fs.readlinkSync('/proc/self/ns/net'), `${node.name}'s kubelet is not in the machine's network namespace`);
  }
  const namespaces = new Set(cluster.nodes.map((node) => fs.readlinkSync(`/proc/${node.kubelet.node.kubeletPid()}/ns/net`)));
  t.equal(namespaces.size, 3, 'each kubelet in a network namespace of its own');
});

t.test('one pod per node gets an IP from its node range, unique in the cluster', { skip, timeout: 240_000 }, async (t) => {
  if (cluster === undefined) return t.fail('the cluster did not start');
  const running = cluster;
  await Promise.all(
    running.nodes.map((node, index) => node.kubelet.writeManifest(`web-${index}.json`, appPod({ name: `web-${index}`, image: running.images.busybox, labels: { app: 'web' } }))),
  );
  const ready = await Promise.all(running.nodes.map((node, index) => node.kubelet.waitForPod(`web-${index}`, isReady, 180_000, 'Ready')));
  ready.forEach((pod, index) => {
    const node = running.nodes[index];
    if (node === undefined) return;
    const ip = pod.status?.podIP ?? '';
    t.ok(ipv4InNetwork(ip, parseIpv4Network(node.podRange) ?? { base: 0, prefix: 32 }), `${node.name}/web-${index} has ${ip}, in ${node.podRange}`);
    pods.push({ node, name: `web-${index}`, ip });
  });
  t.same(sharedPodIps(await clusterPods(running)), [], 'no IP is held by two pods');
  t.equal(new Set(pods.map((pod) => pod.ip)).size, 3);
});

t.test('every pod reaches the pods on the other nodes, which see its own pod IP as the source', { skip, timeout: 120_000 }, async (t) => {
  if (pods.length !== 3) return t.fail('the pods did not start');
  const outcomes = await reachAcrossNodes(pods);
  t.equal(outcomes.length, 6, 'six directed pairs');
  for (const outcome of outcomes) t.ok(outcome.ok, outcome.path, outcome);
});

t.test('stopping the cluster leaves no process, mount, cgroup, namespace or folder behind', { skip, timeout: 180_000 }, async (t) => {
  if (cluster === undefined) return t.fail('the cluster did not start');
  t.same(await cluster.stop(), []);
  const left = cluster.leftovers();
  t.same(left, {
    nodes: Object.fromEntries(cluster.nodes.map((node) => [node.name, { processes: [], mounts: [], cgroups: [], networkNamespace: false, folder: false }])),
    underlayNamespace: false,
    folder: false,
    processes: [],
  });
});

t.test('a cluster whose kubelets do not start is stopped whole and its start rejects', { skip, timeout: 180_000 }, async (t) => {
  const folders = (): string[] => fs.readdirSync(os.tmpdir()).filter((name) => name.startsWith('kp-cluster-'));
  const before = folders();
  let stop: (() => Promise<unknown>) | undefined;
  t.teardown(async () => {
    await stop?.();
  });
  const settings = loadKubeletRunSettings({ kubeletCmd: 'false {manifests} {cri} {port}' });
  await t.rejects(startKubeletCluster({ settings, startTimeoutMs: 20_000, registerStop: (registered) => (stop = registered) }), /did not answer \/healthz/);
  t.same(await stop?.(), [], 'the stop the caller holds reports the cleanup done, without failures');
  t.same(folders().filter((name) => !before.includes(name)), [], "no cluster folder left (the registry's storage and the sockets lived there)");
});
