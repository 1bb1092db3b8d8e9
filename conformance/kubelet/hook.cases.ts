/**
 * Lifecycle hooks and termination (KUBELET-HOOK): postStart right after a
 * start and before the next container, preStop before the stop signal and
 * within the grace period, hook failures, and activeDeadlineSeconds. Judged
 * as upstream's node e2e tests judge the real kubelet
 * (kubernetes/kubernetes test/e2e/common/node/lifecycle_hook.go, pods.go;
 * pkg/kubelet/kuberuntime/kuberuntime_container.go killContainer).
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
  execExitCode,
  execsWith,
  ignoringSigterm,
  lifecycleCalls,
  pause,
  podCalls,
  podEvents,
  podNamed,
  podView,
  removePod,
  requestRecorderScript,
  requestTimeoutSeconds,
  restartCount,
  samplePod,
  shellContainer,
  sleeperContainer,
  stateView,
  testPod,
  waitingReason,
  withManifest,
  type PodCall,
} from './pod-manifests.js';

type Ctx = CaseContext<KubeletSubject>;

function isRunning(pod: Pod | undefined, name: string): boolean {
  return containerStatus(pod, name)?.state.running !== undefined;
}

function durationView(call: PodCall | undefined): string {
  return call === undefined ? 'absent' : `${call.endedAt - call.startedAt} ms`;
}

/** Declares the lifecycle hook and termination cases. */
export function declareHookCases(suite: Suite<KubeletSubject>): void {
  suite.declare({
    ids: ['KUBELET-HOOK-001'],
    title: 'A postStart exec hook runs in the container right after it started',
    timeoutMs: 60_000,
    async run(ctx: Ctx) {
      const { subject } = ctx;
      const pod = testPod(ctx, 'hook-poststart-exec', {
        containers: [sleeperContainer(subject, 'hooked', { lifecycle: { postStart: { exec: { command: ['sh', '-c', 'echo hooked > /tmp/poststart # poststart'] } } } })],
      });
      await withManifest(ctx, pod);
      const running = await awaitPod(ctx, pod, 'the container is running', (seen) => isRunning(seen, 'hooked'), { timeoutMs: budgetMs(subject, 10) });
      const calls = podCalls(subject, running.metadata.uid);
      const start = callsOf(calls, 'StartContainer', 'hooked')[0];
      const hook = execsWith(calls, 'hooked', '# poststart')[0];
      ctx.check(start !== undefined && hook !== undefined && hook.startedAt >= start.endedAt - 50 && hook.startedAt <= start.endedAt + 2000, {
        what: 'the hook runs as ExecSync in the container within 2 s after StartContainer returned',
        expected: 'ExecSync 0..2000 ms after StartContainer',
        got: callsView([...lifecycleCalls(calls), ...(hook === undefined ? [] : [hook])].sort((a, b) => a.startedAt - b.startedAt)),
      });
      ctx.check(hook !== undefined && execExitCode(hook) === 0, { what: 'the hook command exits 0', expected: 0, got: hook?.call.response ?? 'no hook call' });
      const written = await subject.exec(pod.name, 'hooked', ['cat', '/tmp/poststart']);
      ctx.check(written.exitCode === 0 && written.stdout.trim() === 'hooked', { what: 'the file the hook wrote is in the container', expected: 'hooked', got: written });
    },
  });

  suite.declare({
    ids: ['KUBELET-HOOK-002'],
    title: 'A postStart httpGet hook without a host requests the pod\'s own IP right after the container started',
    timeoutMs: 60_000,
    async run(ctx: Ctx) {
      const { subject } = ctx;
      const pod = testPod(ctx, 'hook-poststart-http', {
        containers: [
          shellContainer(subject, 'server', requestRecorderScript(8081, '/tmp/requests')),
          sleeperContainer(subject, 'hooked', { lifecycle: { postStart: { httpGet: { path: '/poststart-hook', port: 8081 } } } }),
        ],
      });
      await withManifest(ctx, pod);
      await awaitPod(ctx, pod, 'both containers are running', (seen) => isRunning(seen, 'server') && isRunning(seen, 'hooked'), { timeoutMs: budgetMs(subject, 10) });
      const deadline = Date.now() + budgetMs(subject, 2);
      let requests = { exitCode: -1, stdout: '', stderr: '' };
      do {
        requests = await subject.exec(pod.name, 'server', ['cat', '/tmp/requests']);
        if (requests.stdout.includes('GET /poststart-hook')) break;
        await pause(ctx, 250);
      } while (Date.now() < deadline);
      ctx.check(requests.stdout.includes('GET /poststart-hook'), { what: 'the server in the pod received GET /poststart-hook on the pod IP', expected: 'GET /poststart-hook', got: requests });
    },
  });

  suite.declare({
    ids: ['KUBELET-HOOK-003', 'KUBELET-PHASE-008'],
    title: 'The next container of a pod is started only after the previous one\'s postStart hook returned, waiting with reason ContainerCreating meanwhile',
    timeoutMs: 60_000,
    async run(ctx: Ctx) {
      const { subject } = ctx;
      const pod = testPod(ctx, 'hook-poststart-order', {
        containers: [sleeperContainer(subject, 'first', { lifecycle: { postStart: { exec: { command: ['sh', '-c', 'sleep 3 # slowhook'] } } } }), sleeperContainer(subject, 'second')],
      });
      await withManifest(ctx, pod);
      const samples = (await samplePod(ctx, pod, { forMs: budgetMs(subject, 12), everyMs: 200, until: (seen) => isRunning(seen, 'second') })).flatMap((sample) => (sample.pod === undefined ? [] : [sample.pod]));
      const last = samples.at(-1);
      ctx.require(isRunning(last, 'second'), { ids: ['KUBELET-HOOK-003'], what: 'the second container runs in the end', expected: 'running', got: podView(last) });
      const calls = podCalls(subject, last?.metadata.uid);
      const hook = execsWith(calls, 'first', '# slowhook')[0];
      const secondStart = callsOf(calls, 'StartContainer', 'second')[0];
      ctx.check(hook !== undefined && secondStart !== undefined && secondStart.startedAt >= hook.endedAt, {
        ids: ['KUBELET-HOOK-003'],
        what: 'StartContainer of the second container comes after the first one\'s 3 s postStart hook returned',
        expected: 'StartContainer(second) after ExecSync(hook) ended',
        got: callsView([...lifecycleCalls(calls), ...(hook === undefined ? [] : [hook])].sort((a, b) => a.startedAt - b.startedAt)),
      });
      const creating = samples.some((seen) => waitingReason(seen, 'second') === 'ContainerCreating');
      ctx.check(creating, {
        ids: ['KUBELET-PHASE-008'],
        what: 'while the hook runs, the second container waits with reason ContainerCreating',
        expected: 'ContainerCreating',
        got: samples.slice(0, 5).map((seen) => stateView(containerStatus(seen, 'second'))),
      });
    },
  });

  suite.declare({
    ids: ['KUBELET-HOOK-004'],
    title: 'A failing postStart hook kills the container, which is restarted under its policy, and records FailedPostStartHook',
    timeoutMs: 60_000,
    async run(ctx: Ctx) {
      const { subject } = ctx;
      const pod = testPod(ctx, 'hook-poststart-fails', {
        restartPolicy: 'Always',
        containers: [sleeperContainer(subject, 'hooked', { lifecycle: { postStart: { exec: { command: ['sh', '-c', 'exit 7 # failhook'] } } } })],
      });
      await withManifest(ctx, pod);
      const restarted = await awaitPod(ctx, pod, 'the container has been restarted', (seen) => restartCount(seen, 'hooked') >= 1, { timeoutMs: budgetMs(subject, Math.min(10, subject.maxRestartPeriodSeconds) + 8) });
      const calls = podCalls(subject, restarted.metadata.uid);
      const hook = execsWith(calls, 'hooked', '# failhook')[0];
      const stop = callsOf(calls, 'StopContainer', 'hooked')[0];
      ctx.check(hook !== undefined && stop !== undefined && stop.startedAt >= hook.endedAt && execExitCode(hook) !== 0, {
        what: 'after the hook failed the container is stopped',
        expected: 'ExecSync(hook) non-zero, then StopContainer',
        got: callsView([...lifecycleCalls(calls), ...(hook === undefined ? [] : [hook])].sort((a, b) => a.startedAt - b.startedAt)),
      });
      ctx.check(callsOf(calls, 'CreateContainer', 'hooked').length >= 2, { what: 'under Always it is created again', expected: '>= 2 CreateContainer', got: callsView(lifecycleCalls(calls)) });
      const events = await podEvents(ctx, restarted, 'FailedPostStartHook');
      ctx.check(events.length > 0 && events.every((event) => event.involvedObject.name === podNamed(subject, pod.name)), {
        what: 'an event of reason FailedPostStartHook about the pod is recorded',
        expected: { reason: 'FailedPostStartHook', involvedObject: { name: podNamed(subject, pod.name) } },
        got: events.length > 0 ? events : (await podEvents(ctx, restarted)).map((event) => event.reason),
      });
    },
  });

  suite.declare({
    ids: ['KUBELET-HOOK-005', 'KUBELET-HOOK-006'],
    title: 'Stopping runs preStop before the stop signal, and the grace period covers both: a container ignoring SIGTERM is killed when it ends',
    timeoutMs: 60_000,
    async run(ctx: Ctx) {
      const { subject } = ctx;
      const grace = 6;
      const pod = testPod(ctx, 'hook-prestop', {
        terminationGracePeriodSeconds: grace,
        containers: [
          shellContainer(subject, 'stubborn', ignoringSigterm, { lifecycle: { preStop: { exec: { command: ['sh', '-c', 'sleep 2 # prestop'] } } } }),
          sleeperContainer(subject, 'polite'),
        ],
      });
      await withManifest(ctx, pod);
      const running = await awaitPod(ctx, pod, 'both containers are running', (seen) => isRunning(seen, 'stubborn') && isRunning(seen, 'polite'), { timeoutMs: budgetMs(subject, 10) });
      const removedAt = Date.now();
      await removePod(ctx, pod);
      const calls = podCalls(subject, running.metadata.uid).filter((call) => call.startedAt >= removedAt);
      const preStop = execsWith(calls, 'stubborn', '# prestop')[0];
      const stop = callsOf(calls, 'StopContainer', 'stubborn')[0];
      const view = callsView([...lifecycleCalls(calls), ...(preStop === undefined ? [] : [preStop])].sort((a, b) => a.startedAt - b.startedAt), removedAt);
      ctx.check(preStop !== undefined && stop !== undefined && stop.startedAt >= preStop.endedAt - 50, {
        ids: ['KUBELET-HOOK-005'],
        what: 'the preStop hook ran, and returned before StopContainer sent the stop signal',
        expected: 'ExecSync(preStop) ended, then StopContainer(stubborn)',
        got: view,
      });
      const timeout = stop === undefined ? undefined : requestTimeoutSeconds(stop);
      ctx.check(timeout !== undefined && timeout >= 2 && timeout <= grace - 2, {
        ids: ['KUBELET-HOOK-006'],
        what: `StopContainer carries what is left of the ${grace} s grace period after the 2 s preStop hook`,
        expected: `2..${grace - 2} s`,
        got: stop === undefined ? view : stop.call.request,
      });
      const stopMs = stop === undefined ? undefined : stop.endedAt - stop.startedAt;
      ctx.check(timeout !== undefined && stopMs !== undefined && stopMs >= timeout * 1000 - 700 && stopMs <= timeout * 1000 + 2500, {
        ids: ['KUBELET-HOOK-006'],
        what: 'the container ignoring SIGTERM is killed when StopContainer\'s timeout ends, not before and not much after',
        expected: timeout === undefined ? 'a timeout' : `${timeout * 1000} ms (-0.7 s, +2.5 s)`,
        got: durationView(stop),
      });
      const total = stop !== undefined && preStop !== undefined ? stop.endedAt - preStop.startedAt : undefined;
      ctx.check(total !== undefined && total <= (grace + 2.5) * 1000, {
        ids: ['KUBELET-HOOK-006'],
        what: `preStop and stop together take no longer than the ${grace} s grace period (+2.5 s)`,
        expected: `<= ${(grace + 2.5) * 1000} ms`,
        got: total === undefined ? view : `${total} ms`,
      });
      const polite = callsOf(calls, 'StopContainer', 'polite')[0];
      const politeTimeout = polite === undefined ? undefined : requestTimeoutSeconds(polite);
      ctx.check(politeTimeout !== undefined && politeTimeout >= grace - 1 && politeTimeout <= grace && polite !== undefined && polite.endedAt - polite.startedAt < 2500, {
        ids: ['KUBELET-HOOK-006'],
        what: `the container without a preStop hook gets the whole grace period (${grace} s) and, honouring SIGTERM, stops at once`,
        expected: { timeout: grace, durationMs: '< 2500' },
        got: { request: polite?.call.request ?? 'no StopContainer', duration: durationView(polite) },
      });
    },
  });

  suite.declare({
    ids: ['KUBELET-HOOK-007'],
    title: 'activeDeadlineSeconds ends the pod: phase Failed with reason DeadlineExceeded and its containers killed',
    timeoutMs: 60_000,
    async run(ctx: Ctx) {
      const { subject } = ctx;
      const pod = testPod(ctx, 'hook-deadline', { activeDeadlineSeconds: 3, containers: [sleeperContainer(subject, 'app')] });
      await withManifest(ctx, pod);
      const running = await awaitPod(ctx, pod, 'the container is running', (seen) => isRunning(seen, 'app'), { timeoutMs: budgetMs(subject, 10) });
      const startedAt = Date.parse(running.status?.startTime ?? '') || Date.now();
      const failed = await awaitPod(ctx, pod, 'the pod is Failed', (seen) => seen.status?.phase === 'Failed', { timeoutMs: budgetMs(subject, 3 + 5) });
      ctx.check(failed.status?.reason === 'DeadlineExceeded', { what: 'the pod\'s reason is DeadlineExceeded', expected: 'DeadlineExceeded', got: podView(failed) });
      ctx.check(Date.now() - startedAt >= 2000, { what: 'the pod was not failed before its deadline', expected: '>= 3 s after startTime (1 s slack)', got: `${Date.now() - startedAt} ms` });
      const ended = await awaitPod(ctx, pod, 'the container is no longer running', (seen) => !isRunning(seen, 'app'), { timeoutMs: budgetMs(subject, 4) });
      const calls = podCalls(subject, failed.metadata.uid);
      ctx.check(callsOf(calls, 'StopContainer', 'app').length >= 1, { what: 'the container is stopped through StopContainer', expected: '>= 1 StopContainer', got: callsView(lifecycleCalls(calls)) });
      ctx.check(containerStatus(ended, 'app')?.state.terminated !== undefined && restartCount(ended, 'app') === 0, { what: 'the container is terminated and not restarted', expected: { terminated: 'set', restartCount: 0 }, got: stateView(containerStatus(ended, 'app')) });
    },
  });

  suite.declare({
    ids: ['KUBELET-HOOK-008'],
    title: 'A failing preStop hook records FailedPreStopHook and the container is stopped anyway',
    timeoutMs: 60_000,
    async run(ctx: Ctx) {
      const { subject } = ctx;
      const pod = testPod(ctx, 'hook-prestop-fails', {
        containers: [sleeperContainer(subject, 'app', { lifecycle: { preStop: { exec: { command: ['sh', '-c', 'exit 5 # failstop'] } } } })],
      });
      await withManifest(ctx, pod);
      const running = await awaitPod(ctx, pod, 'the container is running', (seen) => isRunning(seen, 'app'), { timeoutMs: budgetMs(subject, 10) });
      await removePod(ctx, pod);
      const calls = podCalls(subject, running.metadata.uid);
      const hook = execsWith(calls, 'app', '# failstop')[0];
      const stop = callsOf(calls, 'StopContainer', 'app')[0];
      ctx.check(hook !== undefined && execExitCode(hook) !== 0 && stop !== undefined && stop.startedAt >= hook.endedAt - 50, {
        what: 'the preStop hook failed and StopContainer followed',
        expected: 'ExecSync(preStop) non-zero, then StopContainer',
        got: callsView([...lifecycleCalls(calls), ...(hook === undefined ? [] : [hook])].sort((a, b) => a.startedAt - b.startedAt)),
      });
      const events = await podEvents(ctx, running, 'FailedPreStopHook');
      ctx.check(events.length > 0, { what: 'an event of reason FailedPreStopHook about the pod is recorded', expected: 'FailedPreStopHook', got: (await podEvents(ctx, running)).map((event) => event.reason) });
    },
  });
}
