// The phase table restates, in our own words, the cases upstream's
// pkg/kubelet/kubelet_pods_test.go checks getPhase with (TestPodPhaseWithRestartAlways,
// …RestartNever, …RestartOnFailure, the init-container and restartable-init
// variants, …AndPodHasRun), for a static pod (never the podIsTerminal branch).
import t from 'tap';
import type { Container, ContainerStatus, Pod, PodPhase, RestartPolicy } from '../../../kubelet/api/pod-types.js';
import { getPodPhase } from '../../../kubelet/status/index.js';

type Shape = 'running' | 'started' | 'notStarted' | 'succeeded' | 'failed' | 'waiting' | 'waitingAfterSuccess' | 'waitingAfterFailure';

function statusOf(name: string, shape: Shape): ContainerStatus {
  const base = { name, ready: false, restartCount: 0, image: 'i', imageID: '', lastState: {} };
  switch (shape) {
    case 'running':
    case 'started':
      return { ...base, state: { running: {} }, started: true };
    case 'notStarted':
      return { ...base, state: { running: {} }, started: false };
    case 'succeeded':
      return { ...base, state: { terminated: { exitCode: 0 } } };
    case 'failed':
      return { ...base, state: { terminated: { exitCode: 1 } } };
    case 'waiting':
      return { ...base, state: { waiting: {} } };
    case 'waitingAfterSuccess':
      return { ...base, state: { waiting: {} }, lastState: { terminated: { exitCode: 0 } } };
    case 'waitingAfterFailure':
      return { ...base, state: { waiting: {} }, lastState: { terminated: { exitCode: 42 } } };
  }
}

interface PhaseCase {
  readonly title: string;
  readonly restartPolicy: RestartPolicy;
  /** Init containers: "x" is run-to-completion, "s" a sidecar. */
  readonly init?: readonly ('x' | 's')[];
  readonly statuses: Readonly<Record<string, Shape>>;
  readonly phase: PodPhase;
}

function podFor(test: PhaseCase): Pod {
  const init: Container[] = (test.init ?? []).map((kind) => ({ name: kind, image: 'i', ...(kind === 's' ? { restartPolicy: 'Always' as const } : {}) }));
  return { metadata: { name: 'p' }, spec: { restartPolicy: test.restartPolicy, initContainers: init, containers: [{ name: 'a', image: 'i' }, { name: 'b', image: 'i' }] } };
}

const cases: PhaseCase[] = [
  // restartPolicy Always, two app containers
  { title: 'nothing reported yet is Pending', restartPolicy: 'Always', statuses: {}, phase: 'Pending' },
  { title: 'both app containers running is Running', restartPolicy: 'Always', statuses: { a: 'running', b: 'running' }, phase: 'Running' },
  { title: 'both exited under Always is Running (they are being restarted)', restartPolicy: 'Always', statuses: { a: 'succeeded', b: 'failed' }, phase: 'Running' },
  { title: 'one running, one exited under Always is Running', restartPolicy: 'Always', statuses: { a: 'running', b: 'failed' }, phase: 'Running' },
  { title: 'one running, one not reported is Pending', restartPolicy: 'Always', statuses: { a: 'running' }, phase: 'Pending' },
  { title: 'one running, one waiting for its first start is Pending', restartPolicy: 'Always', statuses: { a: 'running', b: 'waiting' }, phase: 'Pending' },
  { title: 'one running, one waiting to restart after an exit is Running', restartPolicy: 'Always', statuses: { a: 'running', b: 'waitingAfterFailure' }, phase: 'Running' },
  { title: 'both waiting to restart is Running', restartPolicy: 'Always', statuses: { a: 'waitingAfterFailure', b: 'waitingAfterSuccess' }, phase: 'Running' },
  // restartPolicy Never
  { title: 'both running under Never is Running', restartPolicy: 'Never', statuses: { a: 'running', b: 'running' }, phase: 'Running' },
  { title: 'both exited 0 under Never is Succeeded', restartPolicy: 'Never', statuses: { a: 'succeeded', b: 'succeeded' }, phase: 'Succeeded' },
  { title: 'both failed under Never is Failed', restartPolicy: 'Never', statuses: { a: 'failed', b: 'failed' }, phase: 'Failed' },
  { title: 'one exited 0 and one failed under Never is Failed', restartPolicy: 'Never', statuses: { a: 'succeeded', b: 'failed' }, phase: 'Failed' },
  { title: 'one running and one succeeded under Never is Running', restartPolicy: 'Never', statuses: { a: 'running', b: 'succeeded' }, phase: 'Running' },
  { title: 'one running and one not reported under Never is Pending', restartPolicy: 'Never', statuses: { a: 'running' }, phase: 'Pending' },
  { title: 'one running and one waiting under Never is Pending', restartPolicy: 'Never', statuses: { a: 'running', b: 'waiting' }, phase: 'Pending' },
  // restartPolicy OnFailure
  { title: 'both running under OnFailure is Running', restartPolicy: 'OnFailure', statuses: { a: 'running', b: 'running' }, phase: 'Running' },
  { title: 'both exited 0 under OnFailure is Succeeded', restartPolicy: 'OnFailure', statuses: { a: 'succeeded', b: 'succeeded' }, phase: 'Succeeded' },
  { title: 'a failure under OnFailure is Running (it is being restarted)', restartPolicy: 'OnFailure', statuses: { a: 'succeeded', b: 'failed' }, phase: 'Running' },
  { title: 'one running and one succeeded under OnFailure is Running', restartPolicy: 'OnFailure', statuses: { a: 'running', b: 'succeeded' }, phase: 'Running' },
  { title: 'one waiting under OnFailure is Pending', restartPolicy: 'OnFailure', statuses: { a: 'running', b: 'waiting' }, phase: 'Pending' },
  // run-to-completion init containers
  { title: 'an init container running is Pending', restartPolicy: 'Always', init: ['x'], statuses: { x: 'running' }, phase: 'Pending' },
  { title: 'an init container failed under Always is Pending (it is retried)', restartPolicy: 'Always', init: ['x'], statuses: { x: 'failed' }, phase: 'Pending' },
  { title: 'an init container waiting after a failure under Always is Pending', restartPolicy: 'Always', init: ['x'], statuses: { x: 'waitingAfterFailure', a: 'waiting', b: 'waiting' }, phase: 'Pending' },
  { title: 'an init container failed under Never is Failed', restartPolicy: 'Never', init: ['x'], statuses: { x: 'failed' }, phase: 'Failed' },
  { title: 'an init container waiting after a failure under Never is Failed', restartPolicy: 'Never', init: ['x'], statuses: { x: 'waitingAfterFailure' }, phase: 'Failed' },
  { title: 'an init container waiting after exit 0 under Never is Pending', restartPolicy: 'Never', init: ['x'], statuses: { x: 'waitingAfterSuccess' }, phase: 'Pending' },
  { title: 'an init container waiting for its first start is Pending', restartPolicy: 'Never', init: ['x'], statuses: { x: 'waiting' }, phase: 'Pending' },
  { title: 'an init container done and app containers running is Running', restartPolicy: 'Never', init: ['x'], statuses: { x: 'succeeded', a: 'running', b: 'running' }, phase: 'Running' },
  { title: 'an init container failed under OnFailure is Pending', restartPolicy: 'OnFailure', init: ['x'], statuses: { x: 'failed' }, phase: 'Pending' },
  // sidecars (restartable init containers)
  { title: 'a sidecar running but not started is Pending', restartPolicy: 'Always', init: ['s'], statuses: { s: 'notStarted' }, phase: 'Pending' },
  { title: 'a sidecar exited with no app status is Pending', restartPolicy: 'Always', init: ['s'], statuses: { s: 'failed' }, phase: 'Pending' },
  { title: 'a sidecar waiting for its first start is Pending', restartPolicy: 'Always', init: ['s'], statuses: { s: 'waiting' }, phase: 'Pending' },
  { title: 'a sidecar waiting to restart with no app status is Pending', restartPolicy: 'Always', init: ['s'], statuses: { s: 'waitingAfterFailure' }, phase: 'Pending' },
  { title: 'a sidecar started and one of two app containers running is Pending', restartPolicy: 'Always', init: ['s'], statuses: { s: 'started', a: 'running' }, phase: 'Pending' },
  { title: 'a sidecar started and every app container running is Running', restartPolicy: 'Always', init: ['s'], statuses: { s: 'started', a: 'running', b: 'running' }, phase: 'Running' },
  { title: 'a sidecar exited while every app container runs is Running', restartPolicy: 'Always', init: ['s'], statuses: { s: 'failed', a: 'running', b: 'running' }, phase: 'Running' },
  { title: 'a sidecar in back-off while every app container runs is Running', restartPolicy: 'Always', init: ['s'], statuses: { s: 'waitingAfterFailure', a: 'running', b: 'running' }, phase: 'Running' },
  { title: 'a sidecar restarting (not started) after the app containers ran is not Pending again', restartPolicy: 'Always', init: ['s'], statuses: { s: 'notStarted', a: 'running', b: 'running' }, phase: 'Running' },
  { title: 'app containers done under Never with the sidecar still running is Running (until the sidecar is stopped)', restartPolicy: 'Never', init: ['s'], statuses: { s: 'started', a: 'succeeded', b: 'succeeded' }, phase: 'Running' },
  { title: 'app containers done under Never with the sidecar stopped is Succeeded', restartPolicy: 'Never', init: ['s'], statuses: { s: 'succeeded', a: 'succeeded', b: 'succeeded' }, phase: 'Succeeded' },
  { title: 'a sidecar killed (non-zero) after app containers succeeded under Never is Succeeded', restartPolicy: 'Never', init: ['s'], statuses: { s: 'failed', a: 'succeeded', b: 'succeeded' }, phase: 'Succeeded' },
  { title: 'a sidecar waiting after exit with app containers succeeded under Never is Succeeded', restartPolicy: 'Never', init: ['s'], statuses: { s: 'waitingAfterSuccess', a: 'succeeded', b: 'succeeded' }, phase: 'Succeeded' },
  { title: 'an app container failed under Never with the sidecar stopped is Failed', restartPolicy: 'Never', init: ['s'], statuses: { s: 'failed', a: 'succeeded', b: 'failed' }, phase: 'Failed' },
  // mixed: an init container and a sidecar
  { title: 'init container, sidecar and app container all running is Pending', restartPolicy: 'Always', init: ['x', 's'], statuses: { x: 'running', s: 'running', a: 'running', b: 'running' }, phase: 'Pending' },
  { title: 'init container done, sidecar running, app containers exited under Always is Running', restartPolicy: 'Always', init: ['x', 's'], statuses: { x: 'succeeded', s: 'running', a: 'failed', b: 'succeeded' }, phase: 'Running' },
];

for (const test of cases) {
  t.test(test.title, async (t) => {
    const statuses = Object.entries(test.statuses).map(([name, shape]) => statusOf(name, shape));
    t.equal(getPodPhase(podFor(test), statuses), test.phase);
  });
}
