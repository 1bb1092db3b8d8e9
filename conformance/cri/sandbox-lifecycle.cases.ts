import { ContainerState, PodSandboxState } from '../../specs/cri/index.js';
import type { CaseContext, Suite } from '../framework/index.js';
import { callRuntime } from './cri-calls.js';
import {
  listContainers,
  listSandboxes,
  nowNs,
  sameMap,
  sandboxStateName,
  sandboxStatus,
  showTimestamp,
  unknownId,
  withinWindow,
  containerStateName,
} from './cri-observe.js';
import type { CriSubject } from './cri-subject.js';
import { describeOutcome, expectStatus, requireOk } from './expect-status.js';
import { markedSleeper, processesGone, processMarker, processesAppear } from './node-processes.js';
import { containerStatus, podSandboxConfig, runPodSandbox, runTestPod, startTestContainer } from './pod-fixtures.js';

type Ctx = CaseContext<CriSubject>;

/** Labels shaped like the kubelet's, with the characters keys and values may hold. */
export const testLabels = {
  'io.kubernetes.pod.name': 'kp-label-test',
  'app.kubernetes.io/component': 'cri-suite',
  'example.com/empty-value': '',
  tier: 'back_end-1.2',
} as const;

/** Annotations the runtime must return byte for byte: JSON, new lines, non-ASCII, an empty value. */
export const testAnnotations = {
  'kubectl.kubernetes.io/last-applied-configuration': '{"apiVersion":"v1","kind":"Pod","metadata":{"name":"x"}}\n',
  'example.com/multi-line': 'first line\nsecond line\n\ttabbed',
  'example.com/unicode': 'grüße, 世界 ✓',
  'example.com/empty': '',
} as const;

/** Declares the sandbox lifecycle cases (CRI-SANDBOX-001…009, 028…030, 032, 033, 035…039). */
export function declareSandboxLifecycleCases(suite: Suite<CriSubject>): void {
  suite.declare({
    ids: ['CRI-SANDBOX-001', 'CRI-SANDBOX-003', 'CRI-SANDBOX-004', 'CRI-SANDBOX-005', 'CRI-SANDBOX-006', 'CRI-SANDBOX-007', 'CRI-SANDBOX-008'],
    title: 'RunPodSandbox returns a ready sandbox whose status and listing give back its metadata, labels, annotations and creation time',
    async run(ctx: Ctx) {
      const config = podSandboxConfig(ctx, { labels: testLabels, annotations: testAnnotations });
      const from = nowNs();
      const pod = await runPodSandbox(ctx, config, { ids: ['CRI-SANDBOX-001'] });
      const to = nowNs();
      ctx.check(pod.id !== '', { ids: ['CRI-SANDBOX-001'], what: 'pod_sandbox_id is not empty', expected: 'an ID', got: pod.id });
      const status = await sandboxStatus(ctx, pod.id);
      ctx.check(status.state === PodSandboxState.SANDBOX_READY, { ids: ['CRI-SANDBOX-003'], what: 'PodSandboxStatus reports SANDBOX_READY', expected: 'SANDBOX_READY', got: sandboxStateName(status.state) });
      ctx.check(status.id === pod.id, { ids: ['CRI-SANDBOX-004'], what: 'status.id is the ID asked for', expected: pod.id, got: status.id });
      ctx.check(JSON.stringify(status.metadata) === JSON.stringify(config.metadata), { ids: ['CRI-SANDBOX-004'], what: 'status.metadata is the configured metadata', expected: config.metadata, got: status.metadata ?? 'absent' });
      ctx.check(sameMap(status.labels, config.labels), { ids: ['CRI-SANDBOX-005'], what: 'PodSandboxStatus labels are exactly the configured ones', expected: config.labels, got: status.labels });
      ctx.check(sameMap(status.annotations, config.annotations), { ids: ['CRI-SANDBOX-006'], what: 'PodSandboxStatus annotations are exactly the configured ones', expected: config.annotations, got: status.annotations });
      ctx.check(withinWindow(status.createdAt, { from, to }), { ids: ['CRI-SANDBOX-008'], what: 'PodSandboxStatus created_at is a positive nanosecond time between the call and its answer', expected: `${showTimestamp(from)} .. ${showTimestamp(to)} (±1 s)`, got: showTimestamp(status.createdAt) });

      const listed = (await listSandboxes(ctx, undefined)).find((item) => item.id === pod.id);
      ctx.require(listed !== undefined, { ids: ['CRI-SANDBOX-003'], what: 'ListPodSandbox lists the new sandbox', expected: pod.id, got: 'not listed' });
      ctx.check(listed.state === PodSandboxState.SANDBOX_READY, { ids: ['CRI-SANDBOX-003'], what: 'ListPodSandbox reports SANDBOX_READY', expected: 'SANDBOX_READY', got: sandboxStateName(listed.state) });
      ctx.check(sameMap(listed.labels, config.labels), { ids: ['CRI-SANDBOX-005'], what: 'ListPodSandbox labels are exactly the configured ones', expected: config.labels, got: listed.labels });
      ctx.check(sameMap(listed.annotations, config.annotations), { ids: ['CRI-SANDBOX-007'], what: 'ListPodSandbox annotations are exactly the configured ones', expected: config.annotations, got: listed.annotations });
      ctx.check(withinWindow(listed.createdAt, { from, to }), { ids: ['CRI-SANDBOX-008'], what: 'ListPodSandbox created_at is a positive nanosecond time between the call and its answer', expected: `${showTimestamp(from)} .. ${showTimestamp(to)} (±1 s)`, got: showTimestamp(listed.createdAt) });
    },
  });

  suite.declare({
    ids: ['CRI-SANDBOX-002'],
    title: 'Sandboxes run at the same time get distinct IDs',
    timeoutMs: 90_000,
    async run(ctx: Ctx) {
      const pods = await Promise.all([0, 1, 2, 3].map(() => runTestPod(ctx)));
      const ids = pods.map((pod) => pod.id);
      ctx.check(new Set(ids).size === ids.length, { what: 'four sandboxes run concurrently have four different IDs', expected: 'distinct IDs', got: ids });
    },
  });

  suite.declare({
    ids: ['CRI-SANDBOX-009'],
    title: 'PodSandboxStatus of a sandbox never created, or removed, fails with NOT_FOUND',
    async run(ctx: Ctx) {
      const never = await callRuntime(ctx, 'podSandboxStatus', { podSandboxId: unknownId(), verbose: false });
      expectStatus(ctx, never, 'NOT_FOUND', { what: 'PodSandboxStatus of an ID never issued fails with NOT_FOUND' });
      const pod = await runTestPod(ctx);
      requireOk(ctx, await callRuntime(ctx, 'stopPodSandbox', { podSandboxId: pod.id }), { what: 'StopPodSandbox succeeds' });
      requireOk(ctx, await callRuntime(ctx, 'removePodSandbox', { podSandboxId: pod.id }), { what: 'RemovePodSandbox succeeds' });
      const removed = await callRuntime(ctx, 'podSandboxStatus', { podSandboxId: pod.id, verbose: false });
      expectStatus(ctx, removed, 'NOT_FOUND', { what: 'PodSandboxStatus of a removed sandbox fails with NOT_FOUND' });
    },
  });

  suite.declare({
    ids: ['CRI-SANDBOX-028'],
    title: 'RunPodSandbox with run_as_group but no run_as_user is refused',
    async run(ctx: Ctx) {
      const config = podSandboxConfig(ctx);
      const security = config.linux?.securityContext;
      if (security !== undefined) security.runAsGroup = { value: 1000n };
      let madeId: string | undefined;
      ctx.defer(async () => {
        if (madeId !== undefined) {
          await callRuntime(ctx, 'stopPodSandbox', { podSandboxId: madeId });
          await callRuntime(ctx, 'removePodSandbox', { podSandboxId: madeId });
        }
      }, 'remove a sandbox that should not exist');
      const ran = await callRuntime(ctx, 'runPodSandbox', { config, runtimeHandler: '' });
      if (ran.ok) madeId = ran.response.podSandboxId;
      ctx.check(!ran.ok, { what: 'RunPodSandbox with run_as_group 1000 and no run_as_user fails', expected: 'an error', got: describeOutcome(ran) });
    },
  });

  suite.declare({
    ids: ['CRI-SANDBOX-029'],
    title: 'RunPodSandbox naming a runtime handler the runtime does not have is refused',
    async run(ctx: Ctx) {
      const handler = 'kubeplug-no-such-handler';
      const config = podSandboxConfig(ctx);
      let madeId: string | undefined;
      ctx.defer(async () => {
        if (madeId !== undefined) {
          await callRuntime(ctx, 'stopPodSandbox', { podSandboxId: madeId });
          await callRuntime(ctx, 'removePodSandbox', { podSandboxId: madeId });
        }
      }, 'remove a sandbox that should not exist');
      const ran = await callRuntime(ctx, 'runPodSandbox', { config, runtimeHandler: handler });
      if (ran.ok) madeId = ran.response.podSandboxId;
      ctx.check(!ran.ok, { what: `RunPodSandbox with runtime_handler "${handler}" fails`, expected: 'an error', got: describeOutcome(ran) });
    },
  });

  suite.declare({
    ids: ['CRI-SANDBOX-030'],
    title: 'A second RunPodSandbox with the metadata of an existing sandbox is refused',
    async run(ctx: Ctx) {
      const pod = await runTestPod(ctx);
      const again = podSandboxConfig(ctx);
      const copy = { ...again, metadata: pod.config.metadata };
      let madeId: string | undefined;
      ctx.defer(async () => {
        if (madeId !== undefined && madeId !== pod.id) {
          await callRuntime(ctx, 'stopPodSandbox', { podSandboxId: madeId });
          await callRuntime(ctx, 'removePodSandbox', { podSandboxId: madeId });
        }
      }, 'remove a duplicate sandbox');
      const ran = await callRuntime(ctx, 'runPodSandbox', { config: copy, runtimeHandler: '' });
      if (ran.ok) madeId = ran.response.podSandboxId;
      ctx.check(!ran.ok, { what: 'RunPodSandbox reusing name, uid, namespace and attempt of a live sandbox fails', expected: 'an error', got: describeOutcome(ran) });
    },
  });

  suite.declare({
    ids: ['CRI-SANDBOX-032', 'CRI-SANDBOX-035'],
    title: 'A stopped sandbox is NOTREADY and stays listed; stopping it again succeeds and changes nothing',
    async run(ctx: Ctx) {
      const pod = await runTestPod(ctx);
      const stopped = await callRuntime(ctx, 'stopPodSandbox', { podSandboxId: pod.id });
      requireOk(ctx, stopped, { ids: ['CRI-SANDBOX-032'], what: 'StopPodSandbox succeeds' });
      const status = await sandboxStatus(ctx, pod.id, { ids: ['CRI-SANDBOX-032'] });
      ctx.check(status.state === PodSandboxState.SANDBOX_NOTREADY, { ids: ['CRI-SANDBOX-032'], what: 'PodSandboxStatus reports SANDBOX_NOTREADY after StopPodSandbox', expected: 'SANDBOX_NOTREADY', got: sandboxStateName(status.state) });
      const listed = (await listSandboxes(ctx, undefined)).find((item) => item.id === pod.id);
      ctx.check(listed?.state === PodSandboxState.SANDBOX_NOTREADY, { ids: ['CRI-SANDBOX-032'], what: 'ListPodSandbox still lists the stopped sandbox, as SANDBOX_NOTREADY', expected: 'SANDBOX_NOTREADY', got: listed === undefined ? 'not listed' : sandboxStateName(listed.state) });
      for (const attempt of ['second', 'third']) {
        const again = await callRuntime(ctx, 'stopPodSandbox', { podSandboxId: pod.id });
        expectStatus(ctx, again, 'OK', { ids: ['CRI-SANDBOX-035'], what: `a ${attempt} StopPodSandbox succeeds` });
      }
      const after = await sandboxStatus(ctx, pod.id, { ids: ['CRI-SANDBOX-035'] });
      ctx.check(after.state === PodSandboxState.SANDBOX_NOTREADY && after.createdAt === status.createdAt, {
        ids: ['CRI-SANDBOX-035'],
        what: 'the repeated stops change nothing: still SANDBOX_NOTREADY, same created_at',
        expected: { state: 'SANDBOX_NOTREADY', createdAt: status.createdAt },
        got: { state: sandboxStateName(after.state), createdAt: after.createdAt },
      });
    },
  });

  suite.declare({
    ids: ['CRI-SANDBOX-033'],
    title: 'StopPodSandbox leaves every running container of the sandbox EXITED, even one ignoring SIGTERM',
    timeoutMs: 90_000,
    async run(ctx: Ctx) {
      const pod = await runTestPod(ctx);
      const polite = await startTestContainer(ctx, pod, { command: markedSleeper(processMarker()) });
      const stubborn = await startTestContainer(ctx, pod, { command: markedSleeper(processMarker(), { ignoreTerm: true }) });
      const stopped = await callRuntime(ctx, 'stopPodSandbox', { podSandboxId: pod.id }, { extraMs: 60_000 });
      requireOk(ctx, stopped, { what: 'StopPodSandbox succeeds' });
      for (const [label, container] of [['a container that exits on SIGTERM', polite], ['a container ignoring SIGTERM', stubborn]] as const) {
        const status = await containerStatus(ctx, container.id);
        ctx.check(status.state === ContainerState.CONTAINER_EXITED, { what: `${label} is CONTAINER_EXITED once StopPodSandbox returns`, expected: 'CONTAINER_EXITED', got: containerStateName(status.state) });
      }
    },
  });

  suite.declare({
    ids: ['CRI-SANDBOX-036'],
    title: 'StopPodSandbox of a sandbox the runtime does not hold succeeds',
    async run(ctx: Ctx) {
      const stopped = await callRuntime(ctx, 'stopPodSandbox', { podSandboxId: unknownId() });
      expectStatus(ctx, stopped, 'OK', { what: 'StopPodSandbox of an ID never issued succeeds' });
    },
  });

  suite.declare({
    ids: ['CRI-SANDBOX-037', 'CRI-SANDBOX-039'],
    title: 'A removed sandbox is gone from status and listing, and removing it again, or an ID never issued, succeeds',
    async run(ctx: Ctx) {
      const pod = await runTestPod(ctx);
      requireOk(ctx, await callRuntime(ctx, 'stopPodSandbox', { podSandboxId: pod.id }), { what: 'StopPodSandbox succeeds' });
      const removed = await callRuntime(ctx, 'removePodSandbox', { podSandboxId: pod.id });
      requireOk(ctx, removed, { ids: ['CRI-SANDBOX-037'], what: 'RemovePodSandbox succeeds' });
      const status = await callRuntime(ctx, 'podSandboxStatus', { podSandboxId: pod.id, verbose: false });
      expectStatus(ctx, status, 'NOT_FOUND', { ids: ['CRI-SANDBOX-037'], what: 'PodSandboxStatus of the removed sandbox fails with NOT_FOUND' });
      const listed = (await listSandboxes(ctx, undefined)).some((item) => item.id === pod.id);
      ctx.check(!listed, { ids: ['CRI-SANDBOX-037'], what: 'ListPodSandbox no longer lists the removed sandbox', expected: 'not listed', got: listed ? 'listed' : 'not listed' });
      for (const attempt of ['second', 'third']) {
        expectStatus(ctx, await callRuntime(ctx, 'removePodSandbox', { podSandboxId: pod.id }), 'OK', { ids: ['CRI-SANDBOX-039'], what: `a ${attempt} RemovePodSandbox of the removed sandbox succeeds` });
      }
      expectStatus(ctx, await callRuntime(ctx, 'removePodSandbox', { podSandboxId: unknownId() }), 'OK', { ids: ['CRI-SANDBOX-039'], what: 'RemovePodSandbox of an ID never issued succeeds' });
    },
  });

  suite.declare({
    ids: ['CRI-SANDBOX-038'],
    title: 'RemovePodSandbox of a sandbox with a running container removes the container and ends its processes',
    needs: { root: true },
    timeoutMs: 60_000,
    async run(ctx: Ctx) {
      const pod = await runTestPod(ctx);
      const marker = processMarker();
      const container = await startTestContainer(ctx, pod, { command: markedSleeper(marker, { ignoreTerm: true }) });
      ctx.require((await processesAppear(marker)).length > 0, { ids: [], what: 'the container\'s process is visible on the node', expected: `a process with ${marker}`, got: 'none (is the suite on the runtime\'s node, in its PID namespace?)' });
      const removed = await callRuntime(ctx, 'removePodSandbox', { podSandboxId: pod.id }, { extraMs: 30_000 });
      expectStatus(ctx, removed, 'OK', { what: 'RemovePodSandbox of a ready sandbox with a running container succeeds' });
      const status = await callRuntime(ctx, 'containerStatus', { containerId: container.id, verbose: false });
      expectStatus(ctx, status, 'NOT_FOUND', { what: 'ContainerStatus of the container fails with NOT_FOUND' });
      const listed = (await listContainers(ctx, undefined)).some((item) => item.id === container.id);
      ctx.check(!listed, { what: 'ListContainers no longer lists the container', expected: 'not listed', got: listed ? 'listed' : 'not listed' });
      const left = await processesGone(marker);
      ctx.check(left.length === 0, { what: 'the container\'s processes have ended', expected: 'no process', got: left });
    },
  });
}
