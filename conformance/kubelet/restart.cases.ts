/**
 * Restart policy and back-off (KUBELET-RESTART): which exits restart a
 * container under Always, OnFailure and Never, that a restart is a new CRI
 * container in the same sandbox, and that restarts back off (upstream:
 * kubernetes/kubernetes pkg/kubelet/kuberuntime/kuberuntime_manager.go
 * computePodActions and doBackOff; test/e2e/common/node/runtime.go). The
 * back-off reset after 10 minutes (KUBELET-RESTART-005) is not checked: it
 * does not fit in a suite's time.
 */
import type { CaseContext, Suite } from '../framework/index.js';
import type { Pod } from '../../kubelet/api/pod-types.js';
import type { KubeletSubject } from './kubelet-subject.js';
import {
  awaitPod,
  budgetMs,
  callsOf,
  callsView,
  containerStatus,
  lifecycleCalls,
  pause,
  podCalls,
  podView,
  restartCount,
  runtimeContainerId,
  shellContainer,
  sleeperContainer,
  stateView,
  testPod,
  waitingReason,
  withManifest,
  type PodCall,
} from './pod-manifests.js';

type Ctx = CaseContext<KubeletSubject>;

/** min(10 s, cap): the first back-off delay. @see KUBELET-RESTART-004 */
function firstBackoffSeconds(subject: KubeletSubject): number {
  return Math.min(10, subject.maxRestartPeriodSeconds);
}

/** Checks that container `name` was run as new CRI containers in one sandbox, its status naming the newest. @see KUBELET-RESTART-006 */
function checkNewContainerSameSandbox(ctx: Ctx, pod: Pod, calls: readonly PodCall[], name: string): void {
  const creates = callsOf(calls, 'CreateContainer', name);
  const ids = creates.map((call) => call.containerId ?? '');
  const sandboxes = new Set(creates.map((call) => call.sandboxId ?? ''));
  ctx.check(creates.length >= 2 && new Set(ids).size === ids.length && sandboxes.size === 1 && !sandboxes.has(''), {
    ids: ['KUBELET-RESTART-006'],
    what: `"${name}": each restart is a CreateContainer with a new container ID in the same sandbox`,
    expected: { creates: '>= 2', distinctIds: true, sandboxes: 1 },
    got: creates.map((call) => ({ containerId: call.containerId, podSandboxId: call.sandboxId })),
  });
  const status = containerStatus(pod, name);
  const current = runtimeContainerId(status?.containerID);
  const previous = runtimeContainerId(status?.lastState.terminated?.containerID);
  ctx.check(current !== undefined && previous !== undefined && current !== previous && ids.includes(current) && ids.includes(previous), {
    ids: ['KUBELET-RESTART-006'],
    what: `"${name}": containerID names a newer container than lastState's, both created by the kubelet`,
    expected: `two different IDs of ${JSON.stringify(ids)}`,
    got: { containerID: status?.containerID, lastStateContainerID: status?.lastState.terminated?.containerID },
  });
}

/** Checks lastState holds the previous termination. @see KUBELET-PHASE-010 */
function checkLastState(ctx: Ctx, pod: Pod, name: string, expected: { exitCode: number; reason: string }): void {
  const status = containerStatus(pod, name);
  const last = status?.lastState.terminated;
  ctx.check(last?.exitCode === expected.exitCode && last.reason === expected.reason && (last.finishedAt ?? '') !== '', {
    ids: ['KUBELET-PHASE-010'],
    what: `"${name}": lastState.terminated holds the previous run's exit (${expected.exitCode}, ${expected.reason})`,
    expected: { lastState: { terminated: { ...expected, finishedAt: 'set' } } },
    got: stateView(status),
  });
}

/** Declares the restart policy and back-off cases. */
export function declareRestartCases(suite: Suite<KubeletSubject>): void {
  suite.declare({
    ids: ['KUBELET-RESTART-001', 'KUBELET-RESTART-006', 'KUBELET-PHASE-010', 'KUBELET-PHASE-002'],
    title: 'Under restartPolicy Always a container is restarted whatever its exit code, as a new CRI container in the same sandbox, with lastState holding the previous exit',
    timeoutMs: 60_000,
    async run(ctx: Ctx) {
      const { subject } = ctx;
      const pod = testPod(ctx, 'restart-always', {
        restartPolicy: 'Always',
        containers: [shellContainer(subject, 'ok', 'sleep 1; exit 0'), shellContainer(subject, 'bad', 'sleep 1; exit 2')],
      });
      await withManifest(ctx, pod);
      const both = (seen: Pod): boolean => ['ok', 'bad'].every((name) => restartCount(seen, name) >= 1 && containerStatus(seen, name)?.lastState.terminated !== undefined);
      const restarted = await awaitPod(ctx, pod, 'both containers have been restarted', both, { timeoutMs: budgetMs(subject, firstBackoffSeconds(subject) + 8), ids: ['KUBELET-RESTART-001'] });
      const calls = podCalls(subject, restarted.metadata.uid);
      for (const name of ['ok', 'bad']) {
        ctx.check(callsOf(calls, 'StartContainer', name).length >= 2, { ids: ['KUBELET-RESTART-001'], what: `"${name}" is started again after it exited`, expected: '>= 2 StartContainer', got: callsView(lifecycleCalls(calls)) });
        checkNewContainerSameSandbox(ctx, restarted, calls, name);
      }
      checkLastState(ctx, restarted, 'ok', { exitCode: 0, reason: 'Completed' });
      checkLastState(ctx, restarted, 'bad', { exitCode: 2, reason: 'Error' });
      ctx.check(callsOf(calls, 'RunPodSandbox').length === 1, { ids: ['KUBELET-RESTART-006'], what: 'the restarts keep the pod\'s one sandbox', expected: 1, got: callsOf(calls, 'RunPodSandbox').length });
      ctx.check(restarted.status?.phase === 'Running', { ids: ['KUBELET-PHASE-002'], what: 'the pod is Running while its containers restart', expected: 'Running', got: podView(restarted) });
    },
  });

  suite.declare({
    ids: ['KUBELET-RESTART-002'],
    title: 'Under restartPolicy OnFailure only a container that exited non-zero is restarted',
    timeoutMs: 60_000,
    async run(ctx: Ctx) {
      const { subject } = ctx;
      const pod = testPod(ctx, 'restart-onfailure', {
        restartPolicy: 'OnFailure',
        containers: [shellContainer(subject, 'ok', 'sleep 1; exit 0'), shellContainer(subject, 'bad', 'sleep 1; exit 2')],
      });
      await withManifest(ctx, pod);
      await awaitPod(ctx, pod, '"bad" has been restarted', (seen) => restartCount(seen, 'bad') >= 1, { timeoutMs: budgetMs(subject, firstBackoffSeconds(subject) + 8) });
      await pause(ctx, Math.max(2000, 2 * subject.syncMs));
      const later = await subject.pod(pod.name);
      const calls = podCalls(subject, later?.metadata.uid);
      ctx.check(callsOf(calls, 'CreateContainer', 'bad').length >= 2, { what: 'the container that exited 2 is created again', expected: '>= 2', got: callsView(lifecycleCalls(calls)) });
      ctx.check(callsOf(calls, 'CreateContainer', 'ok').length === 1 && restartCount(later, 'ok') === 0 && containerStatus(later, 'ok')?.state.terminated?.exitCode === 0, {
        what: 'the container that exited 0 is not restarted and stays terminated',
        expected: { CreateContainer: 1, restartCount: 0, terminated: { exitCode: 0 } },
        got: { creates: callsOf(calls, 'CreateContainer', 'ok').length, status: stateView(containerStatus(later, 'ok')) },
      });
    },
  });

  suite.declare({
    ids: ['KUBELET-RESTART-003', 'KUBELET-PHASE-002'],
    title: 'Under restartPolicy Never an exited app container is never restarted, and the pod stays Running while another container runs',
    timeoutMs: 60_000,
    async run(ctx: Ctx) {
      const { subject } = ctx;
      const pod = testPod(ctx, 'restart-never', {
        restartPolicy: 'Never',
        containers: [sleeperContainer(subject, 'steady'), shellContainer(subject, 'crasher', 'sleep 1; exit 1')],
      });
      await withManifest(ctx, pod);
      await awaitPod(ctx, pod, '"crasher" has exited', (seen) => containerStatus(seen, 'crasher')?.state.terminated !== undefined, { timeoutMs: budgetMs(subject, 10) });
      await pause(ctx, Math.max(3000, 3 * subject.syncMs, 1000 * firstBackoffSeconds(subject) / 2));
      const later = await subject.pod(pod.name);
      const calls = podCalls(subject, later?.metadata.uid);
      ctx.check(callsOf(calls, 'CreateContainer', 'crasher').length === 1 && callsOf(calls, 'StartContainer', 'crasher').length === 1, {
        ids: ['KUBELET-RESTART-003'],
        what: 'the exited container is created and started once only',
        expected: { CreateContainer: 1, StartContainer: 1 },
        got: callsView(lifecycleCalls(calls)),
      });
      const status = containerStatus(later, 'crasher');
      ctx.check(status?.restartCount === 0 && status.state.terminated?.exitCode === 1, { ids: ['KUBELET-RESTART-003'], what: 'its status stays terminated with exitCode 1 and restartCount 0', expected: { restartCount: 0, terminated: { exitCode: 1 } }, got: stateView(status) });
      ctx.check(later?.status?.phase === 'Running', { ids: ['KUBELET-PHASE-002'], what: 'the pod is Running: every container started and one still runs', expected: 'Running', got: podView(later) });
    },
  });

  suite.declare({
    ids: ['KUBELET-RESTART-004', 'KUBELET-PHASE-008', 'KUBELET-RESTART-006'],
    title: 'A crash-looping container is restarted with growing delays up to the cap, waiting with reason CrashLoopBackOff in between, and old containers are removed',
    timeoutMs: 150_000,
    async run(ctx: Ctx) {
      const { subject } = ctx;
      const cap = subject.maxRestartPeriodSeconds;
      const base = firstBackoffSeconds(subject);
      const pod = testPod(ctx, 'restart-backoff', { restartPolicy: 'Always', containers: [shellContainer(subject, 'crasher', 'exit 1')] });
      await withManifest(ctx, pod);
      const first = await awaitPod(ctx, pod, 'the pod is in /pods with its UID', (seen) => seen.metadata.uid !== undefined, { timeoutMs: budgetMs(subject, 5) });
      const uid = first.metadata.uid;
      const wanted = 4;
      // Worst case: a first restart after min(10, cap), then doubling, each capped.
      const worstSeconds = [base, Math.min(2 * base, cap), Math.min(4 * base, cap)].reduce((sum, delay) => sum + delay, 0);
      const deadline = Date.now() + budgetMs(subject, worstSeconds + 3 * 3);
      const reasons = new Set<string>();
      const counts: number[] = [];
      let starts = callsOf(podCalls(subject, uid), 'StartContainer', 'crasher');
      while (starts.length < wanted && Date.now() < deadline && !ctx.signal.aborted) {
        const seen = await subject.pod(pod.name);
        const reason = waitingReason(seen, 'crasher');
        if (reason !== undefined) reasons.add(reason);
        counts.push(restartCount(seen, 'crasher'));
        await pause(ctx, 250);
        starts = callsOf(podCalls(subject, uid), 'StartContainer', 'crasher');
      }
      ctx.require(starts.length >= wanted, { ids: ['KUBELET-RESTART-004'], what: `the crash-looping container is started ${wanted} times`, expected: wanted, got: callsView(starts) });
      const gaps = starts.slice(1).map((call, index) => (call.startedAt - (starts[index]?.startedAt ?? call.startedAt)) / 1000);
      const immediate = (gaps[0] ?? 0) < 0.8 * base;
      const expected = (immediate ? [0, base, 2 * base] : [base, 2 * base, 4 * base]).map((delay) => Math.min(delay, cap));
      const slack = 3 + (2 * subject.syncMs) / 1000;
      const fits = gaps.slice(0, 3).every((gap, index) => {
        const want = expected[index] ?? 0;
        return gap >= 0.8 * want - 0.5 && gap <= want + slack;
      });
      ctx.check(fits, {
        ids: ['KUBELET-RESTART-004'],
        what: `gaps between starts follow the back-off (first restart ${immediate ? 'immediate' : `after ${base} s`}, then doubling, cap ${cap} s), within -20% and +${slack.toFixed(1)} s`,
        expected: expected.map((delay) => `${delay} s`),
        got: gaps.map((gap) => `${gap.toFixed(2)} s`),
      });
      const growing = gaps.slice(1).every((gap, index) => gap >= (gaps[index] ?? 0) - 1 || gap >= 0.8 * cap);
      ctx.check(growing, { ids: ['KUBELET-RESTART-004'], what: 'the delay never shrinks until it reaches the cap', expected: 'non-decreasing gaps (1 s slack) or >= 80% of the cap', got: gaps.map((gap) => `${gap.toFixed(2)} s`) });
      ctx.check(reasons.has('CrashLoopBackOff'), { ids: ['KUBELET-RESTART-004', 'KUBELET-PHASE-008'], what: 'between restarts the container waits with reason CrashLoopBackOff', expected: 'CrashLoopBackOff', got: [...reasons] });
      const drop = counts.findIndex((count, index) => index > 0 && count < (counts[index - 1] ?? 0));
      ctx.check(drop < 0, { ids: ['KUBELET-RESTART-004'], what: 'restartCount grows and never drops while the container crash-loops', expected: 'non-decreasing', got: counts });
      // Old containers: at most the newest and the last exited one may stay.
      const removalDeadline = Date.now() + Math.max(3000, 3 * subject.syncMs);
      let kept: string[] = [];
      do {
        const calls = podCalls(subject, uid);
        const removed = new Set(callsOf(calls, 'RemoveContainer', 'crasher').map((call) => call.containerId));
        kept = callsOf(calls, 'CreateContainer', 'crasher').flatMap((call) => (call.containerId === undefined || removed.has(call.containerId) ? [] : [call.containerId]));
        if (kept.length <= 2) break;
        await pause(ctx, 250);
      } while (Date.now() < removalDeadline);
      ctx.check(kept.length <= 2, { ids: ['KUBELET-RESTART-006'], what: 'older exited containers are removed: at most the current and the last exited one are kept', expected: '<= 2 containers not removed', got: kept });
    },
  });
}
