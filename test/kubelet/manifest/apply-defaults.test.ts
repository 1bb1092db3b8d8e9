import t from 'tap';
import type { Pod } from '../../../kubelet/api/pod-types.js';
import { applyPodDefaults, defaultImagePullPolicy } from '../../../kubelet/manifest/index.js';

function pod(spec: Partial<Pod['spec']> = {}): Pod {
  return { metadata: { name: 'p' }, spec: { containers: [{ name: 'c', image: 'busybox:1.36' }], ...spec } };
}

t.test('pod-level defaults: restartPolicy Always, terminationGracePeriodSeconds 30, dnsPolicy ClusterFirst', async (t) => {
  const out = applyPodDefaults(pod());
  t.equal(out.spec.restartPolicy, 'Always');
  t.equal(out.spec.terminationGracePeriodSeconds, 30);
  t.equal(out.spec.dnsPolicy, 'ClusterFirst');
});

t.test('explicit pod-level values are kept', async (t) => {
  const out = applyPodDefaults(pod({ restartPolicy: 'Never', terminationGracePeriodSeconds: 0, dnsPolicy: 'Default' }));
  t.equal(out.spec.restartPolicy, 'Never');
  t.equal(out.spec.terminationGracePeriodSeconds, 0, 'zero is a value, not absence');
  t.equal(out.spec.dnsPolicy, 'Default');
});

const pullPolicies: Array<[string, string]> = [
  ['busybox', 'Always'],
  ['busybox:latest', 'Always'],
  ['registry.local:5000/busybox', 'Always'],
  ['registry.local:5000/busybox:latest', 'Always'],
  ['busybox:1.36', 'IfNotPresent'],
  ['registry.local:5000/tools/busybox:v2', 'IfNotPresent'],
  ['busybox@sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef', 'IfNotPresent'],
  ['busybox:latest@sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef', 'Always'],
];

for (const [image, policy] of pullPolicies) {
  t.test(`image ${image} defaults to imagePullPolicy ${policy}`, async (t) => {
    t.equal(defaultImagePullPolicy(image), policy);
    const out = applyPodDefaults(pod({ containers: [{ name: 'c', image }] }));
    t.equal(out.spec.containers[0]!.imagePullPolicy, policy);
  });
}

t.test('an explicit imagePullPolicy is kept', async (t) => {
  const out = applyPodDefaults(pod({ containers: [{ name: 'c', image: 'busybox', imagePullPolicy: 'Never' }] }));
  t.equal(out.spec.containers[0]!.imagePullPolicy, 'Never');
});

t.test('containers and init containers get termination message defaults and port protocol TCP', async (t) => {
  const out = applyPodDefaults(
    pod({
      initContainers: [{ name: 'i', image: 'busybox:1' }],
      containers: [{ name: 'c', image: 'busybox:1', ports: [{ containerPort: 80 }, { containerPort: 53, protocol: 'UDP' }] }],
    }),
  );
  for (const container of [out.spec.initContainers![0]!, out.spec.containers[0]!]) {
    t.equal(container.terminationMessagePath, '/dev/termination-log');
    t.equal(container.terminationMessagePolicy, 'File');
  }
  t.same(out.spec.containers[0]!.ports, [{ containerPort: 80, protocol: 'TCP' }, { containerPort: 53, protocol: 'UDP' }]);
});

t.test('probes get timeoutSeconds 1, periodSeconds 10, successThreshold 1, failureThreshold 3 and an explicit initialDelaySeconds 0', async (t) => {
  const out = applyPodDefaults(
    pod({
      containers: [
        {
          name: 'c',
          image: 'busybox:1',
          livenessProbe: { exec: { command: ['true'] } },
          readinessProbe: { httpGet: { port: 8080 }, periodSeconds: 2 },
          startupProbe: { tcpSocket: { port: 8080 }, failureThreshold: 30 },
        },
      ],
    }),
  );
  const container = out.spec.containers[0]!;
  t.same(container.livenessProbe, { exec: { command: ['true'] }, initialDelaySeconds: 0, timeoutSeconds: 1, periodSeconds: 10, successThreshold: 1, failureThreshold: 3 });
  t.same(container.readinessProbe, { httpGet: { port: 8080, path: '/', scheme: 'HTTP' }, initialDelaySeconds: 0, timeoutSeconds: 1, periodSeconds: 2, successThreshold: 1, failureThreshold: 3 });
  t.equal(container.startupProbe!.failureThreshold, 30, 'explicit values are kept');
});

t.test('an explicit 0 in a probe field is kept for validation to refuse', async (t) => {
  const out = applyPodDefaults(pod({ containers: [{ name: 'c', image: 'b:1', livenessProbe: { exec: { command: ['x'] }, periodSeconds: 0 } }] }));
  t.equal(out.spec.containers[0]!.livenessProbe!.periodSeconds, 0);
});

t.test('lifecycle httpGet handlers get path "/" and scheme HTTP', async (t) => {
  const out = applyPodDefaults(pod({ containers: [{ name: 'c', image: 'b:1', lifecycle: { postStart: { httpGet: { port: 80 } }, preStop: { exec: { command: ['x'] } } } }] }));
  t.same(out.spec.containers[0]!.lifecycle, { postStart: { httpGet: { port: 80, path: '/', scheme: 'HTTP' } }, preStop: { exec: { command: ['x'] } } });
});

t.test('a volume naming no source becomes an emptyDir, one with a source is untouched', async (t) => {
  const out = applyPodDefaults(pod({ volumes: [{ name: 'a' }, { name: 'b', hostPath: { path: '/tmp' } }] }));
  t.same(out.spec.volumes, [{ name: 'a', emptyDir: {} }, { name: 'b', hostPath: { path: '/tmp' } }]);
});

t.test('the input pod is not changed', async (t) => {
  const input = pod({ containers: [{ name: 'c', image: 'busybox', livenessProbe: { exec: { command: ['x'] } } }] });
  const before = JSON.stringify(input);
  applyPodDefaults(input);
  t.equal(JSON.stringify(input), before);
});

t.test('fields of the wrong shape are left for validation instead of throwing', async (t) => {
  const odd = { metadata: { name: 'p' }, spec: { containers: 'nope', initContainers: [42], volumes: [null] } } as unknown as Pod;
  t.doesNotThrow(() => applyPodDefaults(odd));
});
