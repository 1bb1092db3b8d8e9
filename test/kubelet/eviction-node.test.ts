import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import t from 'tap';
import type { ApiStatus, Node, PodDisruptionBudgetList } from '../../kubelet/api/disruption-types.js';
import type { Pod, PodList } from '../../kubelet/api/pod-types.js';
import { parseKubeletUrl, requestKubelet } from '../../kubelet/disruption/cluster-view.js';
import { kubeletNodeUnavailable, startKubeletNode, type KubeletNode } from '../../conformance/kubelet/kubelet-node.js';
import { loadKubeletRunSettings } from '../../conformance/kubelet/run-config.js';
import { registryUnavailable } from '../../conformance/cri/test-images/index.js';
import { callUnary } from '../../specs/cri/index.js';

// End to end: `kubeplug kubelet` (dist) on a process-runtime node in network
// and mount namespaces of its own (the kubelet suite's harness), a disruption
// budget next to the pods, evictions and the cordon through the kubelet's
// --read-only-socket, and a SIGKILL + restart of the kubelet in between.

const settings = loadKubeletRunSettings({ maxRestartPeriodSeconds: 10 });
const skip = kubeletNodeUnavailable(settings) ?? registryUnavailable();

async function waitFor<T>(what: string, timeoutMs: number, probe: () => Promise<T | undefined>, describe: () => Promise<string>): Promise<T> {
  const until = Date.now() + timeoutMs;
  while (Date.now() < until) {
    const found = await probe();
    if (found !== undefined) return found;
    await sleep(250);
  }
  throw new Error(`timed out waiting for ${what}; last seen: ${await describe()}`);
}

function writeManifest(dir: string, name: string, object: object): void {
  const temporary = path.join(dir, `.${name}.tmp`);
  fs.writeFileSync(temporary, JSON.stringify(object));
  fs.renameSync(temporary, path.join(dir, name));
}

const isReady = (pod: Pod | undefined): boolean => pod?.status?.phase === 'Running' && (pod.status.conditions ?? []).some((condition) => condition.type === 'Ready' && condition.status === 'True');

t.test('evictions honour a minAvailable budget, run preStop and survive a restart; the cordon holds new pods across a restart', { skip: skip ?? false, timeout: 420_000 }, async (t) => {
  const socketDir = fs.mkdtempSync(path.join(os.tmpdir(), 'kp-evict-'));
  t.teardown(() => fs.rmSync(socketDir, { recursive: true, force: true }));
  const socket = path.join(socketDir, 'kubelet.sock');
  let stop: (() => Promise<unknown>) | undefined;
  t.teardown(async () => {
    await stop?.();
  });
  const node: KubeletNode = await startKubeletNode(settings, { registerStop: (registered) => (stop = registered), nodeName: 'kp-evict', extraKubeletArgs: ['--read-only-socket', socket] });
  const kubelet = parseKubeletUrl(`unix://${socket}`);
  const call = async (method: string, urlPath: string, body?: object, contentType = 'application/json'): Promise<{ status: number; json: any }> => {
    const answer = await requestKubelet(kubelet, { method, path: urlPath, ...(body === undefined ? {} : { body: JSON.stringify(body), headers: { 'Content-Type': contentType } }) });
    return { status: answer.status, json: answer.body === '' ? undefined : JSON.parse(answer.body) };
  };
  const pods = async (): Promise<Pod[]> => ((await call('GET', '/pods')).json as PodList).items;
  const pod = async (name: string): Promise<Pod | undefined> => (await pods()).find((each) => each.metadata.name === `${name}-${node.nodeName}`);
  const describe = async (): Promise<string> => JSON.stringify((await pods().catch(() => [])).map((each) => ({ name: each.metadata.name, deleting: each.metadata.deletionTimestamp, status: { phase: each.status?.phase, reason: each.status?.reason, conditions: each.status?.conditions } }))) + `\n${node.kubeletLogTail(20)}`;
  const evict = (name: string, gracePeriodSeconds?: number) =>
    call('POST', `/api/v1/namespaces/default/pods/${name}-${node.nodeName}/eviction`, {
      apiVersion: 'policy/v1',
      kind: 'Eviction',
      metadata: { name: `${name}-${node.nodeName}`, namespace: 'default' },
      ...(gracePeriodSeconds === undefined ? {} : { deleteOptions: { gracePeriodSeconds } }),
    });
  const runtime = node.runtime.runtime;
  const runningContainers = async (uid: string): Promise<number> =>
    (await callUnary(runtime, runtime.listContainers, { filter: { id: '', podSandboxId: '', labelSelector: { 'io.kubernetes.pod.uid': uid } } })).containers.filter((container) => container.state === 1).length;
  const sandboxCount = async (uid: string): Promise<number> => (await callUnary(runtime, runtime.listPodSandbox, { filter: { id: '', labelSelector: { 'io.kubernetes.pod.uid': uid } } })).items.length;

  const image = node.images.busybox;
  const preStopDir = fs.mkdtempSync(path.join(node.hostPathDir, 'prestop-'));
  const webPod = (name: string) => ({
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: { name, labels: { app: 'web' } },
    spec: {
      volumes: [{ name: 'marks', hostPath: { path: preStopDir, type: 'Directory' } }],
      containers: [
        {
          name: 'main',
          image,
          command: ['sh', '-c', "trap 'exit 0' TERM; while true; do sleep 1; done"],
          volumeMounts: [{ name: 'marks', mountPath: '/marks' }],
          lifecycle: { preStop: { exec: { command: ['sh', '-c', `echo stopping > /marks/${name}`] } } },
        },
      ],
      terminationGracePeriodSeconds: 20,
    },
  });
  writeManifest(node.manifestsDir, 'web-pdb.yaml', { apiVersion: 'policy/v1', kind: 'PodDisruptionBudget', metadata: { name: 'web-pdb' }, spec: { minAvailable: 1, selector: { matchLabels: { app: 'web' } } } });
  writeManifest(node.manifestsDir, 'web-1.json', webPod('web-1'));
  writeManifest(node.manifestsDir, 'web-2.json', webPod('web-2'));
  await waitFor('both web pods Ready', 120_000, async () => ((isReady(await pod('web-1')) && isReady(await pod('web-2'))) || undefined), describe);

  const budgets = (await call('GET', '/poddisruptionbudgets')).json as PodDisruptionBudgetList;
  t.match(budgets.items, [{ metadata: { name: 'web-pdb', namespace: 'default' }, status: { expectedPods: 2, currentHealthy: 2, desiredHealthy: 1, disruptionsAllowed: 1 } }], 'the budget allows one disruption');

  const first = await evict('web-1', 3);
  t.equal(first.status, 201, 'the first eviction is allowed');
  t.match(first.json as ApiStatus, { kind: 'Status', status: 'Success', code: 201 });
  const second = await evict('web-2');
  t.equal(second.status, 429, 'the second eviction would break the budget');
  t.match(second.json as ApiStatus, {
    reason: 'TooManyRequests',
    message: "Cannot evict pod as it would violate the pod's disruption budget.",
    details: { causes: [{ reason: 'DisruptionBudget', message: 'The disruption budget web-pdb needs 1 healthy pods and has 1 currently' }] },
  });

  const evicted = await waitFor('web-1 Failed with reason Evicted', 60_000, async () => {
    const found = await pod('web-1');
    return found?.status?.phase === 'Failed' ? found : undefined;
  }, describe);
  t.equal(evicted.status?.reason, 'Evicted');
  t.match(evicted.status?.message, /evicted/);
  t.ok(evicted.metadata.deletionTimestamp, 'the evicted pod carries its deletionTimestamp');
  t.equal(evicted.metadata.deletionGracePeriodSeconds, 3, "the eviction's grace period");
  t.match(evicted.status?.conditions?.find((condition) => condition.type === 'DisruptionTarget'), { status: 'True', reason: 'EvictionByEvictionAPI' }, 'the DisruptionTarget condition');
  t.equal(fs.readFileSync(path.join(preStopDir, 'web-1'), 'utf8'), 'stopping\n', "web-1's preStop ran");
  t.notOk(fs.existsSync(path.join(preStopDir, 'web-2')), 'web-2 was not stopped');
  const web1Uid = evicted.metadata.uid ?? '';
  t.equal(await runningContainers(web1Uid), 0, 'no container of web-1 runs');
  t.ok(isReady(await pod('web-2')), 'web-2 still runs');

  const cordoned = await call('PATCH', `/api/v1/nodes/${node.nodeName}`, { spec: { unschedulable: true } }, 'application/merge-patch+json');
  t.equal(cordoned.status, 200);
  t.same((cordoned.json as Node).spec, { unschedulable: true });

  await node.restartKubelet('SIGKILL');
  t.same(((await call('GET', `/api/v1/nodes/${node.nodeName}`)).json as Node).spec, { unschedulable: true }, 'the cordon survived the restart');
  writeManifest(node.manifestsDir, 'late.json', { ...webPod('late'), metadata: { name: 'late', labels: { app: 'late' } } });
  const held = await waitFor('the new pod Pending with PodScheduled=False Unschedulable', 30_000, async () => {
    const found = await pod('late');
    return found?.status?.conditions?.some((condition) => condition.type === 'PodScheduled' && condition.status === 'False' && condition.reason === 'Unschedulable') === true ? found : undefined;
  }, describe);
  t.equal(held.status?.phase, 'Pending');
  t.match(held.status?.conditions?.find((condition) => condition.type === 'PodScheduled')?.message, /cordoned/);
  // Level-triggered: several sync periods go by and still nothing starts.
  await sleep(4000);
  t.equal(await sandboxCount(held.metadata.uid ?? ''), 0, 'no sandbox was made for the held pod');
  const afterRestart = await pod('web-1');
  t.equal(afterRestart?.status?.phase, 'Failed', 'web-1 is still Failed after the restart');
  t.equal(afterRestart?.status?.reason, 'Evicted');
  t.equal(await runningContainers(web1Uid), 0, 'the restarted kubelet did not start web-1 again');
  t.ok(isReady(await pod('web-2')), 'web-2 kept running through the cordon and the restart');

  const uncordoned = await call('PATCH', `/api/v1/nodes/${node.nodeName}`, { spec: { unschedulable: false } }, 'application/merge-patch+json');
  t.same((uncordoned.json as Node).spec, { unschedulable: false });
  await waitFor('the held pod to start once uncordoned', 90_000, async () => (isReady(await pod('late')) || undefined), describe);
  t.pass('uncordon started the held pod');
  t.equal(await runningContainers(web1Uid), 0, 'web-1 stays stopped');

  fs.rmSync(path.join(node.manifestsDir, 'web-1.json'));
  await waitFor('web-1 to leave /pods once its manifest is gone', 60_000, async () => ((await pod('web-1')) === undefined || undefined), describe);
  const evictions = JSON.parse(fs.readFileSync(path.join(node.rootDir, 'pod-evictions.json'), 'utf8')) as { evictions: Record<string, unknown> };
  t.same(Object.keys(evictions.evictions), [], 'removing the manifest forgot the eviction');

  t.same(await node.stop(), [], 'the node stops cleanly');
  t.same(node.leftovers(), { processes: [], mounts: [], cgroups: [], networkNamespace: false, folder: false }, 'nothing is left');
});
