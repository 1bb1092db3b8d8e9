import t from 'tap';
import { ContainerEventType, ContainerState, type ContainerEventResponse } from '../../../../specs/cri/index.js';
import {
  cleanUpRuntime,
  containerConfig,
  createTestNode,
  cri,
  missingPrerequisites,
  podConfig,
  runtimeClient,
  startRuntime,
} from './fixtures/runtime-harness.js';

const missing = missingPrerequisites();
if (missing !== undefined) t.plan(0, missing);
// Each test starts a runtime process and real pods; on a loaded 2-core machine a file needs more than tap's default 120 s.
t.setTimeout(300_000);

t.test('GetContainerEvents streams CREATED, STARTED, STOPPED (from the exit) and DELETED with the pod status', async (t) => {
  const node = await createTestNode(t);
  await startRuntime(t, node);
  const client = await runtimeClient(t, node);
  t.teardown(() => cleanUpRuntime(t, node, client));
  const config = podConfig(node);
  const { podSandboxId } = await cri(client, 'runPodSandbox', { config, runtimeHandler: '' });

  const events: ContainerEventResponse[] = [];
  const stream = client.getContainerEvents({});
  stream.on('data', (event: ContainerEventResponse) => events.push(event));
  stream.on('error', () => {});
  t.teardown(() => stream.cancel());
  await new Promise((resolve) => setTimeout(resolve, 200));

  const { containerId } = await cri(client, 'createContainer', { podSandboxId, config: containerConfig(node, 'brief', ['sh', '-c', 'sleep 0.3; exit 5']), sandboxConfig: config });
  await cri(client, 'startContainer', { containerId });
  const deadline = Date.now() + 10_000;
  while (!events.some((e) => e.containerEventType === ContainerEventType.CONTAINER_STOPPED_EVENT) && Date.now() < deadline) {
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  await cri(client, 'removeContainer', { containerId });
  await new Promise((resolve) => setTimeout(resolve, 200));

  const mine = events.filter((e) => e.containerId === containerId);
  t.same(
    mine.map((e) => ContainerEventType[e.containerEventType]),
    ['CONTAINER_CREATED_EVENT', 'CONTAINER_STARTED_EVENT', 'CONTAINER_STOPPED_EVENT', 'CONTAINER_DELETED_EVENT'],
  );
  const stoppedEvent = mine[2];
  t.equal(stoppedEvent?.podSandboxStatus?.id, podSandboxId, 'events carry the pod sandbox status');
  t.match(stoppedEvent?.containersStatuses.find((s) => s.id === containerId), { state: ContainerState.CONTAINER_EXITED, exitCode: 5 });
  t.ok(mine.every((e, i) => e.createdAt > 0n && (i === 0 || e.createdAt >= mine[i - 1]!.createdAt)), 'event times are ns and in order');
});

t.test('container and sandbox stats come from the cgroups and the writable layer; metrics are described', async (t) => {
  const node = await createTestNode(t);
  await startRuntime(t, node);
  const client = await runtimeClient(t, node);
  t.teardown(() => cleanUpRuntime(t, node, client));
  const config = podConfig(node, { labels: { tier: 'stats' } });
  const { podSandboxId } = await cri(client, 'runPodSandbox', { config, runtimeHandler: '' });
  const { containerId } = await cri(client, 'createContainer', {
    podSandboxId,
    config: containerConfig(node, 'busy', ['sh', '-c', 'dd if=/dev/zero of=/written bs=1k count=256; i=0; while [ $i -lt 20000 ]; do i=$((i+1)); done; exec sleep 300']),
    sandboxConfig: config,
  });
  await cri(client, 'startContainer', { containerId });
  await new Promise((resolve) => setTimeout(resolve, 1000));

  const { stats } = await cri(client, 'containerStats', { containerId });
  t.equal(stats?.attributes?.id, containerId);
  t.ok((stats?.cpu?.usageCoreNanoSeconds?.value ?? 0n) > 0n, 'CPU time used');
  t.ok((stats?.memory?.workingSetBytes?.value ?? 0n) > 0n, 'memory in use');
  t.ok((stats?.writableLayer?.usedBytes?.value ?? 0n) >= 256n * 1024n, 'the written file counts in the writable layer');
  t.ok((stats?.writableLayer?.inodesUsed?.value ?? 0n) >= 1n);

  const listed = await cri(client, 'listContainerStats', { filter: { id: '', podSandboxId, labelSelector: { container: 'busy' } } });
  t.same(listed.stats.map((s) => s.attributes?.id), [containerId]);
  const none = await cri(client, 'listContainerStats', { filter: { id: '', podSandboxId, labelSelector: { container: 'other' } } });
  t.same(none.stats, [], 'filters combine with AND');

  const pod = await cri(client, 'podSandboxStats', { podSandboxId });
  t.equal(pod.stats?.attributes?.id, podSandboxId);
  t.ok((pod.stats?.linux?.cpu?.usageCoreNanoSeconds?.value ?? 0n) >= (stats?.cpu?.usageCoreNanoSeconds?.value ?? 0n), 'the pod cgroup holds its containers');
  t.equal(pod.stats?.linux?.network?.defaultInterface?.name, 'eth0');
  t.same(pod.stats?.linux?.containers.map((c) => c.attributes?.id), [containerId]);
  const pods = await cri(client, 'listPodSandboxStats', { filter: { id: '', labelSelector: { tier: 'stats' } } });
  t.same(pods.stats.map((s) => s.attributes?.id), [podSandboxId]);

  const { descriptors } = await cri(client, 'listMetricDescriptors', {});
  const names = new Set(descriptors.map((d) => d.name));
  const { podMetrics } = await cri(client, 'listPodSandboxMetrics', {});
  const mine = podMetrics.find((m) => m.podSandboxId === podSandboxId);
  t.ok(mine !== undefined, 'the pod has metrics');
  const all = [...(mine?.metrics ?? []), ...(mine?.containerMetrics.flatMap((c) => c.metrics) ?? [])];
  t.ok(all.length > 0);
  t.ok(all.every((m) => names.has(m.name)), 'every metric is described');
  t.ok(all.every((m) => m.labelValues.length === descriptors.find((d) => d.name === m.name)?.labelKeys.length), 'label values follow the label keys');
  await t.rejects(cri(client, 'containerStats', { containerId: 'a'.repeat(64) }), { code: 'NOT_FOUND' });
});
