// Status across a pod's life: init containers, sidecars, terminal phases,
// deadline and forced failure, conditions and their transition times.
import t from 'tap';
import { generatePodStatus } from '../../../kubelet/status/index.js';
import { conditionOf, container, exited, inputOf, now, observed, podOf, probesOf, runningPod, t0 } from './status-fixtures.js';

const later = new Date(now.getTime() + 30_000);

t.test('while an init container runs the pod is Pending, Initialized False and app containers wait as PodInitializing', async (t) => {
  const pod = podOf([container('main')], { initContainers: [container('setup'), container('migrate')] });
  const status = generatePodStatus(inputOf(pod, { observed: runningPod(pod, [observed('setup')]) }));
  t.equal(status.phase, 'Pending');
  t.same(status.containerStatuses![0]!.state, { waiting: { reason: 'PodInitializing' } });
  t.same(status.initContainerStatuses![1]!.state, { waiting: { reason: 'PodInitializing' } }, 'the next init container waits too, as upstream shows it');
  t.equal(status.initContainerStatuses![0]!.started, true);
  t.equal(status.initContainerStatuses![0]!.ready, false);
  const initialized = conditionOf(status, 'Initialized')!;
  t.equal(initialized.status, 'False');
  t.equal(initialized.reason, 'ContainersNotInitialized');
  t.equal(initialized.message, 'containers with incomplete status: [setup migrate]');
});

t.test('a completed init container is terminated Completed with exit 0 and ready, and the pod is Initialized', async (t) => {
  const pod = podOf([container('main')], { initContainers: [container('setup')] });
  const status = generatePodStatus(inputOf(pod, { observed: runningPod(pod, [exited('setup', 0), observed('main', { createdAt: t0 + 6000 })]) }));
  const setup = status.initContainerStatuses![0]!;
  t.equal(setup.state.terminated?.reason, 'Completed');
  t.equal(setup.state.terminated?.exitCode, 0);
  t.equal(setup.ready, true, 'upstream marks an init container that exited 0 ready (prober_manager.go UpdatePodStatus)');
  t.equal(setup.started, false);
  t.equal(conditionOf(status, 'Initialized')!.status, 'True');
  t.equal(status.phase, 'Running');
});

t.test('a failed init container under Always waits in CrashLoopBackOff with the pod Pending', async (t) => {
  const pod = podOf([container('main')], { initContainers: [container('setup')] });
  const status = generatePodStatus(
    inputOf(pod, { observed: runningPod(pod, [exited('setup', 1, { attempt: 1 })]), waiting: new Map([['setup', { reason: 'CrashLoopBackOff', message: 'back-off' }]]) }),
  );
  t.equal(status.phase, 'Pending');
  t.equal(status.initContainerStatuses![0]!.state.waiting?.reason, 'CrashLoopBackOff');
  t.equal(status.initContainerStatuses![0]!.lastState.terminated?.exitCode, 1);
  t.equal(status.initContainerStatuses![0]!.restartCount, 1);
  t.equal(status.containerStatuses![0]!.state.waiting?.reason, 'PodInitializing');
  t.equal(conditionOf(status, 'Initialized')!.status, 'False');
});

t.test('a failed init container under Never fails the pod', async (t) => {
  const pod = podOf([container('main')], { initContainers: [container('setup')], restartPolicy: 'Never' });
  const status = generatePodStatus(inputOf(pod, { observed: runningPod(pod, [exited('setup', 2)]) }));
  t.equal(status.phase, 'Failed');
  t.equal(conditionOf(status, 'Ready')!.reason, 'PodFailed');
  t.equal(conditionOf(status, 'ContainersReady')!.reason, 'PodFailed');
});

t.test('a completed init container with a stale waiting reason is still shown as completed', async (t) => {
  const pod = podOf([container('main')], { initContainers: [container('setup')] });
  const status = generatePodStatus(inputOf(pod, { observed: runningPod(pod, [exited('setup', 0)]), waiting: new Map([['setup', { reason: 'CrashLoopBackOff' }]]) }));
  t.equal(status.initContainerStatuses![0]!.state.terminated?.reason, 'Completed');
});

t.test('Initialized never goes back from True to False while the pod runs', async (t) => {
  const pod = podOf([container('main')], { initContainers: [container('setup')] });
  const initialized = generatePodStatus(inputOf(pod, { observed: runningPod(pod, [exited('setup', 0), observed('main', { createdAt: t0 + 6000 })]) }));
  t.equal(conditionOf(initialized, 'Initialized')!.status, 'True');
  // The runtime lost everything (a new sandbox on the way): upstream's rule alone would say False.
  const after = generatePodStatus(inputOf(pod, { observed: runningPod(pod, [], []), previous: { ...initialized, initContainerStatuses: [], containerStatuses: [] }, now: later }));
  t.equal(conditionOf(after, 'Initialized')!.status, 'True');
  t.equal(conditionOf(after, 'Initialized')!.lastTransitionTime, conditionOf(initialized, 'Initialized')!.lastTransitionTime, 'and its transition time stays');
});

t.test('a sidecar gates Initialized until it has started, and counts for readiness', async (t) => {
  const pod = podOf([container('main')], { initContainers: [container('proxy', { restartPolicy: 'Always', startupProbe: { exec: { command: ['x'] } }, readinessProbe: { exec: { command: ['x'] } } })] });
  const starting = generatePodStatus(inputOf(pod, { observed: runningPod(pod, [observed('proxy')]), probes: probesOf({ 'proxy-0': { started: false, ready: false } }) }));
  t.equal(starting.phase, 'Pending');
  t.equal(conditionOf(starting, 'Initialized')!.status, 'False');
  t.equal(starting.initContainerStatuses![0]!.started, false);

  const running = generatePodStatus(
    inputOf(pod, { observed: runningPod(pod, [observed('proxy'), observed('main', { createdAt: t0 + 3000 })]), probes: probesOf({ 'proxy-0': { started: true, ready: false } }) }),
  );
  t.equal(running.phase, 'Running');
  t.equal(conditionOf(running, 'Initialized')!.status, 'True');
  t.equal(running.initContainerStatuses![0]!.started, true);
  t.equal(running.initContainerStatuses![0]!.ready, false);
  t.equal(conditionOf(running, 'ContainersReady')!.message, 'containers with unready status: [proxy]');

  const ready = generatePodStatus(inputOf(pod, { observed: runningPod(pod, [observed('proxy'), observed('main', { createdAt: t0 + 3000 })]) }));
  t.equal(conditionOf(ready, 'Ready')!.status, 'True');
});

t.test('an exited sidecar is shown waiting to restart whatever the pod restart policy', async (t) => {
  const pod = podOf([container('main')], { initContainers: [container('proxy', { restartPolicy: 'Always' })], restartPolicy: 'Never' });
  const status = generatePodStatus(
    inputOf(pod, { observed: runningPod(pod, [exited('proxy', 1), observed('main', { createdAt: t0 + 3000 })]), waiting: new Map([['proxy', { reason: 'CrashLoopBackOff' }]]) }),
  );
  t.equal(status.initContainerStatuses![0]!.state.waiting?.reason, 'CrashLoopBackOff');
  t.equal(status.phase, 'Running');
});

t.test('under Never a pod whose app container finished Succeeds once its sidecar has been stopped', async (t) => {
  const pod = podOf([container('main')], { initContainers: [container('proxy', { restartPolicy: 'Always' })], restartPolicy: 'Never' });
  const sidecarUp = generatePodStatus(inputOf(pod, { observed: runningPod(pod, [observed('proxy'), exited('main', 0, { createdAt: t0 + 3000 })]) }));
  t.equal(sidecarUp.phase, 'Running', 'the sidecar still runs');
  const sidecarStopped = generatePodStatus(inputOf(pod, { observed: runningPod(pod, [exited('proxy', 137), exited('main', 0, { createdAt: t0 + 3000 })]), previous: sidecarUp }));
  t.equal(sidecarStopped.phase, 'Succeeded', 'a sidecar killed at the end does not fail the pod');
});

t.test('a Succeeded pod reports Ready and ContainersReady False with reason PodCompleted, Initialized True PodCompleted', async (t) => {
  const pod = podOf([container('main')], { initContainers: [container('setup')], restartPolicy: 'Never' });
  const status = generatePodStatus(inputOf(pod, { observed: runningPod(pod, [exited('setup', 0), exited('main', 0, { createdAt: t0 + 3000 })]) }));
  t.equal(status.phase, 'Succeeded');
  t.same([conditionOf(status, 'Ready')!.status, conditionOf(status, 'Ready')!.reason], ['False', 'PodCompleted']);
  t.same([conditionOf(status, 'ContainersReady')!.status, conditionOf(status, 'ContainersReady')!.reason], ['False', 'PodCompleted']);
  t.same([conditionOf(status, 'Initialized')!.status, conditionOf(status, 'Initialized')!.reason], ['True', 'PodCompleted']);
});

t.test('Succeeded and Failed are sticky whatever the runtime shows next', async (t) => {
  const pod = podOf([container('main')], { restartPolicy: 'Never' });
  for (const [exitCode, phase] of [[0, 'Succeeded'], [1, 'Failed']] as const) {
    const done = generatePodStatus(inputOf(pod, { observed: runningPod(pod, [exited('main', exitCode)]) }));
    t.equal(done.phase, phase);
    const confused = generatePodStatus(inputOf(pod, { observed: runningPod(pod, [observed('main', { id: 'x', createdAt: t0 + 9000 })]), previous: done, now: later }));
    t.equal(confused.phase, phase, `${phase} stays ${phase}`);
    const empty = generatePodStatus(inputOf(pod, { observed: undefined, previous: done, now: later }));
    t.equal(empty.phase, phase, `${phase} stays ${phase} when the runtime lost the pod`);
    t.equal(empty.containerStatuses![0]!.state.terminated?.exitCode, exitCode, 'the last termination stays visible');
  }
});

t.test('a terminal phase keeps its reason and message and shows no waiting reason', async (t) => {
  const pod = podOf([container('main')]);
  const failed = generatePodStatus(inputOf(pod, { observed: runningPod(pod, [observed('main')]), deadlineExceeded: true }));
  const next = generatePodStatus(inputOf(pod, { observed: runningPod(pod, [exited('main', 137)]), previous: failed, waiting: new Map([['main', { reason: 'CrashLoopBackOff' }]]), now: later }));
  t.equal(next.phase, 'Failed');
  t.equal(next.reason, 'DeadlineExceeded');
  t.equal(next.containerStatuses![0]!.state.terminated?.exitCode, 137);
});

t.test('activeDeadlineSeconds passed: Failed with reason DeadlineExceeded', async (t) => {
  const pod = podOf([container('main')], { activeDeadlineSeconds: 5 });
  const status = generatePodStatus(inputOf(pod, { observed: runningPod(pod, [observed('main')]), deadlineExceeded: true }));
  t.equal(status.phase, 'Failed');
  t.equal(status.reason, 'DeadlineExceeded');
  t.equal(status.message, 'Pod was active on the node longer than the specified deadline');
  t.equal(conditionOf(status, 'Ready')!.status, 'False');
  t.equal(conditionOf(status, 'Ready')!.reason, 'PodFailed');
});

t.test('a pod the kubelet gave up on is Failed with the given reason and message', async (t) => {
  const pod = podOf([container('main')]);
  const status = generatePodStatus(inputOf(pod, { podFailed: { reason: 'InvalidManifest', message: 'web.yaml: spec.containers[0].image: Required value' } }));
  t.equal(status.phase, 'Failed');
  t.equal(status.reason, 'InvalidManifest');
  t.equal(status.message, 'web.yaml: spec.containers[0].image: Required value');
  t.equal(status.containerStatuses![0]!.state.waiting?.reason, 'ContainerCreating', 'no kubelet waiting reason on a failed pod');
});

t.test('a condition keeps its transition time while its status holds and takes now when it changes', async (t) => {
  const pod = podOf([container('main', { readinessProbe: { exec: { command: ['x'] } } })]);
  const observedPod = runningPod(pod, [observed('main')]);
  const first = generatePodStatus(inputOf(pod, { observed: observedPod, probes: probesOf({ 'main-0': { ready: false } }) }));
  const second = generatePodStatus(inputOf(pod, { observed: observedPod, probes: probesOf({ 'main-0': { ready: false } }), previous: first, now: later }));
  t.equal(conditionOf(second, 'Ready')!.lastTransitionTime, '2026-01-01T10:01:00Z', 'unchanged: kept');
  const third = generatePodStatus(inputOf(pod, { observed: observedPod, previous: second, now: later }));
  t.equal(conditionOf(third, 'Ready')!.status, 'True');
  t.equal(conditionOf(third, 'Ready')!.lastTransitionTime, '2026-01-01T10:01:30Z', 'changed: now');
  t.equal(conditionOf(third, 'PodScheduled')!.lastTransitionTime, '2026-01-01T10:01:00Z');
});

t.test('the phase reason and message stay while the phase holds', async (t) => {
  const pod = podOf([container('main')]);
  const status = generatePodStatus(inputOf(pod, { observed: runningPod(pod, [observed('main')]), previous: { phase: 'Running', reason: 'Something', message: 'kept' } }));
  t.equal(status.reason, 'Something');
  t.equal(status.message, 'kept');
  const changed = generatePodStatus(inputOf(pod, { previous: { phase: 'Running', reason: 'Something', message: 'kept' } }));
  t.equal(changed.phase, 'Pending');
  t.equal(changed.reason, undefined, 'a new phase drops them');
});

t.test('restartCount does not drop after a kubelet restart (no previous status)', async (t) => {
  const pod = podOf([container('main')]);
  const status = generatePodStatus(inputOf(pod, { observed: runningPod(pod, [observed('main', { id: 'main-4', attempt: 4 }), exited('main', 1, { id: 'main-3', attempt: 3 })]) }));
  t.equal(status.containerStatuses![0]!.restartCount, 4, 'the count lives in the runtime (attempt), not in memory');
});
