import fs from 'node:fs';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import t from 'tap';
import type { KubeletEvent, Pod, PodList } from '../../kubelet/api/pod-types.js';
import { kubeletNodeUnavailable, startKubeletNode, type KubeletNode } from '../../conformance/kubelet/kubelet-node.js';
import { loadKubeletRunSettings } from '../../conformance/kubelet/run-config.js';
import { registryUnavailable } from '../../conformance/cri/test-images/index.js';
import { callUnary } from '../../specs/cri/index.js';

// End to end: `kubeplug kubelet` (dist) in a process-runtime node's network
// and mount namespaces, started by the kubelet suite's harness, which reaches
// the read-only port through a unix-socket relay into the node's namespace.

const settings = loadKubeletRunSettings({ maxRestartPeriodSeconds: 10 });
const skip = kubeletNodeUnavailable(settings) ?? registryUnavailable();

async function pods(node: KubeletNode): Promise<Pod[]> {
  const answer = await node.get('/pods');
  if (answer.status !== 200) throw new Error(`/pods answered ${answer.status}: ${answer.body}`);
  return (JSON.parse(answer.body) as PodList).items;
}

async function waitFor<T>(what: string, timeoutMs: number, probe: () => Promise<T | undefined>, describe: () => Promise<string>): Promise<T> {
  const until = Date.now() + timeoutMs;
  while (Date.now() < until) {
    const found = await probe();
    if (found !== undefined) return found;
    await sleep(250);
  }
  throw new Error(`timed out waiting for ${what}; last seen: ${await describe()}`);
}

function writeManifest(dir: string, name: string, pod: object): void {
  const temporary = path.join(dir, `.${name}.tmp`);
  fs.writeFileSync(temporary, JSON.stringify(pod));
  fs.renameSync(temporary, path.join(dir, name));
}

t.test('a pod with an init container and two app containers sharing an emptyDir runs and becomes ready; removing its manifest removes it', { skip: skip ?? false, timeout: 180_000 }, async (t) => {
  let stop: (() => Promise<unknown>) | undefined;
  t.teardown(async () => {
    await stop?.();
  });
  const node = await startKubeletNode(settings, { registerStop: (registered) => (stop = registered), nodeName: 'kp-e2e' });
  const image = node.images.busybox;
  const manifest = {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: { name: 'shared' },
    spec: {
      volumes: [{ name: 'data', emptyDir: {} }],
      initContainers: [{ name: 'setup', image, command: ['sh', '-c', 'echo from-init > /data/hello'], volumeMounts: [{ name: 'data', mountPath: '/data' }] }],
      containers: [
        {
          name: 'writer',
          image,
          command: ['sh', '-c', 'echo from-writer > /data/writer; exec sleep 3600'],
          volumeMounts: [{ name: 'data', mountPath: '/data' }],
        },
        {
          name: 'reader',
          image,
          command: ['sh', '-c', 'exec sleep 3600'],
          volumeMounts: [{ name: 'data', mountPath: '/data' }],
          readinessProbe: { exec: { command: ['cat', '/data/writer'] }, periodSeconds: 1 },
        },
      ],
      terminationGracePeriodSeconds: 2,
    },
  };
  writeManifest(node.manifestsDir, 'shared.json', manifest);
  const podName = `shared-${node.nodeName}`;
  const describe = async (): Promise<string> => JSON.stringify((await pods(node).catch(() => [])).map((pod) => ({ name: pod.metadata.name, status: pod.status }))) + `\n${node.kubeletLogTail(20)}`;

  const ready = await waitFor(
    'the pod to run with Ready True',
    90_000,
    async () => (await pods(node)).find((pod) => pod.metadata.name === podName && pod.status?.phase === 'Running' && pod.status.conditions?.some((condition) => condition.type === 'Ready' && condition.status === 'True')),
    describe,
  );
  const uid = ready.metadata.uid ?? '';
  t.equal(ready.spec.restartPolicy, 'Always', '/pods shows the defaulted spec');
  t.same(ready.status?.initContainerStatuses?.map((status) => [status.name, status.state.terminated?.reason, status.state.terminated?.exitCode]), [['setup', 'Completed', 0]]);
  t.same(ready.status?.containerStatuses?.map((status) => [status.name, status.ready, status.state.running !== undefined]).sort(), [['reader', true, true], ['writer', true, true]]);
  t.ok(ready.status?.podIP, `the pod has an IP (${ready.status?.podIP})`);

  const runtime = node.runtime.runtime;
  const sandboxes = (await callUnary(runtime, runtime.listPodSandbox, { filter: { id: '', labelSelector: { 'io.kubernetes.pod.uid': uid } } })).items;
  t.equal(sandboxes.length, 1, 'one sandbox for the pod');
  const containers = (await callUnary(runtime, runtime.listContainers, { filter: { id: '', podSandboxId: '', labelSelector: { 'io.kubernetes.pod.uid': uid } } })).containers;
  t.same(new Set(containers.map((container) => container.podSandboxId)), new Set([sandboxes[0]?.id]), 'every container is in that sandbox');
  const reader = containers.find((container) => container.labels['io.kubernetes.container.name'] === 'reader');
  const read = await callUnary(runtime, runtime.execSync, { containerId: reader?.id ?? '', cmd: ['cat', '/data/hello', '/data/writer'], timeout: 5n });
  t.equal(read.stdout.toString(), 'from-init\nfrom-writer\n', 'the reader sees what the init container and the writer wrote to the emptyDir');

  const events = (JSON.parse((await node.get('/events')).body) as { items: KubeletEvent[] }).items;
  const started = events.filter((event) => event.reason === 'Started' && event.involvedObject.uid === uid).map((event) => event.involvedObject.fieldPath);
  t.same(new Set(started), new Set(['spec.initContainers{setup}', 'spec.containers{writer}', 'spec.containers{reader}']), 'a Started event per container');

  fs.rmSync(path.join(node.manifestsDir, 'shared.json'));
  await waitFor(
    'the pod to leave /pods and its sandbox to be removed',
    60_000,
    async () => {
      if ((await pods(node)).some((pod) => pod.metadata.name === podName)) return undefined;
      const left = (await callUnary(runtime, runtime.listPodSandbox, { filter: { id: '', labelSelector: { 'io.kubernetes.pod.uid': uid } } })).items;
      return left.length === 0 ? true : undefined;
    },
    describe,
  );
  t.pass('the pod is gone from /pods and from the runtime');
  const podDir = path.join(node.rootDir, 'pods', uid);
  await waitFor('the pod folder (its emptyDir) to be removed', 10_000, async () => (fs.existsSync(podDir) ? undefined : true), async () => JSON.stringify(fs.readdirSync(podDir, { recursive: true })));
  t.notOk(fs.existsSync(podDir), "the pod's folder and emptyDir are removed from the node");

  t.same(await node.stop(), [], 'the node stops cleanly');
  t.same(node.leftovers(), { processes: [], mounts: [], cgroups: [], networkNamespace: false, folder: false }, 'nothing is left');
});
