import { ContainerState } from '../../specs/cri/index.js';
import type { CaseContext, Suite } from '../framework/index.js';
import { callRuntime } from './cri-calls.js';
import { containerStateName, listContainers, nowNs, showTimestamp, unknownId, withinWindow } from './cri-observe.js';
import type { CriSubject } from './cri-subject.js';
import { describeOutcome, expectStatus, requireOk } from './expect-status.js';
import { markedSleeper, processesGone, processesAppear, processMarker } from './node-processes.js';
import {
  containerConfig,
  containerStatus,
  createContainer,
  createContainerWith,
  pullImage,
  runTestPod,
  startTestContainer,
  suiteKeyLabel,
  waitForExit,
} from './pod-fixtures.js';

type Ctx = CaseContext<CriSubject>;

/** Declares the container lifecycle cases. */
export function declareContainerLifecycleCases(suite: Suite<CriSubject>): void {
  suite.declare({
    ids: ['CRI-CONTAINER-001', 'CRI-CONTAINER-002', 'CRI-CONTAINER-019', 'CRI-CONTAINER-023', 'CRI-CONTAINER-024'],
    title: 'CreateContainer returns a new ID; the container is CREATED with its metadata, image and creation time, in status and listing',
    async run(ctx: Ctx) {
      const pod = await runTestPod(ctx);
      const other = await createContainer(ctx, pod);
      const config = containerConfig(ctx, pod);
      await pullImage(ctx, config.image?.image ?? '');
      const from = nowNs();
      const container = await createContainerWith(ctx, pod, config, { ids: ['CRI-CONTAINER-001'] });
      const to = nowNs();
      ctx.check(container.id !== '' && container.id !== other.id, { ids: ['CRI-CONTAINER-001'], what: 'container_id is not empty and differs from the other container\'s', expected: `not "" nor ${other.id}`, got: container.id });
      const status = await containerStatus(ctx, container.id);
      ctx.check(status.state === ContainerState.CONTAINER_CREATED, { ids: ['CRI-CONTAINER-002'], what: 'ContainerStatus reports CONTAINER_CREATED', expected: 'CONTAINER_CREATED', got: containerStateName(status.state) });
      ctx.check(withinWindow(status.createdAt, { from, to }), { ids: ['CRI-CONTAINER-002'], what: 'created_at is a positive nanosecond time between the call and its answer', expected: `${showTimestamp(from)} .. ${showTimestamp(to)} (±1 s)`, got: showTimestamp(status.createdAt) });
      ctx.check(status.startedAt === 0n && status.finishedAt === 0n, { ids: ['CRI-CONTAINER-002'], what: 'started_at and finished_at are zero before the start', expected: { startedAt: '0', finishedAt: '0' }, got: { startedAt: status.startedAt, finishedAt: status.finishedAt } });
      ctx.check(status.id === container.id, { ids: ['CRI-CONTAINER-019'], what: 'status.id is the ID asked for', expected: container.id, got: status.id });
      ctx.check(JSON.stringify(status.metadata) === JSON.stringify(config.metadata), { ids: ['CRI-CONTAINER-019'], what: 'status.metadata is the configured metadata', expected: config.metadata, got: status.metadata ?? 'absent' });
      ctx.check(status.image !== undefined && status.image.image !== '' && status.imageRef !== '', { ids: ['CRI-CONTAINER-023'], what: 'ContainerStatus reports the image and a non-empty image_ref', expected: { image: config.image?.image, imageRef: 'not empty' }, got: { image: status.image ?? 'absent', imageRef: status.imageRef } });
      const listed = (await listContainers(ctx, { labelSelector: { [suiteKeyLabel]: config.labels[suiteKeyLabel] ?? '' } })).find((item) => item.id === container.id);
      ctx.require(listed !== undefined, { ids: ['CRI-CONTAINER-002', 'CRI-CONTAINER-024'], what: 'ListContainers lists the new container', expected: container.id, got: 'not listed' });
      ctx.check(listed.state === ContainerState.CONTAINER_CREATED, { ids: ['CRI-CONTAINER-002', 'CRI-CONTAINER-024'], what: 'ListContainers reports CONTAINER_CREATED, as ContainerStatus does', expected: 'CONTAINER_CREATED', got: containerStateName(listed.state) });
      ctx.check(listed.podSandboxId === pod.id && listed.createdAt > 0n, { ids: ['CRI-CONTAINER-024'], what: 'ListContainers reports the sandbox ID and a positive created_at', expected: { podSandboxId: pod.id, createdAt: '> 0' }, got: { podSandboxId: listed.podSandboxId, createdAt: listed.createdAt } });
      ctx.check(listed.image !== undefined && listed.image.image !== '' && listed.imageRef !== '', { ids: ['CRI-CONTAINER-023'], what: 'ListContainers reports the image and a non-empty image_ref', expected: { image: config.image?.image, imageRef: 'not empty' }, got: { image: listed.image ?? 'absent', imageRef: listed.imageRef } });
    },
  });

  suite.declare({
    ids: ['CRI-CONTAINER-003'],
    title: 'CreateContainer in a sandbox the runtime does not hold fails and leaves no container',
    async run(ctx: Ctx) {
      const pod = await runTestPod(ctx);
      const config = containerConfig(ctx, pod);
      await pullImage(ctx, config.image?.image ?? '');
      const key = config.labels[suiteKeyLabel] ?? '';
      ctx.defer(async () => {
        for (const item of await listContainers(ctx, { labelSelector: { [suiteKeyLabel]: key } }).catch(() => [])) {
          await callRuntime(ctx, 'removeContainer', { containerId: item.id });
        }
      }, 'remove a container that should not exist');
      const created = await callRuntime(ctx, 'createContainer', { podSandboxId: unknownId(), config, sandboxConfig: pod.config });
      ctx.check(!created.ok, { what: 'CreateContainer naming an unknown sandbox fails', expected: 'an error', got: describeOutcome(created) });
      const empty = await callRuntime(ctx, 'createContainer', { podSandboxId: '', config, sandboxConfig: pod.config });
      ctx.check(!empty.ok, { what: 'CreateContainer with an empty pod_sandbox_id fails', expected: 'an error', got: describeOutcome(empty) });
      const left = await listContainers(ctx, { labelSelector: { [suiteKeyLabel]: key } });
      ctx.check(left.length === 0, { what: 'no container is left behind', expected: [], got: left.map((item) => item.id) });
    },
  });

  suite.declare({
    ids: ['CRI-CONTAINER-004'],
    title: 'A second CreateContainer with the name and attempt of an existing container in the sandbox is refused',
    async run(ctx: Ctx) {
      const pod = await runTestPod(ctx);
      const first = await createContainer(ctx, pod);
      const again = containerConfig(ctx, pod);
      const duplicate = { ...again, metadata: first.config.metadata };
      const key = duplicate.labels[suiteKeyLabel] ?? '';
      ctx.defer(async () => {
        for (const item of await listContainers(ctx, { labelSelector: { [suiteKeyLabel]: key } }).catch(() => [])) {
          await callRuntime(ctx, 'removeContainer', { containerId: item.id });
        }
      }, 'remove a duplicate container');
      const created = await callRuntime(ctx, 'createContainer', { podSandboxId: pod.id, config: duplicate, sandboxConfig: pod.config });
      ctx.check(!created.ok, { what: 'CreateContainer reusing the name and attempt of a live container fails', expected: 'an error', got: describeOutcome(created) });
    },
  });

  suite.declare({
    ids: ['CRI-CONTAINER-005'],
    title: 'A started container is RUNNING with a start time not before its creation',
    async run(ctx: Ctx) {
      const pod = await runTestPod(ctx);
      const container = await startTestContainer(ctx, pod, {}, { ids: ['CRI-CONTAINER-005'] });
      const status = await containerStatus(ctx, container.id);
      ctx.check(status.state === ContainerState.CONTAINER_RUNNING, { what: 'ContainerStatus reports CONTAINER_RUNNING', expected: 'CONTAINER_RUNNING', got: containerStateName(status.state) });
      ctx.check(status.startedAt > 0n && status.startedAt >= status.createdAt, { what: 'started_at is positive and not before created_at', expected: `>= ${showTimestamp(status.createdAt)}`, got: showTimestamp(status.startedAt) });
    },
  });

  suite.declare({
    ids: ['CRI-CONTAINER-006'],
    title: 'StartContainer of a container the runtime does not hold fails',
    async run(ctx: Ctx) {
      const started = await callRuntime(ctx, 'startContainer', { containerId: unknownId() });
      ctx.check(!started.ok, { what: 'StartContainer of an ID never issued fails', expected: 'an error', got: describeOutcome(started) });
      const empty = await callRuntime(ctx, 'startContainer', { containerId: '' });
      ctx.check(!empty.ok, { what: 'StartContainer of an empty ID fails', expected: 'an error', got: describeOutcome(empty) });
    },
  });

  suite.declare({
    ids: ['CRI-CONTAINER-007', 'CRI-CONTAINER-026'],
    title: 'A container whose process exits is EXITED with its exit code, ordered timestamps, and reason Completed or Error',
    timeoutMs: 60_000,
    async run(ctx: Ctx) {
      const pod = await runTestPod(ctx);
      for (const [code, reason] of [[0, 'Completed'], [3, 'Error']] as const) {
        const container = await startTestContainer(ctx, pod, { command: ['sh', '-c', `exit ${code}`] });
        const status = await waitForExit(ctx, container.id, { ids: ['CRI-CONTAINER-007'] });
        ctx.check(status.exitCode === code, { ids: ['CRI-CONTAINER-007'], what: `exit_code is the process's exit status ${code}`, expected: code, got: status.exitCode });
        ctx.check(status.finishedAt > 0n && status.finishedAt >= status.startedAt && status.startedAt > 0n, {
          ids: ['CRI-CONTAINER-007'],
          what: 'finished_at is positive and not before started_at',
          expected: `>= ${showTimestamp(status.startedAt)}`,
          got: { startedAt: showTimestamp(status.startedAt), finishedAt: showTimestamp(status.finishedAt) },
        });
        ctx.check(status.reason === reason, { ids: ['CRI-CONTAINER-026'], what: `an exit with code ${code} has reason ${reason}`, expected: reason, got: status.reason });
      }
    },
  });

  suite.declare({
    ids: ['CRI-CONTAINER-025'],
    title: 'A container killed by the out-of-memory killer reports reason OOMKilled',
    timeoutMs: 60_000,
    async run(ctx: Ctx) {
      const pod = await runTestPod(ctx);
      // The shell keeps the whole substitution in memory: far past the 16 MiB limit.
      const hog = 'a=$(head -c 268435456 /dev/zero | tr "\\000" a); echo ${#a}';
      const container = await startTestContainer(ctx, pod, { command: ['sh', '-c', hog], resources: { memoryLimitInBytes: 16n * 1024n * 1024n } });
      const status = await waitForExit(ctx, container.id, { timeoutMs: 40_000 });
      ctx.check(status.reason === 'OOMKilled', { what: 'the container ended by the OOM killer reports reason OOMKilled', expected: 'OOMKilled', got: { reason: status.reason, exitCode: status.exitCode, message: status.message } });
    },
  });

  suite.declare({
    ids: ['CRI-CONTAINER-011', 'CRI-CONTAINER-012'],
    title: 'StopContainer of an exited container, a removed one or one never created succeeds and changes nothing',
    async run(ctx: Ctx) {
      const pod = await runTestPod(ctx);
      const container = await startTestContainer(ctx, pod, { command: ['sh', '-c', 'exit 5'] });
      const before = await waitForExit(ctx, container.id);
      for (const attempt of ['first', 'second']) {
        expectStatus(ctx, await callRuntime(ctx, 'stopContainer', { containerId: container.id, timeout: 10n }), 'OK', { ids: ['CRI-CONTAINER-011'], what: `a ${attempt} StopContainer of the exited container succeeds` });
      }
      const after = await containerStatus(ctx, container.id);
      const view = (s: typeof before) => ({ state: containerStateName(s.state), exitCode: s.exitCode, reason: s.reason, startedAt: s.startedAt, finishedAt: s.finishedAt });
      ctx.check(JSON.stringify(view(after), (_, v: unknown) => (typeof v === 'bigint' ? v.toString() : v)) === JSON.stringify(view(before), (_, v: unknown) => (typeof v === 'bigint' ? v.toString() : v)), {
        ids: ['CRI-CONTAINER-011'],
        what: 'the stops leave state, exit code, reason and timestamps as they were',
        expected: view(before),
        got: view(after),
      });
      expectStatus(ctx, await callRuntime(ctx, 'stopContainer', { containerId: unknownId(), timeout: 0n }), 'OK', { ids: ['CRI-CONTAINER-012'], what: 'StopContainer of an ID never issued succeeds' });
      requireOk(ctx, await callRuntime(ctx, 'removeContainer', { containerId: container.id }), { what: 'RemoveContainer succeeds' });
      expectStatus(ctx, await callRuntime(ctx, 'stopContainer', { containerId: container.id, timeout: 0n }), 'OK', { ids: ['CRI-CONTAINER-012'], what: 'StopContainer of a removed container succeeds' });
    },
  });

  suite.declare({
    ids: ['CRI-CONTAINER-015', 'CRI-CONTAINER-017', 'CRI-CONTAINER-018'],
    title: 'A removed container is gone from status and listing; removing it again, or an ID never issued, succeeds',
    async run(ctx: Ctx) {
      const never = await callRuntime(ctx, 'containerStatus', { containerId: unknownId(), verbose: false });
      expectStatus(ctx, never, 'NOT_FOUND', { ids: ['CRI-CONTAINER-018'], what: 'ContainerStatus of an ID never issued fails with NOT_FOUND' });
      const pod = await runTestPod(ctx);
      const container = await startTestContainer(ctx, pod, { command: ['true'] });
      await waitForExit(ctx, container.id);
      requireOk(ctx, await callRuntime(ctx, 'removeContainer', { containerId: container.id }), { ids: ['CRI-CONTAINER-015'], what: 'RemoveContainer of an exited container succeeds' });
      expectStatus(ctx, await callRuntime(ctx, 'containerStatus', { containerId: container.id, verbose: false }), 'NOT_FOUND', { ids: ['CRI-CONTAINER-015', 'CRI-CONTAINER-018'], what: 'ContainerStatus of the removed container fails with NOT_FOUND' });
      const listed = (await listContainers(ctx, undefined)).some((item) => item.id === container.id);
      ctx.check(!listed, { ids: ['CRI-CONTAINER-015'], what: 'ListContainers no longer lists the removed container', expected: 'not listed', got: listed ? 'listed' : 'not listed' });
      for (const attempt of ['second', 'third']) {
        expectStatus(ctx, await callRuntime(ctx, 'removeContainer', { containerId: container.id }), 'OK', { ids: ['CRI-CONTAINER-017'], what: `a ${attempt} RemoveContainer of the removed container succeeds` });
      }
      expectStatus(ctx, await callRuntime(ctx, 'removeContainer', { containerId: unknownId() }), 'OK', { ids: ['CRI-CONTAINER-017'], what: 'RemoveContainer of an ID never issued succeeds' });
    },
  });

  suite.declare({
    ids: ['CRI-CONTAINER-016'],
    title: 'RemoveContainer of a running container succeeds, and the container and its processes are gone',
    needs: { root: true },
    timeoutMs: 60_000,
    async run(ctx: Ctx) {
      const pod = await runTestPod(ctx);
      const marker = processMarker();
      const container = await startTestContainer(ctx, pod, { command: markedSleeper(marker, { ignoreTerm: true }) });
      ctx.require((await processesAppear(marker)).length > 0, { ids: [], what: "the container's process is visible on the node", expected: `a process with ${marker}`, got: 'none (is the suite on the runtime\'s node, in its PID namespace?)' });
      const removed = await callRuntime(ctx, 'removeContainer', { containerId: container.id }, { extraMs: 30_000 });
      expectStatus(ctx, removed, 'OK', { what: 'RemoveContainer of a running container succeeds' });
      expectStatus(ctx, await callRuntime(ctx, 'containerStatus', { containerId: container.id, verbose: false }), 'NOT_FOUND', { what: 'ContainerStatus of the removed container fails with NOT_FOUND' });
      const left = await processesGone(marker);
      ctx.check(left.length === 0, { what: "the container's processes have ended", expected: 'no process', got: left });
    },
  });
}
