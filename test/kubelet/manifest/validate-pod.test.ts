import t from 'tap';
import type { Container, Pod, Volume } from '../../../kubelet/api/pod-types.js';
import { applyPodDefaults, validatePod } from '../../../kubelet/manifest/index.js';

/** A valid defaulted pod with one app container named "main", changed by `change`. */
function podWith(change: (pod: Pod) => void): Pod {
  const pod: Pod = {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: { name: 'web-node', namespace: 'default' },
    spec: {
      containers: [{ name: 'main', image: 'busybox:1.36', ports: [{ name: 'http', containerPort: 8080 }] }],
      volumes: [{ name: 'data', emptyDir: {} }],
    },
  };
  change(pod);
  return applyPodDefaults(pod);
}

function main(pod: Pod): Container {
  return pod.spec.containers[0]!;
}

t.test('a valid pod has no errors', async (t) => {
  t.same(validatePod(podWith(() => undefined)), []);
});

t.test('a pod with probes, hooks, sidecars and volumes of every kind is valid', async (t) => {
  const pod = podWith((pod) => {
    pod.spec.initContainers = [
      { name: 'setup', image: 'busybox:1.36' },
      {
        name: 'sidecar',
        image: 'busybox:1.36',
        restartPolicy: 'Always',
        startupProbe: { exec: { command: ['true'] } },
        readinessProbe: { tcpSocket: { port: 9000 } },
        lifecycle: { preStop: { sleep: { seconds: 1 } } },
      },
    ];
    pod.spec.volumes!.push({ name: 'host', hostPath: { path: '/var/tmp', type: 'DirectoryOrCreate' } }, { name: 'csi', csi: { driver: 'dir.kubeplug.dev' } });
    Object.assign(main(pod), {
      volumeMounts: [{ name: 'data', mountPath: '/data' }, { name: 'host', mountPath: '/host' }],
      livenessProbe: { httpGet: { port: 'http', path: '/healthz' }, periodSeconds: 1 },
      readinessProbe: { httpGet: { port: 8080 }, successThreshold: 3 },
      startupProbe: { grpc: { port: 9090 } },
      lifecycle: { postStart: { exec: { command: ['true'] } }, preStop: { httpGet: { port: 'http' } } },
    });
    pod.spec.activeDeadlineSeconds = 60;
  });
  t.same(validatePod(pod).map((error) => error.message), []);
});

/** [rule, change, field named, detail pattern] */
const cases: Array<[string, (pod: Pod) => void, string, RegExp]> = [
  // names
  ['a pod name that is not a DNS subdomain', (pod) => { pod.metadata.name = 'Web_Pod'; }, 'metadata.name', /RFC 1123 subdomain/],
  ['a namespace that is not a DNS label', (pod) => { pod.metadata.namespace = 'my.ns'; }, 'metadata.namespace', /RFC 1123 label/],
  ['a container name that is not a DNS label', (pod) => { main(pod).name = 'Main'; }, 'spec.containers[0].name', /RFC 1123 label/],
  ['a missing container name', (pod) => { main(pod).name = ''; }, 'spec.containers[0].name', /Required value/],
  ['no containers', (pod) => { pod.spec.containers = []; }, 'spec.containers', /Required value/],
  ['a duplicate app container name', (pod) => { pod.spec.containers.push({ name: 'main', image: 'busybox:1' }); }, 'spec.containers[1].name', /Duplicate value: "main"/],
  ['an init container named as an app container', (pod) => { pod.spec.initContainers = [{ name: 'main', image: 'busybox:1' }]; }, 'spec.initContainers[0].name', /Duplicate value: "main"/],
  ['two init containers with one name', (pod) => { pod.spec.initContainers = [{ name: 'a', image: 'b:1' }, { name: 'a', image: 'b:1' }]; }, 'spec.initContainers[1].name', /Duplicate value: "a"/],
  ['a missing image', (pod) => { main(pod).image = ''; }, 'spec.containers[0].image', /Required value/],
  ['a blank image', (pod) => { main(pod).image = '  '; }, 'spec.containers[0].image', /Required value/],
  ['an unknown imagePullPolicy', (pod) => { main(pod).imagePullPolicy = 'Sometimes' as 'Always'; }, 'spec.containers[0].imagePullPolicy', /Unsupported value: "Sometimes"/],
  // init containers
  ['a livenessProbe on a non-sidecar init container', (pod) => { pod.spec.initContainers = [{ name: 'i', image: 'b:1', livenessProbe: { exec: { command: ['true'] } } }]; }, 'spec.initContainers[0].livenessProbe', /Forbidden: may not be set for init containers without restartPolicy=Always/],
  ['a readinessProbe on a non-sidecar init container', (pod) => { pod.spec.initContainers = [{ name: 'i', image: 'b:1', readinessProbe: { exec: { command: ['true'] } } }]; }, 'spec.initContainers[0].readinessProbe', /Forbidden/],
  ['a startupProbe on a non-sidecar init container', (pod) => { pod.spec.initContainers = [{ name: 'i', image: 'b:1', startupProbe: { exec: { command: ['true'] } } }]; }, 'spec.initContainers[0].startupProbe', /Forbidden/],
  ['lifecycle on a non-sidecar init container', (pod) => { pod.spec.initContainers = [{ name: 'i', image: 'b:1', lifecycle: { postStart: { exec: { command: ['true'] } } } }]; }, 'spec.initContainers[0].lifecycle', /Forbidden/],
  ['an init restartPolicy other than Always', (pod) => { pod.spec.initContainers = [{ name: 'i', image: 'b:1', restartPolicy: 'OnFailure' as 'Always' }]; }, 'spec.initContainers[0].restartPolicy', /Unsupported value: "OnFailure": supported values: "Always"/],
  ['a restartPolicy on an app container', (pod) => { main(pod).restartPolicy = 'Always'; }, 'spec.containers[0].restartPolicy', /Forbidden/],
  // ports
  ['containerPort 0', (pod) => { main(pod).ports = [{ containerPort: 0 }]; }, 'spec.containers[0].ports[0].containerPort', /between 1 and 65535/],
  ['containerPort 65536', (pod) => { main(pod).ports = [{ containerPort: 65536 }]; }, 'spec.containers[0].ports[0].containerPort', /between 1 and 65535/],
  ['a hostPort out of range', (pod) => { main(pod).ports = [{ containerPort: 80, hostPort: 70000 }]; }, 'spec.containers[0].ports[0].hostPort', /between 1 and 65535/],
  ['a port name that is not an IANA service name', (pod) => { main(pod).ports = [{ containerPort: 80, name: 'HTTP' }]; }, 'spec.containers[0].ports[0].name', /alpha-numeric/],
  ['a port name without a letter', (pod) => { main(pod).ports = [{ containerPort: 80, name: '8080' }]; }, 'spec.containers[0].ports[0].name', /at least one letter/],
  ['a port name longer than 15 characters', (pod) => { main(pod).ports = [{ containerPort: 80, name: 'a-very-long-port-name' }]; }, 'spec.containers[0].ports[0].name', /15 characters/],
  ['two ports with one name', (pod) => { main(pod).ports = [{ containerPort: 80, name: 'web' }, { containerPort: 81, name: 'web' }]; }, 'spec.containers[0].ports[1].name', /Duplicate value: "web"/],
  ['an unknown port protocol', (pod) => { main(pod).ports = [{ containerPort: 80, protocol: 'ICMP' as 'TCP' }]; }, 'spec.containers[0].ports[0].protocol', /Unsupported value: "ICMP"/],
  ['a probe httpGet port out of range', (pod) => { main(pod).livenessProbe = { httpGet: { port: 0 } }; }, 'spec.containers[0].livenessProbe.httpGet.port', /between 1 and 65535/],
  ['a probe tcpSocket port out of range', (pod) => { main(pod).readinessProbe = { tcpSocket: { port: 99999 } }; }, 'spec.containers[0].readinessProbe.tcpSocket.port', /between 1 and 65535/],
  ['a probe grpc port out of range', (pod) => { main(pod).startupProbe = { grpc: { port: 0 } }; }, 'spec.containers[0].startupProbe.grpc.port', /between 1 and 65535/],
  ['a probe naming an undeclared port', (pod) => { main(pod).livenessProbe = { httpGet: { port: 'metrics' } }; }, 'spec.containers[0].livenessProbe.httpGet.port', /must name a port of the container/],
  ['a hook naming an undeclared port', (pod) => { main(pod).lifecycle = { postStart: { tcpSocket: { port: 'admin' } } }; }, 'spec.containers[0].lifecycle.postStart.tcpSocket.port', /must name a port of the container/],
  ['a hook httpGet port out of range', (pod) => { main(pod).lifecycle = { preStop: { httpGet: { port: 70000 } } }; }, 'spec.containers[0].lifecycle.preStop.httpGet.port', /between 1 and 65535/],
  ['a probe port name that is not an IANA service name', (pod) => { main(pod).livenessProbe = { tcpSocket: { port: 'Not_A_Name' } }; }, 'spec.containers[0].livenessProbe.tcpSocket.port', /alpha-numeric/],
  // probes
  ['a probe without a handler', (pod) => { main(pod).livenessProbe = {}; }, 'spec.containers[0].livenessProbe', /Required value: must specify a handler type/],
  ['a probe with two handlers', (pod) => { main(pod).readinessProbe = { exec: { command: ['true'] }, tcpSocket: { port: 8080 } }; }, 'spec.containers[0].readinessProbe', /Forbidden: may not specify more than 1 handler type/],
  ['periodSeconds 0', (pod) => { main(pod).livenessProbe = { exec: { command: ['true'] }, periodSeconds: 0 }; }, 'spec.containers[0].livenessProbe.periodSeconds', /greater than or equal to 1/],
  ['timeoutSeconds 0', (pod) => { main(pod).livenessProbe = { exec: { command: ['true'] }, timeoutSeconds: 0 }; }, 'spec.containers[0].livenessProbe.timeoutSeconds', /greater than or equal to 1/],
  ['failureThreshold 0', (pod) => { main(pod).readinessProbe = { exec: { command: ['true'] }, failureThreshold: 0 }; }, 'spec.containers[0].readinessProbe.failureThreshold', /greater than or equal to 1/],
  ['successThreshold 0', (pod) => { main(pod).readinessProbe = { exec: { command: ['true'] }, successThreshold: 0 }; }, 'spec.containers[0].readinessProbe.successThreshold', /greater than or equal to 1/],
  ['successThreshold 2 on a liveness probe', (pod) => { main(pod).livenessProbe = { exec: { command: ['true'] }, successThreshold: 2 }; }, 'spec.containers[0].livenessProbe.successThreshold', /must be 1/],
  ['successThreshold 2 on a startup probe', (pod) => { main(pod).startupProbe = { exec: { command: ['true'] }, successThreshold: 2 }; }, 'spec.containers[0].startupProbe.successThreshold', /must be 1/],
  ['a negative initialDelaySeconds', (pod) => { main(pod).livenessProbe = { exec: { command: ['true'] }, initialDelaySeconds: -1 }; }, 'spec.containers[0].livenessProbe.initialDelaySeconds', /greater than or equal to 0/],
  ['a fractional periodSeconds', (pod) => { main(pod).livenessProbe = { exec: { command: ['true'] }, periodSeconds: 1.5 }; }, 'spec.containers[0].livenessProbe.periodSeconds', /greater than or equal to 1/],
  ['an exec probe without a command', (pod) => { main(pod).livenessProbe = { exec: {} }; }, 'spec.containers[0].livenessProbe.exec.command', /Required value/],
  ['a probe field on a sidecar out of range', (pod) => { pod.spec.initContainers = [{ name: 's', image: 'b:1', restartPolicy: 'Always', readinessProbe: { exec: { command: ['true'] }, periodSeconds: 0 } }]; }, 'spec.initContainers[0].readinessProbe.periodSeconds', /greater than or equal to 1/],
  ['a hook without a handler', (pod) => { main(pod).lifecycle = { preStop: {} }; }, 'spec.containers[0].lifecycle.preStop', /must specify a handler type/],
  ['a hook with two handlers', (pod) => { main(pod).lifecycle = { postStart: { exec: { command: ['x'] }, sleep: { seconds: 1 } } }; }, 'spec.containers[0].lifecycle.postStart', /more than 1 handler type/],
  // volumes
  ['two volumes with one name', (pod) => { pod.spec.volumes!.push({ name: 'data', emptyDir: {} }); }, 'spec.volumes[1].name', /Duplicate value: "data"/],
  ['a volume name that is not a DNS label', (pod) => { pod.spec.volumes = [{ name: 'Data', emptyDir: {} }]; }, 'spec.volumes[0].name', /RFC 1123 label/],
  ['a volume with two sources', (pod) => { pod.spec.volumes = [{ name: 'data', emptyDir: {}, hostPath: { path: '/tmp' } }]; }, 'spec.volumes[0]', /may not specify more than 1 volume type/],
  ['a volume with a source kubeplug does not implement', (pod) => { pod.spec.volumes = [{ name: 'data', configMap: { name: 'x' } } as unknown as Volume]; }, 'spec.volumes[0].configMap', /Unsupported value/],
  ['a relative hostPath', (pod) => { pod.spec.volumes = [{ name: 'data', hostPath: { path: 'tmp/x' } }]; }, 'spec.volumes[0].hostPath.path', /absolute/],
  ['a hostPath with ".."', (pod) => { pod.spec.volumes = [{ name: 'data', hostPath: { path: '/tmp/../etc' } }]; }, 'spec.volumes[0].hostPath.path', /'\.\.'/],
  ['an unknown hostPath type', (pod) => { pod.spec.volumes = [{ name: 'data', hostPath: { path: '/tmp', type: 'Dir' as 'Directory' } }]; }, 'spec.volumes[0].hostPath.type', /Unsupported value/],
  ['a csi volume without a driver', (pod) => { pod.spec.volumes = [{ name: 'data', csi: { driver: '' } }]; }, 'spec.volumes[0].csi.driver', /Required value/],
  ['a volumeMount naming no declared volume', (pod) => { main(pod).volumeMounts = [{ name: 'cache', mountPath: '/cache' }]; }, 'spec.containers[0].volumeMounts[0].name', /Not found: "cache"/],
  ['a volumeMount without a mountPath', (pod) => { main(pod).volumeMounts = [{ name: 'data', mountPath: '' }]; }, 'spec.containers[0].volumeMounts[0].mountPath', /Required value/],
  ['two volumeMounts on one path', (pod) => { main(pod).volumeMounts = [{ name: 'data', mountPath: '/d' }, { name: 'data', mountPath: '/d' }]; }, 'spec.containers[0].volumeMounts[1].mountPath', /must be unique/],
  ['an init container mounting an undeclared volume', (pod) => { pod.spec.initContainers = [{ name: 'i', image: 'b:1', volumeMounts: [{ name: 'nope', mountPath: '/x' }] }]; }, 'spec.initContainers[0].volumeMounts[0].name', /Not found/],
  // pod fields
  ['an unknown restartPolicy', (pod) => { pod.spec.restartPolicy = 'Sometimes' as 'Always'; }, 'spec.restartPolicy', /Unsupported value: "Sometimes": supported values: "Always", "OnFailure", "Never"/],
  ['activeDeadlineSeconds 0', (pod) => { pod.spec.activeDeadlineSeconds = 0; }, 'spec.activeDeadlineSeconds', /between 1 and 2147483647/],
  ['a negative activeDeadlineSeconds', (pod) => { pod.spec.activeDeadlineSeconds = -5; }, 'spec.activeDeadlineSeconds', /between 1 and 2147483647/],
  ['a negative terminationGracePeriodSeconds', (pod) => { pod.spec.terminationGracePeriodSeconds = -1; }, 'spec.terminationGracePeriodSeconds', /greater than or equal to 0/],
  ['an unknown dnsPolicy', (pod) => { pod.spec.dnsPolicy = 'Cluster' as 'Default'; }, 'spec.dnsPolicy', /Unsupported value/],
  ['a hostname that is not a DNS label', (pod) => { pod.spec.hostname = 'my_host'; }, 'spec.hostname', /RFC 1123 label/],
  ['an env var without a name', (pod) => { main(pod).env = [{ name: '', value: 'x' }]; }, 'spec.containers[0].env[0].name', /Required value/],
];

for (const [rule, change, field, detail] of cases) {
  t.test(`${rule} is refused naming ${field}`, async (t) => {
    const errors = validatePod(podWith(change));
    const match = errors.find((error) => error.field === field);
    t.ok(match, `an error names ${field} (got: ${errors.map((error) => error.message).join(' | ') || 'none'})`);
    t.match(match?.detail, detail);
    t.match(match?.message, `${field}: `, 'the message starts with the field');
  });
}

t.test('terminationGracePeriodSeconds 0 and initialDelaySeconds 0 are allowed', async (t) => {
  const pod = podWith((pod) => {
    pod.spec.terminationGracePeriodSeconds = 0;
    main(pod).livenessProbe = { exec: { command: ['true'] }, initialDelaySeconds: 0 };
  });
  t.same(validatePod(pod), []);
});

t.test('successThreshold above 1 is allowed on a readiness probe', async (t) => {
  t.same(validatePod(podWith((pod) => { main(pod).readinessProbe = { exec: { command: ['true'] }, successThreshold: 3 }; })), []);
});

t.test('a sidecar may carry every probe and lifecycle', async (t) => {
  const pod = podWith((pod) => {
    pod.spec.initContainers = [
      {
        name: 's',
        image: 'b:1',
        restartPolicy: 'Always',
        livenessProbe: { exec: { command: ['true'] } },
        readinessProbe: { exec: { command: ['true'] } },
        startupProbe: { exec: { command: ['true'] } },
        lifecycle: { postStart: { exec: { command: ['true'] } } },
      },
    ];
  });
  t.same(validatePod(pod), []);
});

t.test('every problem is reported, not only the first', async (t) => {
  const errors = validatePod(
    podWith((pod) => {
      main(pod).image = '';
      pod.spec.containers.push({ name: 'main', image: 'b:1', livenessProbe: { exec: { command: ['x'] }, periodSeconds: 0 } });
    }),
  );
  t.same(errors.map((error) => error.field).sort(), ['spec.containers[0].image', 'spec.containers[1].livenessProbe.periodSeconds', 'spec.containers[1].name']);
});

t.test('values of the wrong type are refused, never thrown on', async (t) => {
  const odd = {
    metadata: { name: 'p' },
    spec: {
      containers: [
        { name: 5, image: ['x'], ports: 'many', livenessProbe: { exec: { command: ['x'] }, periodSeconds: '10' } },
        'not a container',
      ],
      initContainers: {},
      volumes: [null, { name: 'v', hostPath: 'str' }],
    },
  } as unknown as Pod;
  let errors: ReturnType<typeof validatePod> = [];
  t.doesNotThrow(() => {
    errors = validatePod(applyPodDefaults(odd));
  });
  const fields = errors.map((error) => error.field);
  for (const field of ['spec.containers[0].name', 'spec.containers[0].image', 'spec.containers[0].livenessProbe.periodSeconds', 'spec.containers[1]', 'spec.initContainers', 'spec.volumes[0]', 'spec.volumes[1].hostPath.path']) {
    t.ok(fields.includes(field), `${field} is named`);
  }
});

t.test('a pod that is not an object or has no spec is refused', async (t) => {
  t.ok(validatePod(null as unknown as Pod).length > 0);
  t.same(validatePod({ metadata: { name: 'p' } } as unknown as Pod).map((error) => error.field), ['spec']);
});
