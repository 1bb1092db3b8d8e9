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

t.test('after SIGKILL a restarted runtime adopts running and exited containers unchanged, and notices exits that happened meanwhile', async (t) => {
  const node = await createTestNode(t);
  const first = await startRuntime(t, node);
  const firstClient = await runtimeClient(t, node);
  const config = podConfig(node);
  const { podSandboxId } = await cri(firstClient, 'runPodSandbox', { config, runtimeHandler: '' });
  const start = async (name: string, args: string[]) => {
    const { containerId } = await cri(firstClient, 'createContainer', { podSandboxId, config: containerConfig(node, name, args), sandboxConfig: config });
    await cri(firstClient, 'startContainer', { containerId });
    return containerId;
  };
  const running = await start('running', ['sleep', '300']);
  const exited = await start('exited', ['sh', '-c', 'exit 4']);
  const exitsLater = await start('later', ['sh', '-c', 'sleep 2; exit 9']);
  const { containerId: created } = await cri(firstClient, 'createContainer', { podSandboxId, config: containerConfig(node, 'created', ['sleep', '300']), sandboxConfig: config });
  await new Promise((resolve) => setTimeout(resolve, 700));
  const before = await cri(firstClient, 'podSandboxStatus', { podSandboxId, verbose: false });
  firstClient.close();
  await first.crash();

  // The "later" container exits while no runtime runs.
  await new Promise((resolve) => setTimeout(resolve, 2500));
  await startRuntime(t, node);
  const client = await runtimeClient(t, node);
  t.teardown(() => cleanUpRuntime(t, node, client));

  const after = await cri(client, 'podSandboxStatus', { podSandboxId, verbose: false });
  t.equal(after.status?.state, PodSandboxState.SANDBOX_READY, 'the sandbox is still ready');
  t.equal(after.status?.network?.ip, before.status?.network?.ip, 'with the same IP');
  t.same(after.status?.labels, config.labels);
  const status = async (containerId: string) => (await cri(client, 'containerStatus', { containerId, verbose: false })).status;
  const runningStatus = await status(running);
  const beforeRunning = before.containersStatuses.find((s) => s.id === running);
  t.match(runningStatus, { state: ContainerState.CONTAINER_RUNNING, startedAt: beforeRunning?.startedAt, createdAt: beforeRunning?.createdAt });
  t.match(await status(exited), { state: ContainerState.CONTAINER_EXITED, exitCode: 4, reason: 'Error' });
  t.match(await status(exitsLater), { state: ContainerState.CONTAINER_EXITED, exitCode: 9 }, 'an exit during the outage is seen');
  t.match(await status(created), { state: ContainerState.CONTAINER_CREATED });

  const exec = await cri(client, 'execSync', { containerId: running, cmd: ['echo', 'still here'], timeout: 5n });
  t.equal(exec.stdout.toString(), 'still here\n', 'the adopted container still runs');
  await cri(client, 'startContainer', { containerId: created });
  t.match(await status(created), { state: ContainerState.CONTAINER_RUNNING }, 'a created container can be started after the restart');
  await cri(client, 'stopContainer', { containerId: running, timeout: 0n });
  t.match(await status(running), { state: ContainerState.CONTAINER_EXITED, exitCode: 137 });
  await t.rejects(cri(client, 'runPodSandbox', { config, runtimeHandler: '' }), { code: 'ALREADY_EXISTS' }, 'the sandbox name stays reserved');
});
