/**
 * Probes (KUBELET-PROBE): exec through CRI ExecSync, httpGet, tcpSocket,
 * defaults, initial results, startup gating, thresholds, timeouts and what a
 * failure does. Judged as upstream's node e2e tests judge the real kubelet
 * (kubernetes/kubernetes test/e2e/common/node/container_probe.go), with
 * periods of 1 s so the suite stays short. grpc probes (KUBELET-PROBE-004)
 * are not checked here: the busybox test image serves no gRPC.
 */
import type { CaseContext, Suite } from '../framework/index.js';
import type { Pod, Probe } from '../../kubelet/api/pod-types.js';
import type { KubeletSubject } from './kubelet-subject.js';
import {
  awaitPod,
  budgetMs,
  callsOf,
  callsView,
  condition,
  conditionStatus,
  containerStatus,
  execExitCode,
  execsWith,
  httpServerScript,
  lifecycleCalls,
  pause,
  podCalls,
  podView,
  requestTimeoutSeconds,
  restartCount,
  samplePod,
  shellContainer,
  sleeperContainer,
  stateView,
  testPod,
  untilStopped,
  withManifest,
  type PodCall,
  type PodSample,
} from './pod-manifests.js';

type Ctx = CaseContext<KubeletSubject>;

function isReady(pod: Pod | undefined, name: string): boolean {
  return containerStatus(pod, name)?.ready === true;
}

function podsOf(samples: readonly PodSample[]): Pod[] {
  return samples.flatMap((sample) => (sample.pod === undefined ? [] : [sample.pod]));
}

/** Declares the probe cases. */
export function declareProbeCases(suite: Suite<KubeletSubject>): void {
  suite.declare({
    ids: ['KUBELET-PROBE-001', 'KUBELET-PROBE-006'],
    title: 'An exec readiness probe runs through ExecSync in the container with its timeout, and the container is ready only once it succeeded; one without a probe is ready at once',
    timeoutMs: 60_000,
    async run(ctx: Ctx) {
      const { subject } = ctx;
      const pod = testPod(ctx, 'probe-exec', {
        containers: [
          shellContainer(subject, 'probed', `sleep 3; touch /tmp/ready; ${untilStopped}`, {
            readinessProbe: { exec: { command: ['test', '-f', '/tmp/ready'] }, periodSeconds: 1, timeoutSeconds: 2 },
          }),
          sleeperContainer(subject, 'plain'),
        ],
      });
      await withManifest(ctx, pod);
      const samples = await samplePod(ctx, pod, { forMs: budgetMs(subject, 12), everyMs: 200, until: (seen) => isReady(seen, 'probed') });
      const pods = podsOf(samples);
      const last = pods.at(-1);
      ctx.require(last !== undefined && isReady(last, 'probed'), { ids: ['KUBELET-PROBE-001', 'KUBELET-PROBE-006'], what: 'the probed container becomes ready once /tmp/ready exists in it', expected: 'ready true', got: podView(last) });
      const calls = podCalls(subject, last.metadata.uid);
      const probes = execsWith(calls, 'probed', '/tmp/ready');
      ctx.check(probes.length > 0 && probes.every((call) => requestTimeoutSeconds(call) === 2), {
        ids: ['KUBELET-PROBE-001'],
        what: 'the probe runs as ExecSync of its command in the container, with timeout = timeoutSeconds (2)',
        expected: { cmd: ['test', '-f', '/tmp/ready'], timeout: 2 },
        got: probes.slice(0, 3).map((call) => call.call.request),
      });
      const failures = probes.filter((call) => execExitCode(call) !== 0);
      const firstSuccess = probes.find((call) => execExitCode(call) === 0);
      ctx.check(failures.length > 0 && firstSuccess !== undefined, {
        ids: ['KUBELET-PROBE-001'],
        what: 'the probe failed while the file was missing (non-zero exit) and succeeded once it existed (exit 0)',
        expected: 'non-zero exits, then exit 0',
        got: probes.map((call) => execExitCode(call) ?? call.call.code),
      });
      const notReadyRunning = samples.filter((sample) => sample.pod !== undefined && containerStatus(sample.pod, 'probed')?.state.running !== undefined && !isReady(sample.pod, 'probed'));
      ctx.check(notReadyRunning.length > 0, {
        ids: ['KUBELET-PROBE-006'],
        what: 'the probed container is running but not ready before its probe succeeded (readiness starts as Failure)',
        expected: '>= 1 sample running with ready false',
        got: pods.slice(0, 3).map((seen) => stateView(containerStatus(seen, 'probed'))),
      });
      const early = samples.find((sample) => isReady(sample.pod, 'probed') && (firstSuccess === undefined || sample.at < firstSuccess.startedAt));
      ctx.check(early === undefined, { ids: ['KUBELET-PROBE-006'], what: 'the probed container is never ready before its first successful probe', expected: 'no such sample', got: early === undefined ? 'none' : podView(early.pod) });
      const plainLate = pods.find((seen) => containerStatus(seen, 'plain')?.state.running !== undefined && !isReady(seen, 'plain') && isReady(seen, 'probed'));
      const plainAtOnce = pods.some((seen) => isReady(seen, 'plain') && !isReady(seen, 'probed'));
      ctx.check(plainAtOnce && plainLate === undefined, {
        ids: ['KUBELET-PROBE-006'],
        what: 'the container without a readiness probe is ready as soon as it runs, before the probed one',
        expected: 'a sample with "plain" ready and "probed" not',
        got: pods.slice(0, 4).map((seen) => ({ plain: stateView(containerStatus(seen, 'plain')), probed: containerStatus(seen, 'probed')?.ready })),
      });
      ctx.check(conditionStatus(last, 'Ready') === 'True', { ids: ['KUBELET-PROBE-006'], what: 'the pod is Ready once both containers are', expected: 'True', got: podView(last) });
    },
  });

  suite.declare({
    ids: ['KUBELET-PROBE-002', 'KUBELET-PROBE-003'],
    title: 'httpGet probes succeed on a 200 answer and fail on a 404; tcpSocket probes succeed when a connection opens and fail when refused',
    timeoutMs: 60_000,
    async run(ctx: Ctx) {
      const { subject } = ctx;
      const period = { periodSeconds: 1, failureThreshold: 1 } satisfies Partial<Probe>;
      const pod = testPod(ctx, 'probe-net', {
        containers: [
          shellContainer(subject, 'web', httpServerScript(8080), {
            ports: [{ name: 'http', containerPort: 8080 }],
            readinessProbe: { httpGet: { path: '/index.html', port: 'http', httpHeaders: [{ name: 'X-Kubeplug', value: 'probe' }] }, ...period },
          }),
          sleeperContainer(subject, 'http-missing', { readinessProbe: { httpGet: { path: '/absent.html', port: 8080 }, ...period } }),
          sleeperContainer(subject, 'tcp-open', { readinessProbe: { tcpSocket: { port: 8080 }, ...period } }),
          sleeperContainer(subject, 'tcp-closed', { readinessProbe: { tcpSocket: { port: 8089 }, ...period } }),
        ],
      });
      await withManifest(ctx, pod);
      const bothOpen = (seen: Pod): boolean => isReady(seen, 'web') && isReady(seen, 'tcp-open');
      const opened = podsOf(await samplePod(ctx, pod, { forMs: budgetMs(subject, 10), until: bothOpen })).at(-1);
      ctx.check(isReady(opened, 'web'), { ids: ['KUBELET-PROBE-002'], what: 'the httpGet probe of a path the server has (200, named port, extra header) makes the container ready', expected: 'ready true', got: stateView(containerStatus(opened, 'web')) });
      ctx.check(isReady(opened, 'tcp-open'), { ids: ['KUBELET-PROBE-003'], what: 'the tcpSocket probe of the listening port makes the container ready', expected: 'ready true', got: stateView(containerStatus(opened, 'tcp-open')) });
      // The failing probes have had time to run several times once the others passed.
      const watched = podsOf(await samplePod(ctx, pod, { forMs: Math.max(3000, 3 * subject.syncMs) }));
      const missingReady = watched.find((seen) => isReady(seen, 'http-missing'));
      ctx.check(watched.length > 0 && missingReady === undefined && containerStatus(watched.at(-1), 'http-missing')?.state.running !== undefined, {
        ids: ['KUBELET-PROBE-002'],
        what: 'the httpGet probe of a path the server lacks (404) keeps its running container not ready',
        expected: { running: 'set', ready: false },
        got: stateView(containerStatus(missingReady ?? watched.at(-1), 'http-missing')),
      });
      const closedReady = watched.find((seen) => isReady(seen, 'tcp-closed'));
      ctx.check(watched.length > 0 && closedReady === undefined && containerStatus(watched.at(-1), 'tcp-closed')?.state.running !== undefined, {
        ids: ['KUBELET-PROBE-003'],
        what: 'the tcpSocket probe of a port nothing listens on keeps its running container not ready',
        expected: { running: 'set', ready: false },
        got: stateView(containerStatus(closedReady ?? watched.at(-1), 'tcp-closed')),
      });
      ctx.check(conditionStatus(watched.at(-1), 'Ready') === 'False', { ids: ['KUBELET-PROBE-002', 'KUBELET-PROBE-003'], what: 'the pod is not Ready while two containers are not', expected: 'False', got: podView(watched.at(-1)) });
    },
  });

  suite.declare({
    ids: ['KUBELET-PROBE-005'],
    title: 'Probe fields left out show their defaults in /pods: timeoutSeconds 1, periodSeconds 10, successThreshold 1, failureThreshold 3, initialDelaySeconds 0',
    timeoutMs: 30_000,
    async run(ctx: Ctx) {
      const { subject } = ctx;
      const handler = { exec: { command: ['true'] } };
      const pod = testPod(ctx, 'probe-defaults', { containers: [sleeperContainer(subject, 'app', { readinessProbe: handler, livenessProbe: handler, startupProbe: handler })] });
      await withManifest(ctx, pod);
      const seen = await awaitPod(ctx, pod, 'the pod is in /pods', () => true, { timeoutMs: budgetMs(subject, 5) });
      const container = seen.spec.containers.find((item) => item.name === 'app');
      for (const kind of ['readinessProbe', 'livenessProbe', 'startupProbe'] as const) {
        const probe = container?.[kind];
        const view = { initialDelaySeconds: probe?.initialDelaySeconds ?? 0, timeoutSeconds: probe?.timeoutSeconds, periodSeconds: probe?.periodSeconds, successThreshold: probe?.successThreshold, failureThreshold: probe?.failureThreshold };
        const expected = { initialDelaySeconds: 0, timeoutSeconds: 1, periodSeconds: 10, successThreshold: 1, failureThreshold: 3 };
        ctx.check(JSON.stringify(view) === JSON.stringify(expected), { what: `${kind} in /pods spec carries the defaults`, expected, got: probe ?? 'absent' });
      }
    },
  });

  suite.declare({
    ids: ['KUBELET-PROBE-007', 'KUBELET-PROBE-009', 'KUBELET-PROBE-010', 'KUBELET-PROBE-014'],
    title: 'A liveness probe waits initialDelaySeconds, restarts its container only after failureThreshold failures in a row, and kills it with the grace period',
    timeoutMs: 60_000,
    async run(ctx: Ctx) {
      const { subject } = ctx;
      // Fails, fails, passes, and again: never three failures in a row.
      const flakyProbe = 'n=$(cat /tmp/n 2>/dev/null || echo 0); echo $((n+1)) > /tmp/n; [ $((n % 3)) -eq 2 ]';
      const pod = testPod(ctx, 'probe-liveness', {
        terminationGracePeriodSeconds: 2,
        containers: [
          sleeperContainer(subject, 'late', { livenessProbe: { exec: { command: ['sh', '-c', 'exit 1 # late'] }, initialDelaySeconds: 3, periodSeconds: 1, failureThreshold: 2 } }),
          sleeperContainer(subject, 'flaky', { livenessProbe: { exec: { command: ['sh', '-c', flakyProbe] }, periodSeconds: 1, failureThreshold: 3 } }),
        ],
      });
      await withManifest(ctx, pod);
      const restarted = await awaitPod(ctx, pod, '"late" has been restarted for liveness', (seen) => restartCount(seen, 'late') >= 1, { timeoutMs: budgetMs(subject, 3 + 2 + 2 + 5), ids: ['KUBELET-PROBE-010'] });
      const calls = podCalls(subject, restarted.metadata.uid);
      const flakyRuns = (): PodCall[] => execsWith(podCalls(subject, restarted.metadata.uid), 'flaky', '/tmp/n');
      // Let the flaky probe run at least seven times (two full fail-fail-pass rounds and more).
      const firstStart = callsOf(calls, 'StartContainer', 'flaky')[0];
      const sevenRuns = (firstStart?.endedAt ?? Date.now()) + 8000;
      if (Date.now() < sevenRuns) await pause(ctx, sevenRuns - Date.now());
      const later = await subject.pod(pod.name);

      const started = callsOf(calls, 'StartContainer', 'late')[0];
      const stop = callsOf(calls, 'StopContainer', 'late')[0];
      const probes = execsWith(calls, 'late', '# late');
      const beforeStop = probes.filter((call) => stop === undefined || call.startedAt < stop.startedAt);
      const firstProbe = probes[0];
      ctx.check(started !== undefined && firstProbe !== undefined && firstProbe.startedAt >= started.endedAt + 2500, {
        ids: ['KUBELET-PROBE-014'],
        what: 'the first liveness probe runs no sooner than initialDelaySeconds (3 s, less 0.5 s slack) after the container started',
        expected: '>= 2500 ms after StartContainer',
        got: started === undefined || firstProbe === undefined ? callsView(lifecycleCalls(calls)) : `${firstProbe.startedAt - started.endedAt} ms`,
      });
      ctx.check(stop !== undefined && beforeStop.length >= 2 && beforeStop.every((call) => execExitCode(call) !== 0) && started !== undefined && stop.startedAt >= started.endedAt + 3500, {
        ids: ['KUBELET-PROBE-007'],
        what: 'the container is killed only after initialDelaySeconds plus failureThreshold (2) failed probes',
        expected: '>= 2 failed ExecSync before StopContainer, StopContainer >= 3.5 s after start',
        got: { probesBeforeStop: beforeStop.map((call) => execExitCode(call) ?? call.call.code), stopAfterMs: stop !== undefined && started !== undefined ? stop.startedAt - started.endedAt : 'no StopContainer' },
      });
      ctx.check(stop !== undefined && requestTimeoutSeconds(stop) === 2, {
        ids: ['KUBELET-PROBE-010'],
        what: 'the failing container is stopped with its grace period (terminationGracePeriodSeconds 2) as StopContainer timeout',
        expected: 2,
        got: stop === undefined ? 'no StopContainer' : stop.call.request,
      });
      ctx.check(callsOf(calls, 'CreateContainer', 'late').length >= 2 && restartCount(restarted, 'late') >= 1, {
        ids: ['KUBELET-PROBE-010'],
        what: 'under restartPolicy Always the killed container is created again and its restartCount grows',
        expected: { creates: '>= 2', restartCount: '>= 1' },
        got: { lifecycle: callsView(lifecycleCalls(calls)), status: stateView(containerStatus(restarted, 'late')) },
      });
      const runs = flakyRuns();
      const failed = runs.filter((call) => execExitCode(call) !== 0);
      ctx.check(runs.length >= 6 && failed.length >= 4, { ids: ['KUBELET-PROBE-009'], what: 'the flaky liveness probe ran repeatedly, failing twice in each three runs', expected: '>= 6 runs, >= 4 failures', got: runs.map((call) => execExitCode(call) ?? call.call.code) });
      const flakyStops = callsOf(podCalls(subject, restarted.metadata.uid), 'StopContainer', 'flaky');
      ctx.check(flakyStops.length === 0 && restartCount(later, 'flaky') === 0, {
        ids: ['KUBELET-PROBE-009'],
        what: 'fewer than failureThreshold (3) failures in a row never restart the container',
        expected: { StopContainer: 0, restartCount: 0 },
        got: { StopContainer: flakyStops.length, status: stateView(containerStatus(later, 'flaky')) },
      });
    },
  });

  suite.declare({
    ids: ['KUBELET-PROBE-008', 'KUBELET-PROBE-011'],
    title: 'A startup probe holds back liveness and readiness until it succeeds, and when it keeps failing the container is restarted',
    timeoutMs: 60_000,
    async run(ctx: Ctx) {
      const { subject } = ctx;
      const pod = testPod(ctx, 'probe-startup', {
        containers: [
          shellContainer(subject, 'slow', `sleep 3; touch /tmp/started; ${untilStopped}`, {
            startupProbe: { exec: { command: ['test', '-f', '/tmp/started'] }, periodSeconds: 1, failureThreshold: 30 },
            livenessProbe: { exec: { command: ['sh', '-c', 'true # liveness'] }, periodSeconds: 1 },
            readinessProbe: { exec: { command: ['sh', '-c', 'true # readiness'] }, periodSeconds: 1 },
          }),
          sleeperContainer(subject, 'stuck', { startupProbe: { exec: { command: ['sh', '-c', 'exit 1 # startup'] }, periodSeconds: 1, failureThreshold: 2 } }),
        ],
      });
      await withManifest(ctx, pod);
      const done = (seen: Pod): boolean => isReady(seen, 'slow') && restartCount(seen, 'stuck') >= 1;
      const samples = await samplePod(ctx, pod, { forMs: budgetMs(subject, 15), everyMs: 200, until: done });
      const last = podsOf(samples).at(-1);
      const calls = podCalls(subject, last?.metadata.uid);
      const startupRuns = execsWith(calls, 'slow', '/tmp/started');
      const passed = startupRuns.find((call) => execExitCode(call) === 0);
      ctx.require(passed !== undefined, { ids: ['KUBELET-PROBE-008'], what: 'the startup probe of "slow" succeeded once its file existed', expected: 'an ExecSync with exit 0', got: startupRuns.map((call) => execExitCode(call) ?? call.call.code) });
      const gated = [...execsWith(calls, 'slow', '# liveness'), ...execsWith(calls, 'slow', '# readiness')];
      const early = gated.filter((call) => call.startedAt < passed.endedAt);
      ctx.check(gated.length > 0 && early.length === 0, {
        ids: ['KUBELET-PROBE-008'],
        what: 'no liveness or readiness probe runs before the startup probe first succeeded',
        expected: 'every liveness/readiness ExecSync after the successful startup probe',
        got: { early: callsView(early, passed.endedAt), gatedRuns: gated.length },
      });
      const runningUnstarted = samples.filter((sample) => sample.pod !== undefined && containerStatus(sample.pod, 'slow')?.state.running !== undefined && sample.at < passed.startedAt);
      const wrongFlags = runningUnstarted.find((sample) => containerStatus(sample.pod, 'slow')?.started !== false || isReady(sample.pod, 'slow'));
      ctx.check(runningUnstarted.length > 0 && wrongFlags === undefined, {
        ids: ['KUBELET-PROBE-008'],
        what: 'before the startup probe succeeded the running container reports started false and ready false',
        expected: { started: false, ready: false },
        got: wrongFlags === undefined ? `${runningUnstarted.length} samples` : stateView(containerStatus(wrongFlags.pod, 'slow')),
      });
      ctx.check(containerStatus(last, 'slow')?.started === true && isReady(last, 'slow'), { ids: ['KUBELET-PROBE-008'], what: 'after it succeeded: started true, then ready true', expected: { started: true, ready: true }, got: stateView(containerStatus(last, 'slow')) });
      ctx.check(restartCount(last, 'slow') === 0, { ids: ['KUBELET-PROBE-008'], what: 'the slow starter is not restarted while its startup probe is within failureThreshold', expected: 0, got: restartCount(last, 'slow') });
      ctx.check(restartCount(last, 'stuck') >= 1 && callsOf(calls, 'StopContainer', 'stuck').length >= 1 && callsOf(calls, 'CreateContainer', 'stuck').length >= 2, {
        ids: ['KUBELET-PROBE-011'],
        what: 'the container whose startup probe failed failureThreshold (2) times is stopped and created again',
        expected: { StopContainer: '>= 1', CreateContainer: '>= 2', restartCount: '>= 1' },
        got: { lifecycle: callsView(lifecycleCalls(callsOf(calls, 'StopContainer', 'stuck').concat(callsOf(calls, 'CreateContainer', 'stuck')))), status: stateView(containerStatus(last, 'stuck')) },
      });
      ctx.check(containerStatus(last, 'stuck')?.started !== true, { ids: ['KUBELET-PROBE-011'], what: 'the stuck container never reports started', expected: 'started false', got: stateView(containerStatus(last, 'stuck')) });
    },
  });

  suite.declare({
    ids: ['KUBELET-PROBE-012'],
    title: 'An exec probe that outlives timeoutSeconds counts as a failure',
    timeoutMs: 60_000,
    async run(ctx: Ctx) {
      const { subject } = ctx;
      const pod = testPod(ctx, 'probe-timeout', {
        containers: [
          sleeperContainer(subject, 'slowprobe', { readinessProbe: { exec: { command: ['sh', '-c', 'sleep 4 # slow'] }, timeoutSeconds: 1, periodSeconds: 1 } }),
          sleeperContainer(subject, 'quickprobe', { readinessProbe: { exec: { command: ['sh', '-c', 'sleep 0.2 # quick'] }, timeoutSeconds: 1, periodSeconds: 1 } }),
        ],
      });
      await withManifest(ctx, pod);
      await awaitPod(ctx, pod, 'the quick probe makes its container ready', (seen) => isReady(seen, 'quickprobe'), { timeoutMs: budgetMs(subject, 8) });
      // Long enough for a 4 s probe to have come back had it not been cut off.
      const watched = podsOf(await samplePod(ctx, pod, { forMs: 6000 }));
      const ready = watched.find((seen) => isReady(seen, 'slowprobe'));
      ctx.check(watched.length > 0 && ready === undefined, { what: 'the container whose probe takes 4 s against timeoutSeconds 1 is never ready', expected: 'ready false throughout', got: ready === undefined ? `${watched.length} samples` : stateView(containerStatus(ready, 'slowprobe')) });
      const calls = podCalls(subject, watched.at(-1)?.metadata.uid);
      const runs = execsWith(calls, 'slowprobe', '# slow');
      ctx.check(runs.length > 0 && runs.every((call) => requestTimeoutSeconds(call) === 1), { what: 'the probe goes to ExecSync with timeout 1', expected: 1, got: runs.slice(0, 3).map((call) => call.call.request) });
    },
  });

  suite.declare({
    ids: ['KUBELET-PROBE-013', 'KUBELET-PHASE-006'],
    title: 'A readiness probe that starts failing makes the container not ready and the pod not Ready, without restarting it',
    timeoutMs: 60_000,
    async run(ctx: Ctx) {
      const { subject } = ctx;
      const pod = testPod(ctx, 'probe-unready', {
        containers: [shellContainer(subject, 'web', `touch /tmp/ready; ${untilStopped}`, { readinessProbe: { exec: { command: ['test', '-f', '/tmp/ready'] }, periodSeconds: 1, failureThreshold: 1 } })],
      });
      await withManifest(ctx, pod);
      const ready = await awaitPod(ctx, pod, 'the container is ready', (seen) => isReady(seen, 'web') && conditionStatus(seen, 'Ready') === 'True', { timeoutMs: budgetMs(subject, 8) });
      const removed = await subject.exec(pod.name, 'web', ['rm', '/tmp/ready']);
      ctx.require(removed.exitCode === 0, { ids: ['KUBELET-PROBE-013'], what: 'the readiness file is removed inside the container', expected: 0, got: removed });
      const unready = await awaitPod(ctx, pod, 'the container is no longer ready', (seen) => !isReady(seen, 'web'), { timeoutMs: budgetMs(subject, 4), ids: ['KUBELET-PROBE-013'] });
      const readyCondition = condition(unready, 'Ready');
      ctx.check(readyCondition?.status === 'False' && readyCondition.reason === 'ContainersNotReady' && conditionStatus(unready, 'ContainersReady') === 'False', {
        ids: ['KUBELET-PROBE-013', 'KUBELET-PHASE-006'],
        what: 'Ready and ContainersReady are False, Ready with reason ContainersNotReady',
        expected: { Ready: { status: 'False', reason: 'ContainersNotReady' }, ContainersReady: 'False' },
        got: podView(unready),
      });
      ctx.check(unready.status?.phase === 'Running' && containerStatus(unready, 'web')?.state.running !== undefined, { ids: ['KUBELET-PROBE-013'], what: 'the pod stays Running and the container running', expected: 'Running', got: podView(unready) });
      const restored = await subject.exec(pod.name, 'web', ['touch', '/tmp/ready']);
      ctx.require(restored.exitCode === 0, { ids: ['KUBELET-PROBE-013'], what: 'the readiness file is written again', expected: 0, got: restored });
      const again = await awaitPod(ctx, pod, 'the container is ready again', (seen) => isReady(seen, 'web') && conditionStatus(seen, 'Ready') === 'True', { timeoutMs: budgetMs(subject, 4), ids: ['KUBELET-PROBE-013'] });
      const calls = podCalls(subject, ready.metadata.uid);
      ctx.check(restartCount(again, 'web') === 0 && callsOf(calls, 'StopContainer', 'web').length === 0, {
        ids: ['KUBELET-PROBE-013'],
        what: 'the container was never stopped or restarted for readiness',
        expected: { restartCount: 0, StopContainer: 0 },
        got: { restartCount: restartCount(again, 'web'), lifecycle: callsView(lifecycleCalls(calls)) },
      });
    },
  });
}
