/**
 * Pod phase, conditions and container states (KUBELET-PHASE), as upstream's
 * kubelet computes them (kubernetes/kubernetes pkg/kubelet/kubelet_pods.go
 * getPhase, pkg/kubelet/status/generate.go) and its node e2e tests read them
 * (test/e2e/common/node/runtime.go, pods.go).
 */
import type { CaseContext, Suite } from '../framework/index.js';
import type { Pod, PodConditionType } from '../../kubelet/api/pod-types.js';
import type { KubeletSubject } from './kubelet-subject.js';
import {
  absentImage,
  awaitPod,
  budgetMs,
  callsOf,
  callsView,
  condition,
  conditionStatus,
  containerStatus,
  isTerminal,
  lifecycleCalls,
  pause,
  podCalls,
  podView,
  runtimeContainerId,
  samplePod,
  shellContainer,
  sleeperContainer,
  stateView,
  testPod,
  waitingReason,
  withManifest,
  withManifests,
  type TestPod,
} from './pod-manifests.js';

type Ctx = CaseContext<KubeletSubject>;

const allConditions: readonly PodConditionType[] = ['PodScheduled', 'PodReadyToStartContainers', 'Initialized', 'ContainersReady', 'Ready'];

/** Whether `text` is a timestamp Date can read. */
function isTimestamp(text: string | undefined): boolean {
  return text !== undefined && text !== '' && !Number.isNaN(Date.parse(text));
}

/** Waits for a terminal phase, then a few syncs more, and checks nothing was started again and the phase held. */
async function checkTerminalHolds(ctx: Ctx, pod: TestPod, terminal: Pod): Promise<void> {
  const { subject } = ctx;
  const before = podCalls(subject, terminal.metadata.uid);
  await pause(ctx, Math.max(3000, 3 * subject.syncMs));
  const later = await subject.pod(pod.name);
  const after = podCalls(subject, terminal.metadata.uid);
  const starts = (calls: typeof before): number => calls.filter((call) => call.method === 'CreateContainer' || call.method === 'StartContainer').length;
  ctx.check(later?.status?.phase === terminal.status?.phase, {
    ids: ['KUBELET-PHASE-005'],
    what: `${pod.manifest.spec.restartPolicy ?? 'Always'}: the phase is still ${terminal.status?.phase ?? '?'} a few syncs later`,
    expected: terminal.status?.phase,
    got: podView(later),
  });
  ctx.check(starts(after) === starts(before), {
    ids: ['KUBELET-PHASE-005'],
    what: `${pod.manifest.spec.restartPolicy ?? 'Always'}: no container is created or started once the pod is ${terminal.status?.phase ?? '?'}`,
    expected: callsView(lifecycleCalls(before)),
    got: callsView(lifecycleCalls(after)),
  });
}

/** Checks a terminated container's state fields. @see KUBELET-PHASE-009 */
function checkTerminated(ctx: Ctx, pod: Pod, name: string, expected: { exitCode: number; reason: string }): void {
  const status = containerStatus(pod, name);
  const terminated = status?.state.terminated;
  ctx.check(terminated?.exitCode === expected.exitCode && terminated.reason === expected.reason, {
    ids: ['KUBELET-PHASE-009'],
    what: `container "${name}" is terminated with exitCode ${expected.exitCode} and reason ${expected.reason}`,
    expected,
    got: stateView(status),
  });
  const ordered = isTimestamp(terminated?.startedAt) && isTimestamp(terminated?.finishedAt) && Date.parse(terminated?.finishedAt ?? '') >= Date.parse(terminated?.startedAt ?? '');
  ctx.check(ordered && (terminated?.containerID ?? '') !== '', {
    ids: ['KUBELET-PHASE-009'],
    what: `container "${name}"'s terminated state has startedAt, finishedAt (not before it) and containerID`,
    expected: { startedAt: 'timestamp', finishedAt: '>= startedAt', containerID: 'set' },
    got: terminated ?? stateView(status),
  });
}

/** Declares the phase and status cases. */
export function declarePhaseCases(suite: Suite<KubeletSubject>): void {
  suite.declare({
    ids: ['KUBELET-PHASE-001', 'KUBELET-PHASE-002', 'KUBELET-PHASE-006', 'KUBELET-PHASE-008', 'KUBELET-PHASE-011'],
    title: 'A pod is Pending while its init container runs, then Running with every condition True and its container statuses filled',
    timeoutMs: 60_000,
    async run(ctx: Ctx) {
      const { subject } = ctx;
      const pod = testPod(ctx, 'phase-start', {
        initContainers: [shellContainer(subject, 'setup', 'sleep 3')],
        containers: [sleeperContainer(subject, 'app'), sleeperContainer(subject, 'second')],
      });
      await withManifest(ctx, pod);
      const everyReady = (seen: Pod): boolean => seen.status?.phase === 'Running' && allConditions.every((type) => conditionStatus(seen, type) === 'True');
      const samples = (await samplePod(ctx, pod, { forMs: budgetMs(subject, 15), until: everyReady })).flatMap((sample) => (sample.pod === undefined ? [] : [sample.pod]));
      const last = samples.at(-1);
      const initRunning = samples.filter((seen) => containerStatus(seen, 'setup')?.state.running !== undefined);
      ctx.check(initRunning.length > 0, { ids: ['KUBELET-PHASE-001'], what: 'the case saw the init container running (it runs 3 s)', expected: '>= 1 sample', got: samples.map((seen) => podView(seen)).slice(0, 3) });
      const wrong = initRunning.find(
        (seen) => seen.status?.phase !== 'Pending' || conditionStatus(seen, 'Initialized') !== 'False' || conditionStatus(seen, 'Ready') !== 'False' || conditionStatus(seen, 'ContainersReady') !== 'False',
      );
      ctx.check(wrong === undefined, {
        ids: ['KUBELET-PHASE-001', 'KUBELET-PHASE-006'],
        what: 'while the init container runs: phase Pending, Initialized, ContainersReady and Ready False',
        expected: { phase: 'Pending', conditions: { Initialized: 'False', ContainersReady: 'False', Ready: 'False' } },
        got: wrong === undefined ? `${initRunning.length} samples` : podView(wrong),
      });
      const sandboxLess = initRunning.find((seen) => conditionStatus(seen, 'PodReadyToStartContainers') !== 'True' || conditionStatus(seen, 'PodScheduled') !== 'True');
      ctx.check(sandboxLess === undefined, {
        ids: ['KUBELET-PHASE-006'],
        what: 'while the init container runs the sandbox is up: PodScheduled and PodReadyToStartContainers True',
        expected: { PodScheduled: 'True', PodReadyToStartContainers: 'True' },
        got: sandboxLess === undefined ? `${initRunning.length} samples` : podView(sandboxLess),
      });
      const notInitializing = initRunning.find((seen) => waitingReason(seen, 'app') !== 'PodInitializing');
      ctx.check(initRunning.length > 0 && notInitializing === undefined, {
        ids: ['KUBELET-PHASE-008'],
        what: 'while the init container runs, the app containers wait with reason PodInitializing',
        expected: 'waiting.reason PodInitializing',
        got: notInitializing === undefined ? `${initRunning.length} samples` : stateView(containerStatus(notInitializing, 'app')),
      });
      ctx.require(last !== undefined && everyReady(last), {
        ids: ['KUBELET-PHASE-002', 'KUBELET-PHASE-006'],
        what: 'once the app containers run: phase Running and PodScheduled, PodReadyToStartContainers, Initialized, ContainersReady, Ready all True',
        expected: { phase: 'Running', conditions: Object.fromEntries(allConditions.map((type) => [type, 'True'])) },
        got: podView(last),
      });
      const calls = podCalls(subject, last.metadata.uid);
      ctx.check(isTimestamp(last.status?.startTime), { ids: ['KUBELET-PHASE-011'], what: 'status.startTime is set', expected: 'a timestamp', got: last.status?.startTime ?? 'absent' });
      for (const name of ['app', 'second']) {
        const status = containerStatus(last, name);
        const created = callsOf(calls, 'CreateContainer', name).map((call) => call.containerId);
        const id = runtimeContainerId(status?.containerID);
        ctx.check(/^[a-z0-9.+-]+:\/\/.+$/.test(status?.containerID ?? '') && id !== undefined && created.includes(id), {
          ids: ['KUBELET-PHASE-011'],
          what: `"${name}": containerID is "<runtime>://<id>" naming the container the kubelet created`,
          expected: `<runtime>://one of ${JSON.stringify(created)}`,
          got: status?.containerID ?? 'absent',
        });
        ctx.check((status?.image ?? '') !== '' && (status?.imageID ?? '') !== '' && status?.started === true, {
          ids: ['KUBELET-PHASE-011'],
          what: `"${name}": image, imageID and started are filled`,
          expected: { image: 'set', imageID: 'set', started: true },
          got: { image: status?.image, imageID: status?.imageID, started: status?.started },
        });
      }
    },
  });

  suite.declare({
    ids: ['KUBELET-PHASE-003', 'KUBELET-PHASE-005', 'KUBELET-PHASE-006', 'KUBELET-PHASE-009'],
    title: 'A pod whose app containers all exit 0 under Never or OnFailure is Succeeded for good, Ready False with reason PodCompleted',
    timeoutMs: 60_000,
    async run(ctx: Ctx) {
      const { subject } = ctx;
      const pods = (['Never', 'OnFailure'] as const).map((policy) =>
        testPod(ctx, `phase-ok-${policy.toLowerCase()}`, {
          restartPolicy: policy,
          containers: [shellContainer(subject, 'quick', 'exit 0'), shellContainer(subject, 'slow', 'sleep 1; exit 0')],
        }),
      );
      await withManifests(ctx, pods);
      for (const pod of pods) {
        const policy = pod.manifest.spec.restartPolicy ?? 'Always';
        const done = await awaitPod(ctx, pod, `${policy}: the pod reaches a terminal phase`, isTerminal, { timeoutMs: budgetMs(subject, 15), ids: ['KUBELET-PHASE-003'] });
        ctx.check(done.status?.phase === 'Succeeded', { ids: ['KUBELET-PHASE-003'], what: `${policy}: every container exited 0, the pod is Succeeded`, expected: 'Succeeded', got: podView(done) });
        const ready = condition(done, 'Ready');
        ctx.check(ready?.status === 'False' && ready.reason === 'PodCompleted', { ids: ['KUBELET-PHASE-006'], what: `${policy}: Ready is False with reason PodCompleted`, expected: { status: 'False', reason: 'PodCompleted' }, got: ready ?? 'absent' });
        for (const name of ['quick', 'slow']) checkTerminated(ctx, done, name, { exitCode: 0, reason: 'Completed' });
        await checkTerminalHolds(ctx, pod, done);
      }
    },
  });

  suite.declare({
    ids: ['KUBELET-PHASE-004', 'KUBELET-PHASE-005', 'KUBELET-PHASE-009'],
    title: 'A pod under Never whose app containers all ended, one in failure, is Failed for good',
    timeoutMs: 60_000,
    async run(ctx: Ctx) {
      const { subject } = ctx;
      const pod = testPod(ctx, 'phase-failed', {
        restartPolicy: 'Never',
        containers: [shellContainer(subject, 'fine', 'exit 0'), shellContainer(subject, 'broken', 'sleep 1; exit 3')],
      });
      await withManifest(ctx, pod);
      const running = await awaitPod(ctx, pod, 'the pod is Running or terminal', (seen) => seen.status?.phase !== 'Pending', { timeoutMs: budgetMs(subject, 10) });
      ctx.check(running.status?.phase !== 'Failed' || containerStatus(running, 'broken')?.state.terminated !== undefined, {
        ids: ['KUBELET-PHASE-004'],
        what: 'the pod is not Failed before every container ended',
        expected: 'Running until "broken" exits',
        got: podView(running),
      });
      const done = await awaitPod(ctx, pod, 'the pod reaches a terminal phase', isTerminal, { timeoutMs: budgetMs(subject, 10), ids: ['KUBELET-PHASE-004'] });
      ctx.check(done.status?.phase === 'Failed', { ids: ['KUBELET-PHASE-004'], what: 'one container exited 3 and none restarts: the pod is Failed', expected: 'Failed', got: podView(done) });
      checkTerminated(ctx, done, 'fine', { exitCode: 0, reason: 'Completed' });
      checkTerminated(ctx, done, 'broken', { exitCode: 3, reason: 'Error' });
      await checkTerminalHolds(ctx, pod, done);
    },
  });

  suite.declare({
    ids: ['KUBELET-PHASE-009'],
    title: 'A container killed for exceeding its memory limit is terminated with reason OOMKilled',
    timeoutMs: 60_000,
    async run(ctx: Ctx) {
      const { subject } = ctx;
      // The shell holds the whole substitution in memory: far past the 16 MiB limit.
      const hog = 'a=$(head -c 268435456 /dev/zero | tr "\\000" a); echo ${#a}';
      const pod = testPod(ctx, 'phase-oom', {
        restartPolicy: 'Never',
        containers: [shellContainer(subject, 'hog', hog, { resources: { limits: { memory: '16Mi' }, requests: { memory: '16Mi' } } })],
      });
      await withManifest(ctx, pod);
      const done = await awaitPod(ctx, pod, 'the pod reaches a terminal phase', isTerminal, { timeoutMs: budgetMs(subject, 40) });
      const status = containerStatus(done, 'hog');
      ctx.check(status?.state.terminated?.reason === 'OOMKilled', { what: 'the container is terminated with reason OOMKilled', expected: 'OOMKilled', got: stateView(status) });
      ctx.check(done.status?.phase === 'Failed', { what: 'the pod under Never is Failed', expected: 'Failed', got: podView(done) });
    },
  });

  suite.declare({
    ids: ['KUBELET-PHASE-008', 'KUBELET-PHASE-001'],
    title: 'A container whose image cannot be pulled waits with ErrImagePull then ImagePullBackOff, and with ErrImageNeverPull under imagePullPolicy Never',
    timeoutMs: 60_000,
    async run(ctx: Ctx) {
      const { subject } = ctx;
      const image = absentImage(ctx);
      const pulling = testPod(ctx, 'phase-pull', { containers: [sleeperContainer(subject, 'app', { image, imagePullPolicy: 'IfNotPresent' })] });
      const never = testPod(ctx, 'phase-never-pull', { containers: [sleeperContainer(subject, 'app', { image, imagePullPolicy: 'Never' })] });
      await withManifests(ctx, [pulling, never]);
      const seenReasons = new Set<string>();
      const [pullSamples, neverSamples] = await Promise.all([
        samplePod(ctx, pulling, {
          forMs: budgetMs(subject, 15),
          everyMs: 150,
          until: (seen) => {
            const reason = waitingReason(seen, 'app');
            if (reason !== undefined) seenReasons.add(reason);
            return seenReasons.has('ErrImagePull') && seenReasons.has('ImagePullBackOff');
          },
        }),
        samplePod(ctx, never, { forMs: budgetMs(subject, 10), until: (seen) => waitingReason(seen, 'app') === 'ErrImageNeverPull' }),
      ]);
      ctx.check(seenReasons.has('ErrImagePull'), { what: 'the container waits with reason ErrImagePull after a failed pull', expected: 'ErrImagePull', got: [...seenReasons] });
      ctx.check(seenReasons.has('ImagePullBackOff'), { what: 'the container waits with reason ImagePullBackOff while pulls back off', expected: 'ImagePullBackOff', got: [...seenReasons] });
      const lastNever = neverSamples.at(-1)?.pod;
      ctx.check(waitingReason(lastNever, 'app') === 'ErrImageNeverPull', { what: 'under imagePullPolicy Never the container waits with reason ErrImageNeverPull', expected: 'ErrImageNeverPull', got: stateView(containerStatus(lastNever, 'app')) });
      const started = [...pullSamples, ...neverSamples].flatMap((sample) => (sample.pod === undefined ? [] : [sample.pod])).find((seen) => seen.status?.phase !== 'Pending');
      ctx.check(started === undefined, { ids: ['KUBELET-PHASE-001'], what: 'both pods stay Pending while their container has not started', expected: 'Pending', got: started === undefined ? 'Pending' : podView(started) });
      const neverCalls = podCalls(subject, lastNever?.metadata.uid);
      ctx.check(callsOf(neverCalls, 'CreateContainer').length === 0, { what: 'no container is created for the image that is absent', expected: [], got: callsView(lifecycleCalls(neverCalls)) });
    },
  });
}
