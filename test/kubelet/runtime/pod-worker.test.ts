import { setTimeout as sleep } from 'node:timers/promises';
import t from 'tap';
import { NamespaceMode, type ContainerConfig, type PodSandboxConfig } from '../../../specs/cri/index.js';
import type { Pod } from '../../../kubelet/api/pod-types.js';
import { defaultKubeletParts } from '../../../kubelet/default-parts.js';
import type { KubeletParts } from '../../../kubelet/kubelet-parts.js';
import type { ProbeManager } from '../../../kubelet/prober/probe-manager-contract.js';
import { observePod } from '../../../kubelet/runtime/observe-pods.js';
import { PodWorkers, type PodWorkerDeps } from '../../../kubelet/runtime/pod-worker.js';
import { tempDir } from '../../helpers/temp-dir.js';
import { FakeCri } from './fake-cri.js';

interface Recorded {
  readonly fieldPath: string | undefined;
  readonly type: string;
  readonly reason: string;
  readonly message: string;
}

const probes: ProbeManager = {
  syncPod() {},
  lookup: () => ({ started: true, ready: true, livenessFailed: false, startupFailed: false }),
  removePod() {},
  onChange() {},
  close() {},
};

function setUp(t: { teardown(fn: () => void): void }, options: { parts?: Partial<KubeletParts>; now?: () => number } = {}) {
  const cri = new FakeCri();
  const events: Recorded[] = [];
  const deps: PodWorkerDeps = {
    runtime: cri.runtime,
    images: cri.images,
    csi: new Map(),
    parts: { ...defaultKubeletParts, ...options.parts },
    probes,
    events: { record: (_pod, fieldPath, type, reason, message) => void events.push({ fieldPath, type, reason, message }) },
    rootDir: tempDir(t, 'kp-pwu-'),
    nodeName: 'n1',
    maxRestartPeriodMs: 300_000,
    cgroupParent: '/kubeplug-test',
    ...(options.now === undefined ? {} : { now: options.now }),
  };
  const workers = new PodWorkers(deps);
  const sync = async (pod: Pod | undefined) => workers.sync('u1', pod, await observePod(cri.runtime, 'u1'));
  return { cri, events, deps, workers, sync };
}

function podOf(spec: Partial<Pod['spec']> = {}): Pod {
  return { metadata: { name: 'web', namespace: 'ns', uid: 'u1', labels: { app: 'web' } }, spec: { containers: [{ name: 'main', image: 'img:1' }], ...spec } };
}

t.test('the sandbox config carries identity, hostname, logs, ports, namespaces and the cgroup parent', async (t) => {
  const { cri, deps, sync } = setUp(t);
  await sync(
    podOf({
      hostname: 'custom',
      shareProcessNamespace: true,
      containers: [{ name: 'main', image: 'img:1', ports: [{ containerPort: 80, hostPort: 8080 }, { containerPort: 81 }] }],
    }),
  );
  const config = cri.calls.find((call) => call.method === 'runPodSandbox')?.request['config'] as PodSandboxConfig;
  t.same(config.metadata, { name: 'web', uid: 'u1', namespace: 'ns', attempt: 0 });
  t.equal(config.hostname, 'custom');
  t.equal(config.logDirectory, `${deps.rootDir}/logs/pods/ns_web_u1`);
  t.match(config.portMappings, [{ containerPort: 80, hostPort: 8080 }]);
  t.equal(config.portMappings.length, 1, 'only ports with a hostPort are mapped');
  t.match(config.labels, { app: 'web', 'io.kubernetes.pod.uid': 'u1', 'io.kubernetes.pod.name': 'web', 'io.kubernetes.pod.namespace': 'ns' });
  t.equal(config.linux?.cgroupParent, '/kubeplug-test');
  t.match(config.linux?.securityContext?.namespaceOptions, { network: NamespaceMode.POD, pid: NamespaceMode.POD, ipc: NamespaceMode.POD });
});

t.test('the container config: image, command, expanded env, mounts, log path, labels and annotations', async (t) => {
  const { cri, deps, sync } = setUp(t);
  await sync(
    podOf({
      terminationGracePeriodSeconds: 7,
      volumes: [{ name: 'scratch', emptyDir: {} }],
      containers: [
        {
          name: 'main',
          image: 'img:1',
          command: ['sh', '-c'],
          args: ['echo $(GREETING)'],
          env: [{ name: 'NAME', value: 'kube' }, { name: 'GREETING', value: 'hello $(NAME) $$(NAME)' }],
          workingDir: '/w',
          volumeMounts: [{ name: 'scratch', mountPath: '/s', subPath: 'sub', readOnly: true }],
          lifecycle: { preStop: { exec: { command: ['true'] } } },
        },
      ],
    }),
  );
  const request = cri.calls.find((call) => call.method === 'createContainer')?.request;
  const config = request?.['config'] as ContainerConfig;
  t.same(config.metadata, { name: 'main', attempt: 0 });
  t.equal(config.image?.image, 'img:1');
  t.same(config.command, ['sh', '-c']);
  t.same(config.args, ['echo hello kube $(NAME)']);
  t.same(config.envs.map((env) => [env.key, Buffer.from(env.value).toString()]), [['NAME', 'kube'], ['GREETING', 'hello kube $(NAME)']]);
  t.equal(config.workingDir, '/w');
  t.match(config.mounts, [{ containerPath: '/s', hostPath: `${deps.rootDir}/pods/u1/volumes/kubernetes.io~empty-dir/scratch/sub`, readonly: true }]);
  t.equal(config.logPath, 'main/0.log');
  t.match(config.labels, { 'io.kubernetes.container.name': 'main', 'io.kubernetes.pod.uid': 'u1' });
  t.match(config.annotations, {
    'io.kubernetes.container.restartCount': '0',
    'io.kubernetes.pod.terminationGracePeriod': '7',
    'io.kubernetes.container.terminationMessagePath': '/dev/termination-log',
    'io.kubernetes.container.preStopHandler': JSON.stringify({ exec: { command: ['true'] } }),
  });
  t.match(config.annotations['io.kubernetes.container.hash'], /^[0-9a-f]{8}$/);
  t.ok(request?.['sandboxConfig'], 'CreateContainer gets the sandbox config');
  t.same(cri.methods(['runPodSandbox', 'createContainer', 'startContainer']), ['runPodSandbox', 'createContainer', 'startContainer'], 'sandbox first, then create and start');
});

t.test('images follow imagePullPolicy: Always pulls, IfNotPresent pulls a missing one only, Never never pulls', async (t) => {
  const table = [
    { policy: 'Always', present: true, pulls: 1, waiting: undefined },
    { policy: 'IfNotPresent', present: true, pulls: 0, waiting: undefined },
    { policy: 'IfNotPresent', present: false, pulls: 1, waiting: undefined },
    { policy: 'Never', present: true, pulls: 0, waiting: undefined },
    { policy: 'Never', present: false, pulls: 0, waiting: 'ErrImageNeverPull' },
  ] as const;
  for (const entry of table) {
    const { cri, events, sync } = setUp(t);
    if (entry.present) cri.presentImages.add('img:1');
    const result = await sync(podOf({ containers: [{ name: 'main', image: 'img:1', imagePullPolicy: entry.policy }] }));
    const name = `${entry.policy}, image ${entry.present ? 'present' : 'absent'}`;
    t.equal(cri.methods(['pullImage']).length, entry.pulls, `${name}: pulls`);
    t.equal(result.waiting.get('main')?.reason, entry.waiting, `${name}: waiting reason`);
    t.equal(cri.methods(['createContainer']).length, entry.waiting === undefined ? 1 : 0, `${name}: created`);
    if (entry.pulls > 0) t.ok(events.some((event) => event.reason === 'Pulling') && events.some((event) => event.reason === 'Pulled'), `${name}: Pulling and Pulled`);
  }
});

t.test('a failing pull waits as ErrImagePull, then ImagePullBackOff without pulling until the back-off ends', async (t) => {
  let now = Date.parse('2026-01-01T10:00:00Z');
  const { cri, events, sync } = setUp(t, { now: () => now });
  cri.behaviour.pullImage = () => {
    throw new Error('registry says no');
  };
  const pod = podOf();
  const first = await sync(pod);
  t.match(first.waiting.get('main'), { reason: 'ErrImagePull', message: /Failed to pull image "img:1": .*registry says no/ });
  t.equal(first.nextSyncAt, now + 10_000);
  now += 5000;
  const second = await sync(pod);
  t.match(second.waiting.get('main'), { reason: 'ImagePullBackOff', message: 'Back-off pulling image "img:1"' });
  t.equal(cri.methods(['pullImage']).length, 1, 'no pull during the back-off');
  now += 6000;
  await sync(pod);
  t.equal(cri.methods(['pullImage']).length, 2, 'pulled again after it');
  t.ok(events.some((event) => event.reason === 'Failed' && event.message === 'Error: ErrImagePull'));
  t.equal(events.filter((event) => event.reason === 'BackOff').length, 1, 'one BackOff event for the back-off');
});

t.test('a failing postStart hook records FailedPostStartHook and kills the container', async (t) => {
  const { cri, events, sync } = setUp(t);
  cri.behaviour.execSync = () => ({ stdout: Buffer.from('nope'), stderr: Buffer.alloc(0), exitCode: 2 });
  const result = await sync(podOf({ containers: [{ name: 'main', image: 'img:1', lifecycle: { postStart: { exec: { command: ['false'] } } } }] }));
  t.match(result.waiting.get('main'), { reason: 'PostStartHookError' });
  const failed = events.find((event) => event.reason === 'FailedPostStartHook');
  t.match(failed, { type: 'Warning', fieldPath: 'spec.containers{main}', message: /Exec lifecycle hook \(\["false"\]\) for Container "main" in Pod "web_ns\(u1\)" failed - error: command 'false' exited with 2: nope/ });
  t.same(cri.methods(['startContainer', 'execSync', 'stopContainer']), ['startContainer', 'execSync', 'stopContainer'], 'the hook runs after start, the stop after the hook');
});

t.test('the next container starts only after the previous one\'s postStart returned', async (t) => {
  const { cri, sync } = setUp(t);
  const order: string[] = [];
  cri.behaviour.execSync = async () => {
    order.push('hook begins');
    await sleep(100);
    order.push('hook ends');
  };
  cri.behaviour.createContainer = (request) => {
    order.push(`create ${(request['config'] as ContainerConfig).metadata?.name}`);
  };
  await sync(podOf({ containers: [{ name: 'a', image: 'img:1', lifecycle: { postStart: { exec: { command: ['sleep'] } } } }, { name: 'b', image: 'img:1' }] }));
  t.same(order, ['create a', 'hook begins', 'hook ends', 'create b']);
});

t.test('a failing preStop hook records FailedPreStopHook and the stop goes on with the rest of the grace period', async (t) => {
  const { cri, events, sync } = setUp(t);
  const pod = podOf({ terminationGracePeriodSeconds: 5, containers: [{ name: 'main', image: 'img:1', lifecycle: { preStop: { exec: { command: ['false'] } } } }] });
  await sync(pod);
  cri.behaviour.execSync = () => ({ stdout: Buffer.alloc(0), stderr: Buffer.alloc(0), exitCode: 1 });
  await sync(undefined);
  t.match(events.find((event) => event.reason === 'FailedPreStopHook'), { type: 'Warning', fieldPath: 'spec.containers{main}' });
  const stop = cri.calls.find((call) => call.method === 'stopContainer');
  t.equal(stop?.request['timeout'], 5n, 'StopContainer gets the grace period left');
  t.same(cri.methods(['execSync', 'stopContainer', 'stopPodSandbox', 'removePodSandbox']), ['execSync', 'stopContainer', 'stopPodSandbox', 'removePodSandbox'], 'preStop, stop, stop sandbox, remove sandbox');
  t.equal(cri.sandboxes.size, 0);
});

t.test('a preStop that outlives the grace period is cut short and the stop gets the minimum timeout', async (t) => {
  const { cri, sync } = setUp(t);
  await sync(podOf({ terminationGracePeriodSeconds: 1, containers: [{ name: 'main', image: 'img:1', lifecycle: { preStop: { sleep: { seconds: 30 } } } }] }));
  const started = Date.now();
  await sync(undefined);
  const elapsed = Date.now() - started;
  t.ok(elapsed >= 900 && elapsed < 5000, `the kill took about the grace period (${elapsed} ms)`);
  t.equal(cri.calls.find((call) => call.method === 'stopContainer')?.request['timeout'], 2n, 'upstream\'s 2 s minimum');
});

t.test('activeDeadlineSeconds counts from the first sandbox and then kills the pod', async (t) => {
  let now = Date.now();
  const { cri, sync } = setUp(t, { now: () => now });
  const pod = podOf({ activeDeadlineSeconds: 30 });
  const first = await sync(pod);
  t.equal(first.deadlineExceeded, false);
  const second = await sync(pod);
  t.ok(second.nextSyncAt !== undefined && Math.abs(second.nextSyncAt - (now + 30_000)) < 2000, 'the next sync is due at the deadline');
  now += 31_000;
  const third = await sync(pod);
  t.equal(third.deadlineExceeded, true);
  t.ok(cri.methods().includes('stopContainer') && cri.methods().includes('stopPodSandbox'), 'containers and sandbox stopped');
  const creates = cri.methods(['createContainer']).length;
  await sync(pod);
  t.equal(cri.methods(['createContainer']).length, creates, 'nothing starts again');
});

t.test('syncs of one pod never overlap, and waiting ones fold into one that observes afresh', async (t) => {
  const { cri, workers } = setUp(t);
  let inside = 0;
  let most = 0;
  cri.behaviour.runPodSandbox = async () => {
    inside += 1;
    most = Math.max(most, inside);
    await sleep(100);
    inside -= 1;
  };
  const pod = podOf();
  const results = await Promise.all([workers.sync('u1', pod, undefined), workers.sync('u1', pod, undefined), workers.sync('u1', pod, undefined)]);
  t.equal(most, 1);
  t.equal(cri.methods(['runPodSandbox']).length, 1, 'the folded sync saw the sandbox the first one made');
  t.equal(results[1], results[2], 'the waiting calls share one result');
  t.equal(cri.methods(['createContainer']).length, 1);
});

t.test('a sandbox that died is replaced: containers stopped, SandboxChanged, a new sandbox with the next attempt', async (t) => {
  const { cri, events, sync } = setUp(t);
  const pod = podOf();
  await sync(pod);
  const [first] = [...cri.sandboxes.values()];
  first!.state = 1; // SANDBOX_NOTREADY
  await sync(pod);
  t.ok(events.some((event) => event.reason === 'SandboxChanged'));
  const configs = cri.calls.filter((call) => call.method === 'runPodSandbox').map((call) => (call.request['config'] as PodSandboxConfig).metadata?.attempt);
  t.same(configs, [0, 1]);
  const created = cri.calls.filter((call) => call.method === 'createContainer').map((call) => (call.request['config'] as ContainerConfig).metadata?.attempt);
  t.same(created, [0, 1], 'the container is created again with restartCount 1');
});

t.test('requests and limits become linux resources: memory limit, CPU quota over 100 ms and shares', async (t) => {
  const { cri, sync } = setUp(t);
  await sync(podOf({ containers: [{ name: 'main', image: 'img:1', resources: { limits: { memory: '32Mi', cpu: '500m' }, requests: { cpu: '250m' } } }] }));
  const config = cri.calls.find((call) => call.method === 'createContainer')?.request['config'] as ContainerConfig;
  t.match(config.linux?.resources, { memoryLimitInBytes: 32n * 1024n * 1024n, cpuPeriod: 100_000n, cpuQuota: 50_000n, cpuShares: 256n });
});
