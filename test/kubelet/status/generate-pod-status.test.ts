import t from 'tap';
import type { PodStatus } from '../../../kubelet/api/pod-types.js';
import { generatePodStatus } from '../../../kubelet/status/index.js';
import { conditionOf, container, exited, inputOf, now, observed, podOf, probesOf, runningPod, sandbox, t0 } from './status-fixtures.js';

t.test('a pod with nothing created yet is Pending with its containers waiting as ContainerCreating', async (t) => {
  const status = generatePodStatus(inputOf(podOf([container('main')])));
  t.equal(status.phase, 'Pending');
  t.same(status.containerStatuses![0]!.state, { waiting: { reason: 'ContainerCreating' } });
  t.equal(status.containerStatuses![0]!.ready, false);
  t.equal(status.containerStatuses![0]!.restartCount, 0);
  t.equal(status.containerStatuses![0]!.image, 'busybox:1.36');
  t.equal(status.initContainerStatuses, undefined, 'no init container statuses without init containers');
  t.equal(status.startTime, '2026-01-01T10:01:00Z', 'startTime is now without a sandbox');
  t.equal(status.podIP, undefined);
});

t.test('the five conditions come in upstream order with PodScheduled True', async (t) => {
  const status = generatePodStatus(inputOf(podOf([container('main')])));
  t.same(status.conditions!.map((condition) => [condition.type, condition.status]), [
    ['PodReadyToStartContainers', 'False'],
    ['Initialized', 'True'],
    ['Ready', 'False'],
    ['ContainersReady', 'False'],
    ['PodScheduled', 'True'],
  ]);
  for (const condition of status.conditions!) {
    t.equal(condition.lastTransitionTime, '2026-01-01T10:01:00Z');
    t.equal(condition.lastProbeTime, null);
  }
  t.same(conditionOf(status, 'Ready'), {
    type: 'Ready',
    status: 'False',
    reason: 'ContainersNotReady',
    message: 'containers with unready status: [main]',
    lastProbeTime: null,
    lastTransitionTime: '2026-01-01T10:01:00Z',
  });
});

t.test('a running pod is Running and Ready, with pod IPs from its sandbox and the container filled in', async (t) => {
  const pod = podOf([container('main')]);
  const status = generatePodStatus(inputOf(pod, { observed: runningPod(pod, [observed('main')], [sandbox({ additionalIps: ['fd00::5'] })]), runtimeName: 'containerd', hostIP: '192.168.1.2' }));
  t.equal(status.phase, 'Running');
  t.equal(status.podIP, '10.1.0.5');
  t.same(status.podIPs, [{ ip: '10.1.0.5' }, { ip: 'fd00::5' }]);
  t.equal(status.hostIP, '192.168.1.2');
  t.equal(status.startTime, '2026-01-01T10:00:00Z', 'startTime is the sandbox creation');
  const main = status.containerStatuses![0]!;
  t.same(main.state, { running: { startedAt: '2026-01-01T10:00:02Z' } });
  t.equal(main.containerID, 'containerd://main-0');
  t.equal(main.imageID, 'sha256:feed');
  t.equal(main.image, 'busybox:1.36');
  t.equal(main.started, true);
  t.equal(main.ready, true, 'no readiness probe: ready once running');
  t.equal(conditionOf(status, 'Ready')!.status, 'True');
  t.equal(conditionOf(status, 'ContainersReady')!.status, 'True');
  t.equal(conditionOf(status, 'PodReadyToStartContainers')!.status, 'True');
});

t.test('containerID uses the "cri" scheme when no runtime name is given', async (t) => {
  const pod = podOf([container('main')]);
  const status = generatePodStatus(inputOf(pod, { observed: runningPod(pod, [observed('main')]) }));
  t.equal(status.containerStatuses![0]!.containerID, 'cri://main-0');
});

t.test('a failing readiness probe makes the container and the pod not ready', async (t) => {
  const pod = podOf([container('a', { readinessProbe: { exec: { command: ['x'] } } }), container('b', { readinessProbe: { exec: { command: ['x'] } } })]);
  const status = generatePodStatus(
    inputOf(pod, { observed: runningPod(pod, [observed('a'), observed('b')]), probes: probesOf({ 'a-0': { ready: false }, 'b-0': { ready: false } }) }),
  );
  t.equal(status.phase, 'Running');
  t.same(status.containerStatuses!.map((each) => each.ready), [false, false]);
  t.equal(conditionOf(status, 'Ready')!.message, 'containers with unready status: [a b]');
  t.equal(conditionOf(status, 'ContainersReady')!.reason, 'ContainersNotReady');
});

t.test('a container whose startup probe has not succeeded is neither started nor ready', async (t) => {
  const pod = podOf([container('main', { startupProbe: { exec: { command: ['x'] } } })]);
  const status = generatePodStatus(inputOf(pod, { observed: runningPod(pod, [observed('main')]), probes: probesOf({ 'main-0': { started: false, ready: true } }) }));
  t.equal(status.containerStatuses![0]!.started, false);
  t.equal(status.containerStatuses![0]!.ready, false);
});

t.test('the prober verdict is ignored for probes the container does not have', async (t) => {
  const pod = podOf([container('main')]);
  const status = generatePodStatus(inputOf(pod, { observed: runningPod(pod, [observed('main')]), probes: probesOf({ 'main-0': { started: false, ready: false } }) }));
  t.equal(status.containerStatuses![0]!.started, true);
  t.equal(status.containerStatuses![0]!.ready, true);
});

const terminations: Array<[string, number, string, string]> = [
  ['exit 0 without a runtime reason', 0, '', 'Completed'],
  ['exit 1 without a runtime reason', 1, '', 'Error'],
  ['exit 137 reported as OOMKilled', 137, 'OOMKilled', 'OOMKilled'],
  ['exit 0 reported as Completed', 0, 'Completed', 'Completed'],
  ['exit 2 reported as Error', 2, 'Error', 'Error'],
];

for (const [what, exitCode, criReason, reason] of terminations) {
  t.test(`a container terminated with ${what} shows reason ${reason}`, async (t) => {
    const pod = podOf([container('main')], { restartPolicy: 'Never' });
    const status = generatePodStatus(inputOf(pod, { observed: runningPod(pod, [exited('main', exitCode, { reason: criReason, message: criReason === 'OOMKilled' ? 'out of memory' : '' })]), runtimeName: 'kubeplug' }));
    const expected: Record<string, unknown> = {
      exitCode,
      reason,
      containerID: 'kubeplug://main-0',
      startedAt: '2026-01-01T10:00:02Z',
      finishedAt: '2026-01-01T10:00:05Z',
    };
    if (criReason === 'OOMKilled') expected.message = 'out of memory';
    t.same(status.containerStatuses![0]!.state, { terminated: expected });
    t.equal(status.containerStatuses![0]!.ready, false);
    t.equal(status.containerStatuses![0]!.started, false);
    t.equal(status.phase, exitCode === 0 ? 'Succeeded' : 'Failed');
  });
}

t.test('after a restart lastState holds the previous termination and restartCount the attempt', async (t) => {
  const pod = podOf([container('main')]);
  const status = generatePodStatus(
    inputOf(pod, {
      observed: runningPod(pod, [observed('main', { id: 'main-1', attempt: 1, createdAt: t0 + 6000 }), exited('main', 3, { id: 'main-0' })]),
      runtimeName: 'cri',
    }),
  );
  const main = status.containerStatuses![0]!;
  t.equal(main.restartCount, 1);
  t.equal(main.containerID, 'cri://main-1');
  t.ok(main.state.running);
  t.same(main.lastState, { terminated: { exitCode: 3, reason: 'Error', containerID: 'cri://main-0', startedAt: '2026-01-01T10:00:02Z', finishedAt: '2026-01-01T10:00:05Z' } });
});

t.test('the newest attempt decides even when the observed list is not sorted', async (t) => {
  const pod = podOf([container('main')]);
  const status = generatePodStatus(
    inputOf(pod, { observed: runningPod(pod, [exited('main', 1, { id: 'main-0' }), exited('main', 2, { id: 'main-2', attempt: 2, createdAt: t0 + 9000 }), exited('main', 1, { id: 'main-1', attempt: 1, createdAt: t0 + 7000 })]) }),
  );
  const main = status.containerStatuses![0]!;
  t.equal(main.containerID, 'cri://main-2');
  t.equal(main.lastState.terminated?.containerID, 'cri://main-1');
  t.equal(main.restartCount, 2);
});

t.test('restartCount never decreases below what was shown before', async (t) => {
  const pod = podOf([container('main')]);
  const first = generatePodStatus(inputOf(pod, { observed: runningPod(pod, [observed('main', { id: 'main-5', attempt: 5 })]) }));
  t.equal(first.containerStatuses![0]!.restartCount, 5);
  const second = generatePodStatus(inputOf(pod, { observed: runningPod(pod, [observed('main', { id: 'main-2', attempt: 2 })]), previous: first }));
  t.equal(second.containerStatuses![0]!.restartCount, 5);
  const third = generatePodStatus(inputOf(pod, { observed: undefined, previous: { ...first, containerStatuses: [{ ...first.containerStatuses![0]!, state: { waiting: {} } }] } }));
  t.equal(third.containerStatuses![0]!.restartCount, 5, 'also when nothing is observed');
});

const waitingCases: Array<[string, string]> = [
  ['CrashLoopBackOff', 'back-off 10s restarting failed container=main'],
  ['ErrImagePull', 'pull failed'],
  ['ImagePullBackOff', 'Back-off pulling image "busybox:1.36"'],
  ['ErrImageNeverPull', 'Container image "busybox:1.36" is not present with pull policy of Never'],
];

for (const [reason, message] of waitingCases) {
  t.test(`a container the kubelet holds back shows waiting reason ${reason}`, async (t) => {
    const pod = podOf([container('main')]);
    const status = generatePodStatus(inputOf(pod, { waiting: new Map([['main', { reason, message }]]) }));
    t.same(status.containerStatuses![0]!.state, { waiting: { reason, message } });
    t.equal(status.phase, 'Pending');
  });
}

t.test('a crashed container in back-off is Waiting CrashLoopBackOff with its termination as lastState', async (t) => {
  const pod = podOf([container('main')]);
  const status = generatePodStatus(
    inputOf(pod, { observed: runningPod(pod, [exited('main', 1, { id: 'main-2', attempt: 2 })]), waiting: new Map([['main', { reason: 'CrashLoopBackOff', message: 'back-off' }]]) }),
  );
  const main = status.containerStatuses![0]!;
  t.same(main.state, { waiting: { reason: 'CrashLoopBackOff', message: 'back-off' } });
  t.equal(main.lastState.terminated?.exitCode, 1);
  t.equal(main.restartCount, 2);
  t.equal(status.phase, 'Running', 'a pod whose containers have run stays Running while one restarts');
});

t.test('a waiting reason is not shown for a container that will not restart', async (t) => {
  const pod = podOf([container('main')], { restartPolicy: 'OnFailure' });
  const status = generatePodStatus(inputOf(pod, { observed: runningPod(pod, [exited('main', 0)]), waiting: new Map([['main', { reason: 'CrashLoopBackOff' }]]) }));
  t.equal(status.containerStatuses![0]!.state.terminated?.reason, 'Completed');
  t.equal(status.phase, 'Succeeded');
});

t.test('a waiting reason is not shown for a running container', async (t) => {
  const pod = podOf([container('main')]);
  const status = generatePodStatus(inputOf(pod, { observed: runningPod(pod, [observed('main')]), waiting: new Map([['main', { reason: 'ErrImagePull' }]]) }));
  t.ok(status.containerStatuses![0]!.state.running);
});

t.test('a created container not started yet is waiting', async (t) => {
  const pod = podOf([container('main')]);
  const status = generatePodStatus(inputOf(pod, { observed: runningPod(pod, [observed('main', { state: 'created', startedAt: 0 })]) }));
  t.same(status.containerStatuses![0]!.state, { waiting: { reason: 'ContainerCreating' } });
  t.equal(status.phase, 'Pending');
});

t.test('app container statuses are sorted by name, init container statuses keep spec order', async (t) => {
  const pod = podOf([container('zeta'), container('alpha')], { initContainers: [container('second'), container('first')] });
  const status = generatePodStatus(inputOf(pod));
  t.same(status.containerStatuses!.map((each) => each.name), ['alpha', 'zeta']);
  t.same(status.initContainerStatuses!.map((each) => each.name), ['second', 'first']);
});

t.test('an exited container the runtime no longer lists keeps its last known status', async (t) => {
  const pod = podOf([container('main')], { restartPolicy: 'Never' });
  const done = generatePodStatus(inputOf(pod, { observed: runningPod(pod, [exited('main', 0)]) }));
  const later = generatePodStatus(inputOf(pod, { observed: runningPod(pod, [], []), previous: done }));
  t.same(later.containerStatuses, done.containerStatuses);
  t.equal(later.phase, 'Succeeded');
});

t.test('a running container that vanished is shown as terminated unknown and counted as a restart', async (t) => {
  const pod = podOf([container('main')]);
  const running = generatePodStatus(inputOf(pod, { observed: runningPod(pod, [observed('main')]) }));
  const later = generatePodStatus(inputOf(pod, { observed: runningPod(pod, []), previous: running }));
  const main = later.containerStatuses![0]!;
  t.equal(main.lastState.terminated?.reason, 'ContainerStatusUnknown');
  t.equal(main.lastState.terminated?.exitCode, 137);
  t.equal(main.restartCount, 1);
  t.equal(later.phase, 'Running', 'not sent back to Pending');
});

t.test('pod IPs come from the newest sandbox only when it is ready', async (t) => {
  const pod = podOf([container('main')]);
  const older = sandbox({ id: 'old', ip: '10.1.0.4', createdAt: t0 });
  const newerNotReady = sandbox({ id: 'new', ip: '10.1.0.9', ready: false, attempt: 1, createdAt: t0 + 10_000 });
  const notReady = generatePodStatus(inputOf(pod, { observed: runningPod(pod, [], [older, newerNotReady]) }));
  t.equal(notReady.podIP, undefined);
  t.equal(conditionOf(notReady, 'PodReadyToStartContainers')!.status, 'False');
  t.equal(notReady.startTime, '2026-01-01T10:00:00Z', 'startTime is the earliest sandbox');
  const ready = generatePodStatus(inputOf(pod, { observed: runningPod(pod, [], [older, { ...newerNotReady, ready: true }]) }));
  t.equal(ready.podIP, '10.1.0.9');
});

t.test('startTime is kept from the previous status', async (t) => {
  const pod = podOf([container('main')]);
  const status = generatePodStatus(inputOf(pod, { observed: runningPod(pod, [], [sandbox({ createdAt: t0 + 50_000 })]), previous: { phase: 'Pending', startTime: '2026-01-01T09:00:00Z' } }));
  t.equal(status.startTime, '2026-01-01T09:00:00Z');
});

t.test('the same input gives the same status and the input is not changed', async (t) => {
  const pod = podOf([container('main')]);
  const input = inputOf(pod, { observed: runningPod(pod, [observed('main')]) });
  const before = JSON.stringify({ pod: input.pod, observed: input.observed });
  const a: PodStatus = generatePodStatus(input);
  const b: PodStatus = generatePodStatus(input);
  t.same(a, b);
  t.equal(JSON.stringify({ pod: input.pod, observed: input.observed }), before);
});

t.test('now is the transition time when nothing came before', async (t) => {
  const status = generatePodStatus(inputOf(podOf([container('main')]), { now }));
  t.equal(conditionOf(status, 'PodScheduled')!.lastTransitionTime, '2026-01-01T10:01:00Z');
});
