import fs from 'node:fs';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import t from 'tap';
import { registryUnavailable, startLoopbackRegistry } from '../../../conformance/cri/test-images/loopback-registry.js';
import { provisionTestImages } from '../../../conformance/cri/test-images/provision-test-images.js';
import { testImagesUnavailable } from '../../../conformance/cri/test-images/test-image.js';
import { bridgeNetworkConfig, kubeplugCniPlugins, processRuntimeNodeUnavailable, startProcessRuntimeNode, type CriNode } from '../../../conformance/peers/index.js';
import { callUnary } from '../../../specs/cri/index.js';
import type { Pod } from '../../../kubelet/api/pod-types.js';
import { defaultKubeletParts } from '../../../kubelet/default-parts.js';
import type { EventSink } from '../../../kubelet/events/event-sink.js';
import type { ObservedPod } from '../../../kubelet/kubelet-parts.js';
import type { ProbeManager } from '../../../kubelet/prober/probe-manager-contract.js';
import { observePod, observePods } from '../../../kubelet/runtime/observe-pods.js';
import { PodWorkers, type PodSyncResult } from '../../../kubelet/runtime/pod-worker.js';
import { runtimeKeys } from '../../../kubelet/runtime/runtime-labels.js';
import { tempDir } from '../../helpers/temp-dir.js';

// PodWorkers driving a real CRI runtime (kubeplug serve cri, from dist, on an
// isolated node) with the default parts: no kubelet wiring, no prober; the
// test plays the sync loop itself.

const skip = processRuntimeNodeUnavailable() ?? registryUnavailable() ?? testImagesUnavailable();

t.setTimeout(240_000);

interface RecordedEvent {
  readonly fieldPath: string | undefined;
  readonly reason: string;
  readonly message: string;
}

const healthyProbes: ProbeManager = {
  syncPod() {},
  lookup: () => ({ started: true, ready: true, livenessFailed: false, startupFailed: false }),
  removePod() {},
  onChange() {},
  close() {},
};

t.test('PodWorkers run a pod on a real runtime: init before app, shared emptyDir and hostPath, postStart, restart with back-off, preStop and removal', { skip: skip ?? false }, async (t) => {
  const dir = tempDir(t, 'kp-pw-');
  const registry = await startLoopbackRegistry({ dir: path.join(dir, 'registry') });
  t.teardown(() => registry.stop());
  const image = (await provisionTestImages(registry.host)).images.busybox.reference;
  let stop: (() => Promise<unknown>) | undefined;
  t.teardown(async () => {
    await stop?.();
  });
  const node: CriNode = await startProcessRuntimeNode({
    cniPlugins: kubeplugCniPlugins(),
    networkConfig: bridgeNetworkConfig({ plugins: 'kubeplug', name: 'kp-pw', bridge: 'kppw0', subnet: '10.96.0.0/16' }),
    loopbackRegistries: [registry.host],
    registerStop: (registered) => (stop = registered),
  });

  const events: RecordedEvent[] = [];
  const sink: EventSink = { record: (_pod, fieldPath, _type, reason, message) => void events.push({ fieldPath, reason, message }) };
  const rootDir = path.join(dir, 'root');
  const hostDir = path.join(dir, 'host');
  fs.mkdirSync(hostDir);
  const workers = new PodWorkers({
    runtime: node.runtime,
    images: node.images,
    csi: new Map(),
    parts: defaultKubeletParts,
    probes: healthyProbes,
    events: sink,
    rootDir,
    nodeName: 'kp-pw',
    maxRestartPeriodMs: 2000,
    cgroupParent: node.cgroupParent,
  });
  const uid = '5a1e7c1d-0000-4000-8000-000000000001';
  const pod: Pod = {
    metadata: { name: 'pw', namespace: 'default', uid },
    spec: {
      restartPolicy: 'Always',
      terminationGracePeriodSeconds: 3,
      volumes: [
        { name: 'data', emptyDir: {} },
        { name: 'host', hostPath: { path: hostDir, type: 'Directory' } },
      ],
      initContainers: [{ name: 'setup', image, imagePullPolicy: 'IfNotPresent', command: ['sh', '-c', 'echo from-init > /data/init'], volumeMounts: [{ name: 'data', mountPath: '/data' }] }],
      containers: [
        {
          name: 'main',
          image,
          imagePullPolicy: 'IfNotPresent',
          command: ['sh', '-c', 'trap "exit 0" TERM; while :; do sleep 1; done'],
          volumeMounts: [
            { name: 'data', mountPath: '/data' },
            { name: 'host', mountPath: '/host' },
          ],
          lifecycle: {
            postStart: { exec: { command: ['sh', '-c', 'cat /data/init > /data/post-start'] } },
            preStop: { exec: { command: ['sh', '-c', 'echo stopping > /host/pre-stop'] } },
          },
        },
        { name: 'crasher', image, imagePullPolicy: 'IfNotPresent', command: ['sh', '-c', 'exit 3'] },
      ],
    },
  };
  let observed: ObservedPod | undefined;
  let last: PodSyncResult | undefined;
  const syncOnce = async (desired: Pod | undefined): Promise<void> => {
    observed = await observePod(node.runtime, uid);
    last = await workers.sync(uid, desired, observed);
    observed = await observePod(node.runtime, uid);
  };
  const syncUntil = async (what: string, desired: Pod | undefined, done: () => boolean, timeoutMs = 60_000): Promise<void> => {
    const until = Date.now() + timeoutMs;
    for (;;) {
      await syncOnce(desired);
      if (done()) return;
      if (Date.now() > until) throw new Error(`timed out waiting for ${what}: ${JSON.stringify(observed?.containers.map((c) => [c.name, c.attempt, c.state, c.exitCode]))} ${JSON.stringify(last)}`);
      await sleep(200);
    }
  };
  const latest = (name: string) => observed?.containers.find((container) => container.name === name);

  await syncUntil('main to run', pod, () => latest('main')?.state === 'running');
  t.equal(observed?.sandboxes.length, 1, 'one sandbox');
  const sandboxId = observed?.sandboxes[0]?.id;
  t.match(observed?.sandboxes[0], { ready: true, attempt: 0, ip: /^10\.96\./ }, 'ready, with an IP from the network');
  t.match(latest('setup'), { state: 'exited', exitCode: 0 }, 'the init container completed');
  t.ok((latest('main')?.createdAt ?? 0) >= (latest('setup')?.finishedAt ?? Infinity) - 1, 'main was created after setup finished');
  const postStart = await callUnary(node.runtime, node.runtime.execSync, { containerId: latest('main')!.id, cmd: ['cat', '/data/post-start'], timeout: 10n });
  t.equal(postStart.stdout.toString(), 'from-init\n', 'postStart ran in main and saw what init wrote to the shared emptyDir');
  t.equal(latest('main')?.annotations[runtimeKeys.containerRestartCount], '0');
  t.equal(latest('main')?.labels[runtimeKeys.podUid], uid);
  const logDir = path.join(rootDir, 'logs', 'pods', `default_pw_${uid}`);
  t.ok(fs.existsSync(path.join(logDir, 'main', '0.log')), 'the log is at <log dir>/main/0.log');
  for (const reason of ['Pulled', 'Created', 'Started']) t.ok(events.some((event) => event.reason === reason && event.fieldPath === 'spec.containers{main}'), `event ${reason} for main`);

  // The crasher exits 3 each time: restarted at once the first time, then held by back-off.
  await syncUntil('crasher to back off', pod, () => last?.waiting.get('crasher')?.reason === 'CrashLoopBackOff');
  const crashes = observed!.containers.filter((container) => container.name === 'crasher');
  t.ok(Math.max(...crashes.map((container) => container.attempt)) >= 1, 'the crasher was restarted at least once');
  t.match(last?.waiting.get('crasher')?.message, /^back-off 2s restarting failed container=crasher/);
  t.ok(last?.nextSyncAt !== undefined && last.nextSyncAt > Date.now() - 1000, 'nextSyncAt is the end of the back-off');
  t.ok(events.some((event) => event.reason === 'BackOff'), 'a BackOff event');
  t.equal(observed?.sandboxes[0]?.id, sandboxId, 'restarts keep the sandbox');
  t.equal(latest('main')?.attempt, 0, 'main was never restarted');

  // Every sync keeps at most the newest exited container per name.
  await syncOnce(pod);
  t.ok(observed!.containers.filter((container) => container.name === 'crasher' && container.state === 'exited').length <= 2, 'old crashes are removed');

  const mainId = latest('main')!.id;
  await syncOnce(undefined);
  t.equal(fs.readFileSync(path.join(hostDir, 'pre-stop'), 'utf8'), 'stopping\n', 'preStop ran through the hostPath mount before the stop');
  t.ok(events.some((event) => event.reason === 'Killing' && event.fieldPath === 'spec.containers{main}'), 'a Killing event');
  t.equal(observed, undefined, 'the runtime holds nothing of the pod');
  t.notOk(fs.existsSync(path.join(rootDir, 'pods', uid)), 'the emptyDir is removed with the pod');
  t.notOk(fs.existsSync(logDir), 'and its logs');
  t.notOk((await observePods(node.runtime)).has(uid));
  await t.rejects(callUnary(node.runtime, node.runtime.containerStatus, { containerId: mainId, verbose: false }), { code: 'NOT_FOUND' });

  const failures = await stop?.();
  stop = undefined;
  t.same(failures, [], 'the node stops cleanly');
});
