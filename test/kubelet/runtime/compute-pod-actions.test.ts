import t from 'tap';
import type { PodActions, ProbeState } from '../../../kubelet/kubelet-parts.js';
import { computePodActions, removableContainers } from '../../../kubelet/runtime/compute-pod-actions.js';
import { container, exited, healthy, inputOf, observed, observedPod, podOf, sandbox, t0 } from './action-fixtures.js';

const starts = (actions: PodActions): string[] => actions.containersToStart.map((start) => `${start.kind}:${start.name}#${start.attempt}`);
const kills = (actions: PodActions): string[] => actions.containersToKill.map((kill) => `${kill.name}:${kill.reason}`);

t.test('a new pod gets a sandbox (attempt 0) and all its app containers', async (t) => {
  const actions = computePodActions(inputOf(podOf({ containers: [container('a'), container('b')] }), undefined));
  t.match(actions, { killPod: false, createSandbox: true, sandboxAttempt: 0 });
  t.same(starts(actions), ['app:a#0', 'app:b#0']);
});

t.test('a new pod with init containers starts only the first init container with its sandbox', async (t) => {
  const actions = computePodActions(inputOf(podOf({ init: [container('i1'), container('i2')] }), undefined));
  t.equal(actions.createSandbox, true);
  t.same(starts(actions), ['init:i1#0']);
});

t.test('sandbox changes: dead, missing or duplicated sandboxes are killed and re-created', async (t) => {
  const cases = [
    { name: 'the sandbox is not ready', sandboxes: [sandbox({ ready: false })], attempt: 1 },
    { name: 'two sandboxes are ready', sandboxes: [sandbox({ id: 'sb-1', attempt: 1, createdAt: t0 + 1 }), sandbox()], attempt: 2 },
  ];
  for (const entry of cases) {
    const actions = computePodActions(inputOf(podOf(), observedPod([observed('main')], entry.sandboxes)));
    t.equal(actions.killPod, true, `${entry.name}: killPod`);
    t.equal(actions.createSandbox, true, `${entry.name}: createSandbox`);
    t.equal(actions.sandboxAttempt, entry.attempt, `${entry.name}: attempt`);
    t.same(starts(actions), ['app:main#1'], `${entry.name}: the container restarts with the next attempt`);
  }
});

t.test('restartPolicy Never: a pod whose containers ran gets no new sandbox', async (t) => {
  const actions = computePodActions(inputOf(podOf({ policy: 'Never' }), observedPod([observed('main')], [sandbox({ ready: false })])));
  t.equal(actions.killPod, true);
  t.equal(actions.createSandbox, false);
  t.same(starts(actions), []);
});

t.test('restartPolicy OnFailure: a new sandbox does not re-run containers that succeeded', async (t) => {
  const pod = podOf({ policy: 'OnFailure', containers: [container('ok'), container('bad')] });
  const actions = computePodActions(inputOf(pod, observedPod([exited('ok', 0), observed('bad')], [sandbox({ ready: false })])));
  t.equal(actions.createSandbox, true);
  t.same(starts(actions), ['app:bad#1']);
});

t.test('init containers run one at a time, in order, before any app container', async (t) => {
  const pod = podOf({ init: [container('i1'), container('i2')], containers: [container('a'), container('b')] });
  const table = [
    { name: 'first running', observed: [observed('i1')], want: [] },
    { name: 'first done', observed: [exited('i1', 0)], want: ['init:i2#0'] },
    { name: 'second running', observed: [exited('i1', 0), observed('i2')], want: [] },
    { name: 'both done', observed: [exited('i1', 0), exited('i2', 0)], want: ['app:a#0', 'app:b#0'] },
    { name: 'done and apps running (e.g. after a kubelet restart)', observed: [exited('i1', 0), exited('i2', 0), observed('a'), observed('b')], want: [] },
  ];
  for (const entry of table) {
    const actions = computePodActions(inputOf(pod, observedPod(entry.observed)));
    t.same(starts(actions), entry.want, entry.name);
    t.equal(actions.createSandbox, false, `${entry.name}: the sandbox is kept`);
    t.same(actions.containersToKill, [], `${entry.name}: nothing is killed`);
  }
});

t.test('a failed init container is retried with back-off under Always and OnFailure', async (t) => {
  for (const policy of ['Always', 'OnFailure'] as const) {
    const pod = podOf({ policy, init: [container('i1')] });
    const first = computePodActions(inputOf(pod, observedPod([exited('i1', 1)])));
    t.same(starts(first), ['init:i1#1'], `${policy}: the first restart is immediate`);
    const second = computePodActions(inputOf(pod, observedPod([exited('i1', 1, { attempt: 1, streak: 1 })])));
    t.same(starts(second), [], `${policy}: the second waits`);
    t.match(second.backingOff, [{ name: 'i1', until: t0 + 5000 + 10_000 }], `${policy}: 10 s after it finished`);
    t.match(second.backingOff[0]?.message, /^back-off 10s restarting failed container=i1 pod=web_default\(uid-1\)$/);
    t.equal(second.podFailed, undefined);
  }
});

t.test('a failed init container under Never fails the pod and starts nothing', async (t) => {
  const pod = podOf({ policy: 'Never', init: [container('i1'), container('i2')] });
  const actions = computePodActions(inputOf(pod, observedPod([exited('i1', 3)])));
  t.match(actions.podFailed, { reason: 'InitContainerFailed', message: /i1 failed with exit code 3/ });
  t.same(starts(actions), []);
  t.equal(actions.createSandbox, false);
  t.equal(actions.killPod, true, 'the ready sandbox is stopped');
});

t.test('sidecars start in order, gate the next init container until started, and are restarted whatever the policy', async (t) => {
  const pod = podOf({ policy: 'Never', init: [container('side', { restartPolicy: 'Always' }), container('i1')], containers: [container('a')] });
  const notStarted: ProbeState = { ...healthy, started: false };
  const table = [
    { name: 'nothing yet', observed: [], probes: healthy, want: ['sidecar:side#0'] },
    { name: 'sidecar running, startup probe pending', observed: [observed('side', { id: 's1' })], probes: notStarted, want: [] },
    { name: 'sidecar started', observed: [observed('side', { id: 's1' })], probes: healthy, want: ['init:i1#0'] },
    { name: 'init done', observed: [observed('side', { id: 's1' }), exited('i1', 0)], probes: healthy, want: ['app:a#0'] },
    { name: 'sidecar exited under Never', observed: [exited('side', 1), exited('i1', 0), observed('a')], probes: healthy, want: ['sidecar:side#1'] },
  ];
  for (const entry of table) {
    const actions = computePodActions(inputOf(pod, observedPod(entry.observed), { probes: () => entry.probes }));
    t.same(starts(actions), entry.want, entry.name);
  }
});

t.test('exited app containers restart per restartPolicy', async (t) => {
  const table = [
    { policy: 'Always', exitCode: 0, restart: true },
    { policy: 'Always', exitCode: 1, restart: true },
    { policy: 'OnFailure', exitCode: 0, restart: false },
    { policy: 'OnFailure', exitCode: 2, restart: true },
    { policy: 'Never', exitCode: 0, restart: false },
    { policy: 'Never', exitCode: 1, restart: false },
  ] as const;
  for (const entry of table) {
    const pod = podOf({ policy: entry.policy, containers: [container('a'), container('b')] });
    const actions = computePodActions(inputOf(pod, observedPod([exited('a', entry.exitCode, { attempt: 2 }), observed('b')])));
    t.same(starts(actions), entry.restart ? ['app:a#3'] : [], `${entry.policy}, exit ${entry.exitCode}`);
  }
});

t.test('a failed liveness or startup probe kills the container and restarts it unless the policy is Never', async (t) => {
  for (const [state, reason] of [
    [{ ...healthy, livenessFailed: true }, 'LivenessProbeFailed'],
    [{ ...healthy, started: false, startupFailed: true }, 'StartupProbeFailed'],
  ] as const) {
    const running = observed('main', { id: 'victim' });
    const probes = (id: string): ProbeState => (id === 'victim' ? state : healthy);
    const always = computePodActions(inputOf(podOf(), observedPod([running]), { probes }));
    t.same(kills(always), [`main:${reason}`]);
    t.same(starts(always), ['app:main#1'], `${reason}: restarted at once (first restart)`);
    const never = computePodActions(inputOf(podOf({ policy: 'Never' }), observedPod([running]), { probes }));
    t.same(kills(never), [`main:${reason}`]);
    t.same(starts(never), [], `${reason}: not restarted under Never`);
  }
});

t.test('back-off grows with the crash streak, is capped, and resets after a 10-minute run', async (t) => {
  const table = [
    { name: 'streak 0: immediate', streak: 0, cap: 300_000, ranMs: 4000, until: undefined },
    { name: 'streak 1: 10 s', streak: 1, cap: 300_000, ranMs: 4000, until: t0 + 5000 + 10_000 },
    { name: 'streak 3: 40 s', streak: 3, cap: 300_000, ranMs: 4000, until: t0 + 5000 + 40_000 },
    { name: 'streak 9: the cap', streak: 9, cap: 300_000, ranMs: 4000, until: t0 + 5000 + 300_000 },
    { name: 'streak 1 with a 4 s cap', streak: 1, cap: 4000, ranMs: 4000, until: t0 + 5000 + 4000 },
    { name: 'a 10-minute run resets the streak', streak: 6, cap: 300_000, ranMs: 600_000, until: undefined },
  ];
  for (const entry of table) {
    const previous = exited('main', 1, { attempt: 4, streak: entry.streak, startedAt: t0 + 5000 - entry.ranMs });
    const actions = computePodActions(inputOf(podOf(), observedPod([previous]), { now: t0 + 6000, maxRestartPeriodMs: entry.cap }));
    if (entry.until === undefined) {
      t.same(starts(actions), ['app:main#5'], entry.name);
      t.same(actions.backingOff, [], entry.name);
    } else {
      t.same(starts(actions), [], entry.name);
      t.equal(actions.backingOff[0]?.until, entry.until, entry.name);
    }
  }
});

t.test('a restart is allowed once the back-off has passed', async (t) => {
  const previous = exited('main', 1, { attempt: 2, streak: 2 });
  const actions = computePodActions(inputOf(podOf(), observedPod([previous]), { now: t0 + 5000 + 20_000 }));
  t.same(starts(actions), ['app:main#3']);
});

t.test('an exceeded deadline kills everything and starts nothing', async (t) => {
  const actions = computePodActions(inputOf(podOf(), observedPod([observed('main'), exited('old', 0)]), { deadlineExceeded: true }));
  t.equal(actions.killPod, true);
  t.equal(actions.createSandbox, false);
  t.same(kills(actions), ['main:DeadlineExceeded']);
  t.same(starts(actions), []);
});

t.test('a removed manifest kills the pod; nothing observed means nothing to do', async (t) => {
  const actions = computePodActions(inputOf(undefined, observedPod([observed('main'), exited('other', 0)])));
  t.equal(actions.killPod, true);
  t.same(kills(actions), ['main:PodDeleted']);
  t.same(starts(actions), []);
  const stopped = computePodActions(inputOf(undefined, observedPod([exited('main', 0)], [sandbox({ ready: false })])));
  t.equal(stopped.killPod, true, 'a stopped sandbox still has to be removed');
  const nothing = computePodActions(inputOf(undefined, undefined));
  t.match(nothing, { killPod: false, createSandbox: false, containersToKill: [], containersToStart: [] });
});

t.test('terminal pods start nothing and their sidecars are stopped', async (t) => {
  const pod = podOf({ policy: 'Never', init: [container('side', { restartPolicy: 'Always' })], containers: [container('a')] });
  const actions = computePodActions(inputOf(pod, observedPod([observed('side'), exited('a', 0)])));
  t.same(starts(actions), []);
  t.same(kills(actions), ['side:PodCompleted']);
  t.equal(actions.killPod, true);
  const succeeded = computePodActions(inputOf(podOf({ policy: 'OnFailure' }), observedPod([exited('main', 0)], [sandbox({ ready: false })])));
  t.match(succeeded, { createSandbox: false, killPod: false, containersToStart: [] }, 'a succeeded pod with a dead sandbox stays down');
});

t.test('containersToRemove keeps the newest exited container of each name', async (t) => {
  const containers = [
    exited('main', 1, { id: 'old-0', attempt: 0 }),
    exited('main', 1, { id: 'old-1', attempt: 1 }),
    exited('main', 1, { id: 'last', attempt: 2 }),
    observed('main', { id: 'now', attempt: 3 }),
    exited('init', 0, { id: 'init-done' }),
  ];
  t.same(removableContainers(containers).sort(), ['old-0', 'old-1']);
  t.same(computePodActions(inputOf(podOf(), observedPod(containers))).containersToRemove.slice().sort(), ['old-0', 'old-1']);
});

t.test('containers still running in an older sandbox are killed', async (t) => {
  const sandboxes = [sandbox({ id: 'sb-1', attempt: 1, createdAt: t0 + 100 }), sandbox({ id: 'sb-0', ready: false })];
  const actions = computePodActions(inputOf(podOf(), observedPod([observed('main', { sandboxId: 'sb-0' }), observed('main', { sandboxId: 'sb-1', attempt: 1 })], sandboxes)));
  t.same(kills(actions), ['main:SandboxChanged']);
  t.same(starts(actions), []);
  t.equal(actions.sandboxId, 'sb-1');
});
