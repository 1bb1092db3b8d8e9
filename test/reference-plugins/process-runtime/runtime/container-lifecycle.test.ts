import t from 'tap';
import { ContainerState, Signal } from '../../../../specs/cri/index.js';
import { cri, missingPrerequisites } from './fixtures/runtime-harness.js';
import { run, setUp, waitForExit } from './fixtures/pod-setup.js';

const missing = missingPrerequisites();
if (missing !== undefined) t.plan(0, missing);
// Each test starts a runtime process and real pods; on a loaded 2-core machine a file needs more than tap's default 120 s.
t.setTimeout(300_000);

t.test('exit codes and reasons: Completed for 0, Error otherwise, OOMKilled past the memory limit', async (t) => {
  const { node, client, podSandboxId } = await setUp(t);
  const completed = await run(client, node, podSandboxId, 'ok', ['true']);
  const failed = await run(client, node, podSandboxId, 'fails', ['sh', '-c', 'exit 3']);
  const oom = await run(client, node, podSandboxId, 'oom', ['dd', 'if=/dev/zero', 'of=/dev/null', 'bs=256M', 'count=1'], {
    linux: { resources: { cpuPeriod: 0n, cpuQuota: 0n, cpuShares: 0n, memoryLimitInBytes: 32n * 1024n * 1024n, oomScoreAdj: 0n, cpusetCpus: '', cpusetMems: '', hugepageLimits: [], unified: {}, memorySwapLimitInBytes: 32n * 1024n * 1024n }, securityContext: undefined },
  });
  const a = await waitForExit(client, completed);
  t.match(a, { exitCode: 0, reason: 'Completed' });
  t.ok(a.finishedAt >= a.startedAt && a.startedAt >= a.createdAt && a.createdAt > 0n, 'created ≤ started ≤ finished, in ns');
  t.ok(a.finishedAt > 1_000_000_000_000_000_000n, 'timestamps are nanoseconds');
  t.match(await waitForExit(client, failed), { exitCode: 3, reason: 'Error' });
  t.match(await waitForExit(client, oom), { exitCode: 137, reason: 'OOMKilled' });
});

t.test('StopContainer sends the stop signal, waits the grace period, then SIGKILL; stop and remove are idempotent', async (t) => {
  const { node, client, podSandboxId } = await setUp(t);
  const polite = await run(client, node, podSandboxId, 'polite', ['sh', '-c', 'trap "exit 42" TERM; while true; do sleep 0.05; done']);
  const custom = await run(client, node, podSandboxId, 'custom', ['sh', '-c', 'trap "exit 43" USR1; trap "" TERM; while true; do sleep 0.05; done'], { stopSignal: Signal.SIGUSR1 });
  const stubborn = await run(client, node, podSandboxId, 'stubborn', ['sh', '-c', 'trap "" TERM; while true; do sleep 0.05; done']);
  const zero = await run(client, node, podSandboxId, 'zero', ['sh', '-c', 'trap "exit 44" TERM; while true; do sleep 0.05; done']);
  await new Promise((resolve) => setTimeout(resolve, 300)); // let the shells install their traps

  await cri(client, 'stopContainer', { containerId: polite, timeout: 10n });
  t.match((await cri(client, 'containerStatus', { containerId: polite, verbose: false })).status, { state: ContainerState.CONTAINER_EXITED, exitCode: 42 }, 'SIGTERM by default');
  await cri(client, 'stopContainer', { containerId: custom, timeout: 10n });
  t.match((await cri(client, 'containerStatus', { containerId: custom, verbose: false })).status, { exitCode: 43 }, 'the configured stop signal');
  const started = Date.now();
  await cri(client, 'stopContainer', { containerId: stubborn, timeout: 1n });
  const waited = Date.now() - started;
  t.ok(waited >= 900 && waited < 5000, `SIGKILL after the 1 s grace period (${waited} ms)`);
  t.match((await cri(client, 'containerStatus', { containerId: stubborn, verbose: false })).status, { exitCode: 137, reason: 'Error' });
  await cri(client, 'stopContainer', { containerId: zero, timeout: 0n });
  t.match((await cri(client, 'containerStatus', { containerId: zero, verbose: false })).status, { exitCode: 137 }, 'timeout 0 kills at once');

  await cri(client, 'stopContainer', { containerId: polite, timeout: 10n });
  t.pass('stopping a stopped container is OK');
  await cri(client, 'removeContainer', { containerId: polite });
  await cri(client, 'removeContainer', { containerId: polite });
  t.pass('removing a removed container is OK');
  await cri(client, 'stopContainer', { containerId: polite, timeout: 1n });
  t.pass('stopping a removed container is OK');
  await t.rejects(cri(client, 'containerStatus', { containerId: polite, verbose: false }), { code: 'NOT_FOUND' });
  await cri(client, 'removeContainer', { containerId: stubborn });
  const { containers } = await cri(client, 'listContainers', { filter: undefined });
  t.same(containers.map((c) => c.id).sort(), [custom, zero].sort(), 'removed containers are gone from the list');
});

t.test('UpdateContainerResources applies limits to the container cgroup and the status reports them', async (t) => {
  const { node, client, podSandboxId } = await setUp(t);
  const id = await run(client, node, podSandboxId, 'limited', ['sleep', '300']);
  const resources = { cpuPeriod: 100_000n, cpuQuota: 50_000n, cpuShares: 512n, memoryLimitInBytes: 64n * 1024n * 1024n, oomScoreAdj: 0n, cpusetCpus: '', cpusetMems: '', hugepageLimits: [], unified: {}, memorySwapLimitInBytes: 0n };
  await cri(client, 'updateContainerResources', { containerId: id, linux: resources, windows: undefined, annotations: {} });
  const memoryFile = `/sys/fs/cgroup/memory/kubeplug/${podSandboxId}/${id}/memory.limit_in_bytes`;
  t.equal((await import('node:fs')).readFileSync(memoryFile, 'utf8').trim(), String(64 * 1024 * 1024), 'the memory limit is in the cgroup');
  const cpuFile = `/sys/fs/cgroup/cpu/kubeplug/${podSandboxId}/${id}/cpu.cfs_quota_us`;
  t.equal((await import('node:fs')).readFileSync(cpuFile, 'utf8').trim(), '50000', 'the CPU quota is in the cgroup');
  const { status } = await cri(client, 'containerStatus', { containerId: id, verbose: false });
  t.match(status?.resources?.linux, { memoryLimitInBytes: 64n * 1024n * 1024n, cpuShares: 512n, cpuQuota: 50_000n });
  await t.rejects(cri(client, 'updateContainerResources', { containerId: 'a'.repeat(64), linux: resources, windows: undefined, annotations: {} }), { code: 'NOT_FOUND' });
});
