import t from 'tap';
import { containerHash, crashStreakOf, decodeContainerAnnotations, encodeContainerAnnotations, podIdentityOf, runtimeKeys, sandboxLabels } from '../../../kubelet/runtime/runtime-labels.js';
import { container, podOf } from './action-fixtures.js';

t.test('container annotations round-trip, with the upstream keys', async (t) => {
  const values = {
    hash: 'abcd1234',
    restartCount: 7,
    terminationGracePeriodSeconds: 5,
    terminationMessagePath: '/dev/termination-log',
    preStop: { exec: { command: ['sh', '-c', 'echo bye'] } },
    kind: 'sidecar' as const,
    crashStreak: 3,
  };
  const annotations = encodeContainerAnnotations(values);
  t.equal(annotations['io.kubernetes.container.hash'], 'abcd1234');
  t.equal(annotations['io.kubernetes.container.restartCount'], '7');
  t.equal(annotations['io.kubernetes.pod.terminationGracePeriod'], '5');
  t.equal(annotations['io.kubernetes.container.terminationMessagePath'], '/dev/termination-log');
  t.same(JSON.parse(annotations['io.kubernetes.container.preStopHandler']!), values.preStop);
  t.same(decodeContainerAnnotations(annotations), values);
  t.equal(crashStreakOf(annotations), 3);
});

t.test('missing or malformed annotations decode to safe defaults', async (t) => {
  t.same(decodeContainerAnnotations({ [runtimeKeys.containerRestartCount]: '-1', [runtimeKeys.containerPreStopHandler]: '{nope', [runtimeKeys.containerKind]: 'weird' }), {
    hash: '',
    restartCount: 0,
    terminationGracePeriodSeconds: 30,
    terminationMessagePath: '/dev/termination-log',
    kind: 'app',
    crashStreak: 0,
  });
});

t.test('sandbox labels carry the pod identity and the managed marker, and read back', async (t) => {
  const pod = podOf();
  pod.metadata.labels = { app: 'web' };
  const labels = sandboxLabels(pod);
  t.match(labels, { app: 'web', 'io.kubernetes.pod.name': 'web', 'io.kubernetes.pod.namespace': 'default', 'io.kubernetes.pod.uid': 'uid-1', [runtimeKeys.managedBy]: 'true' });
  t.same(podIdentityOf(labels), { uid: 'uid-1', name: 'web', namespace: 'default' });
  t.equal(podIdentityOf({ 'io.kubernetes.pod.name': 'x' }), undefined);
});

t.test('the container hash is stable across key order and changes with the spec', async (t) => {
  const a = containerHash({ name: 'a', image: 'x', command: ['sh'] });
  t.equal(a, containerHash({ command: ['sh'], image: 'x', name: 'a' }));
  t.not(a, containerHash(container('a', { image: 'y', command: ['sh'] })));
  t.match(a, /^[0-9a-f]{8}$/);
});
