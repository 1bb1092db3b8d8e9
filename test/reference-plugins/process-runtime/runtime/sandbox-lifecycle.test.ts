import fs from 'node:fs';
import path from 'node:path';
import t from 'tap';
import { ContainerState, PodSandboxState } from '../../../../specs/cri/index.js';
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

t.test('a pod sandbox runs with an IP from CNI, a container in it runs, stops and is removed', async (t) => {
  const node = await createTestNode(t);
  await startRuntime(t, node);
  const client = await runtimeClient(t, node);
  t.teardown(() => cleanUpRuntime(t, node, client));

  const config = podConfig(node);
  let started = performance.now();
  const { podSandboxId } = await cri(client, 'runPodSandbox', { config, runtimeHandler: '' });
  t.comment(`RunPodSandbox: ${(performance.now() - started).toFixed(1)} ms`);
  t.match(podSandboxId, /^[0-9a-f]{64}$/);
  const { status } = await cri(client, 'podSandboxStatus', { podSandboxId, verbose: false });
  t.equal(status?.state, PodSandboxState.SANDBOX_READY);
  t.match(status?.network?.ip, /^10\.\d+\.\d+\.\d+$/, 'the pod IP comes from host-local');
  t.same(status?.annotations, config.annotations, 'annotations as given');

  const create = containerConfig(node, 'main', ['sh', '-c', 'echo hello; echo oops >&2; exec sleep 300']);
  started = performance.now();
  const { containerId } = await cri(client, 'createContainer', { podSandboxId, config: create, sandboxConfig: config });
  await cri(client, 'startContainer', { containerId });
  t.comment(`CreateContainer + StartContainer: ${(performance.now() - started).toFixed(1)} ms`);
  const running = await cri(client, 'containerStatus', { containerId, verbose: false });
  t.equal(running.status?.state, ContainerState.CONTAINER_RUNNING);
  t.ok((running.status?.startedAt ?? 0n) > 0n, 'started_at is set');

  started = performance.now();
  const exec = await cri(client, 'execSync', { containerId, cmd: ['hostname'], timeout: 5n });
  t.comment(`ExecSync: ${(performance.now() - started).toFixed(1)} ms`);
  t.equal(exec.stdout.toString().trim(), config.hostname, 'the pod hostname is set');

  await cri(client, 'execSync', { containerId, cmd: ['sh', '-c', 'echo shared > /dev/shm/probe'], timeout: 5n });
  const { containerId: peer } = await cri(client, 'createContainer', { podSandboxId, config: containerConfig(node, 'peer', ['sleep', '300']), sandboxConfig: config });
  await cri(client, 'startContainer', { containerId: peer });
  const shm = await cri(client, 'execSync', { containerId: peer, cmd: ['cat', '/dev/shm/probe'], timeout: 5n });
  t.equal(shm.stdout.toString(), 'shared\n', 'the containers of a pod share /dev/shm');

  const logFile = path.join(config.logDirectory, 'main.log');
  const log = fs.readFileSync(logFile, 'utf8');
  t.match(log, /^\S+ stdout F hello$/m, 'stdout is in the CRI log');
  t.match(log, /^\S+ stderr F oops$/m, 'stderr is in the CRI log');

  started = performance.now();
  await cri(client, 'stopContainer', { containerId, timeout: 10n });
  t.comment(`StopContainer (SIGTERM): ${(performance.now() - started).toFixed(1)} ms`);
  const stopped = await cri(client, 'containerStatus', { containerId, verbose: false });
  t.equal(stopped.status?.state, ContainerState.CONTAINER_EXITED);

  await cri(client, 'removeContainer', { containerId });
  await cri(client, 'stopPodSandbox', { podSandboxId });
  const notReady = await cri(client, 'podSandboxStatus', { podSandboxId, verbose: false });
  t.equal(notReady.status?.state, PodSandboxState.SANDBOX_NOTREADY);
  await cri(client, 'removePodSandbox', { podSandboxId });
  await t.rejects(cri(client, 'podSandboxStatus', { podSandboxId, verbose: false }), { code: 'NOT_FOUND' });
});

t.test('a sandbox whose pause process dies becomes NOTREADY; stop and remove still free everything', async (t) => {
  const node = await createTestNode(t);
  await startRuntime(t, node);
  const client = await runtimeClient(t, node);
  t.teardown(() => cleanUpRuntime(t, node, client));
  const { podSandboxId } = await cri(client, 'runPodSandbox', { config: podConfig(node), runtimeHandler: '' });
  const { info } = await cri(client, 'podSandboxStatus', { podSandboxId, verbose: true });
  const { pid } = JSON.parse(info['info'] ?? '{}') as { pid: number };
  t.ok(pid > 0, 'verbose info names the pause pid');
  process.kill(pid, 'SIGKILL');
  const deadline = Date.now() + 10_000;
  let state: PodSandboxState | undefined;
  while (Date.now() < deadline) {
    state = (await cri(client, 'podSandboxStatus', { podSandboxId, verbose: false })).status?.state;
    if (state === PodSandboxState.SANDBOX_NOTREADY) break;
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  t.equal(state, PodSandboxState.SANDBOX_NOTREADY);
  await cri(client, 'stopPodSandbox', { podSandboxId });
  await cri(client, 'removePodSandbox', { podSandboxId });
});
