import http from 'node:http';
import { once } from 'node:events';
import type { AddressInfo } from 'node:net';
import t, { type Test } from 'tap';
import type { Container, Pod, Probe } from '../../../kubelet/api/pod-types.js';
import { initialProbeVerdict, mayProbe, tallyProbe } from '../../../kubelet/prober/probe-parts.js';
import type { EventSink } from '../../../kubelet/events/event-sink.js';
import type { ObservedContainer, ProbeKind } from '../../../kubelet/kubelet-parts.js';
import { createProbeManager, type ProbeManagerDeps } from '../../../kubelet/prober/probe-manager.js';
import type { ProbeAttempt, ProbeTarget } from '../../../kubelet/prober/probe-runner.js';
import type { RuntimeServiceClient } from '../../../specs/cri/index.js';

const parts = { initialProbeVerdict, tallyProbe, mayProbe };
const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

function podWith(container: Container): Pod {
  return { metadata: { name: 'p-node', namespace: 'default', uid: 'uid-1' }, spec: { containers: [container] } };
}

function running(id: string, name: string, startedAt = Date.now()): ObservedContainer {
  return { id, name, attempt: 0, sandboxId: 's', state: 'running', createdAt: startedAt, startedAt, finishedAt: 0, exitCode: 0, reason: '', message: '', image: 'i', imageRef: 'i', labels: {}, annotations: {} };
}

/** A prober whose attempts answer from a script per kind, recording each attempt and event. */
function scripted(t: Test, script: Partial<Record<ProbeKind, () => ProbeAttempt>>, container: Container) {
  const attempts: { kind: ProbeKind; at: number }[] = [];
  const events: string[] = [];
  const kindOf = (probe: Probe): ProbeKind => (probe === container.livenessProbe ? 'liveness' : probe === container.readinessProbe ? 'readiness' : 'startup');
  const sink: EventSink = { record: (_pod, fieldPath, type, reason, message) => void events.push(`${fieldPath} ${type} ${reason} ${message}`) };
  const deps: ProbeManagerDeps = {
    runtime: {} as RuntimeServiceClient,
    parts,
    events: sink,
    runProbe: async (probe: Probe, _target: ProbeTarget) => {
      const kind = kindOf(probe);
      attempts.push({ kind, at: Date.now() });
      return script[kind]?.() ?? { outcome: 'success', output: '' };
    },
  };
  const manager = createProbeManager(deps);
  t.teardown(() => manager.close());
  return { manager, attempts, events };
}

t.test('a container without probes is started and ready at once; an unknown container is neither', async (t) => {
  const container: Container = { name: 'plain', image: 'busybox' };
  const { manager } = scripted(t, {}, container);
  manager.syncPod(podWith(container), '10.0.0.2', [running('c1', 'plain')]);
  t.same(manager.lookup('c1'), { started: true, ready: true, livenessFailed: false, startupFailed: false });
  t.same(manager.lookup('nope'), { started: false, ready: false, livenessFailed: false, startupFailed: false });
});

t.test('readiness starts as failure and turns ready after its first success, announcing the change', async (t) => {
  const container: Container = { name: 'web', image: 'busybox', readinessProbe: { exec: { command: ['true'] }, periodSeconds: 1, successThreshold: 1, failureThreshold: 3 } };
  const { manager } = scripted(t, { readiness: () => ({ outcome: 'success', output: '' }) }, container);
  const changed: string[] = [];
  manager.onChange((uid) => changed.push(uid));
  manager.syncPod(podWith(container), '10.0.0.2', [running('c1', 'web')]);
  t.equal(manager.lookup('c1').ready, false, 'not ready before the first result');
  await sleep(200);
  t.equal(manager.lookup('c1').ready, true, 'ready after one success');
  t.same(changed, ['uid-1']);
});

t.test('liveness fails only after failureThreshold failures in a row, records Unhealthy each time, then holds', async (t) => {
  const container: Container = { name: 'web', image: 'busybox', livenessProbe: { exec: { command: ['false'] }, periodSeconds: 1, failureThreshold: 2, successThreshold: 1 } };
  const { manager, attempts, events } = scripted(t, { liveness: () => ({ outcome: 'failure', output: 'broken\n' }) }, container);
  manager.syncPod(podWith(container), '10.0.0.2', [running('c1', 'web')]);
  await sleep(300);
  t.equal(attempts.length, 1);
  t.equal(manager.lookup('c1').livenessFailed, false, 'one failure changes nothing');
  await sleep(1000);
  t.equal(attempts.length, 2);
  t.equal(manager.lookup('c1').livenessFailed, true, 'the second failure in a row does');
  t.same(events, ['spec.containers{web} Warning Unhealthy Liveness probe failed: broken', 'spec.containers{web} Warning Unhealthy Liveness probe failed: broken']);
  await sleep(1200);
  t.equal(attempts.length, 2, 'no attempt after the failed verdict until the container is replaced');
});

t.test('a success between failures restarts the count', async (t) => {
  const outcomes: ProbeAttempt['outcome'][] = ['failure', 'success', 'failure'];
  const container: Container = { name: 'web', image: 'busybox', livenessProbe: { exec: { command: ['x'] }, periodSeconds: 1, failureThreshold: 2, successThreshold: 1 } };
  const { manager, attempts } = scripted(t, { liveness: () => ({ outcome: outcomes.shift() ?? 'success', output: '' }) }, container);
  manager.syncPod(podWith(container), '10.0.0.2', [running('c1', 'web')]);
  await sleep(2300);
  t.equal(attempts.length, 3);
  t.equal(manager.lookup('c1').livenessFailed, false);
});

t.test('a startup probe gates liveness and readiness: neither runs and the container is not started until it succeeds', async (t) => {
  let startupOk = false;
  const container: Container = {
    name: 'web',
    image: 'busybox',
    startupProbe: { exec: { command: ['s'] }, periodSeconds: 1, failureThreshold: 10, successThreshold: 1 },
    livenessProbe: { exec: { command: ['l'] }, periodSeconds: 1, failureThreshold: 3, successThreshold: 1 },
    readinessProbe: { exec: { command: ['r'] }, periodSeconds: 1, failureThreshold: 3, successThreshold: 1 },
  };
  const { manager, attempts } = scripted(t, { startup: () => ({ outcome: startupOk ? 'success' : 'failure', output: 'not yet' }) }, container);
  manager.syncPod(podWith(container), '10.0.0.2', [running('c1', 'web')]);
  await sleep(1300);
  t.same(attempts.map((attempt) => attempt.kind), ['startup', 'startup']);
  t.same(manager.lookup('c1'), { started: false, ready: false, livenessFailed: false, startupFailed: false });
  startupOk = true;
  await sleep(2000);
  t.equal(manager.lookup('c1').started, true);
  t.equal(manager.lookup('c1').ready, true);
  const kinds = attempts.map((attempt) => attempt.kind);
  t.equal(kinds.filter((kind) => kind === 'startup').length, 3, 'startup rests once it succeeded');
  t.ok(kinds.includes('liveness') && kinds.includes('readiness'), 'liveness and readiness run after startup');
});

t.test('a startup probe reaching failureThreshold marks startupFailed', async (t) => {
  const container: Container = { name: 'web', image: 'busybox', startupProbe: { exec: { command: ['s'] }, periodSeconds: 1, failureThreshold: 1, successThreshold: 1 } };
  const { manager, events } = scripted(t, { startup: () => ({ outcome: 'failure', output: 'nope' }) }, container);
  manager.syncPod(podWith(container), '10.0.0.2', [running('c1', 'web')]);
  await sleep(200);
  t.equal(manager.lookup('c1').startupFailed, true);
  t.match(events[0], /Startup probe failed: nope/);
});

t.test('initialDelaySeconds delays the first attempt from the container start', async (t) => {
  const container: Container = { name: 'web', image: 'busybox', livenessProbe: { exec: { command: ['l'] }, initialDelaySeconds: 1, periodSeconds: 10, failureThreshold: 3, successThreshold: 1 } };
  const { manager, attempts } = scripted(t, {}, container);
  const startedAt = Date.now();
  manager.syncPod(podWith(container), '10.0.0.2', [running('c1', 'web', startedAt)]);
  await sleep(700);
  t.equal(attempts.length, 0, 'nothing before the delay');
  await sleep(600);
  t.equal(attempts.length, 1);
  t.ok((attempts[0]?.at ?? 0) - startedAt >= 1000, 'the first attempt came after the delay');
});

t.test('workers stop when their container is no longer running, and removePod forgets a pod', async (t) => {
  const container: Container = { name: 'web', image: 'busybox', readinessProbe: { exec: { command: ['r'] }, periodSeconds: 1, failureThreshold: 3, successThreshold: 1 } };
  const { manager, attempts } = scripted(t, {}, container);
  const pod = podWith(container);
  manager.syncPod(pod, '10.0.0.2', [running('c1', 'web')]);
  await sleep(200);
  t.equal(manager.lookup('c1').ready, true);
  manager.syncPod(pod, '10.0.0.2', [running('c2', 'web')]);
  t.equal(manager.lookup('c1').ready, false, 'the gone container is forgotten');
  await sleep(200);
  const count = attempts.length;
  manager.removePod('uid-1');
  t.equal(manager.lookup('c2').ready, false);
  await sleep(1200);
  t.equal(attempts.length, count, 'no attempt after removePod');
});

t.test('a real httpGet readiness probe follows the server: ready on 200, not ready after 500s', async (t) => {
  let status = 200;
  const server = http.createServer((_request, response) => {
    response.writeHead(status);
    response.end();
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  t.teardown(() => server.close());
  const port = (server.address() as AddressInfo).port;
  const container: Container = { name: 'web', image: 'busybox', readinessProbe: { httpGet: { port, path: '/ready' }, periodSeconds: 1, timeoutSeconds: 1, failureThreshold: 1, successThreshold: 1 } };
  const events: string[] = [];
  const manager = createProbeManager({ runtime: {} as RuntimeServiceClient, parts, events: { record: (_p, _f, _t, reason, message) => void events.push(`${reason} ${message}`) } });
  t.teardown(() => manager.close());
  manager.syncPod(podWith(container), '127.0.0.1', [running('c1', 'web')]);
  await sleep(300);
  t.equal(manager.lookup('c1').ready, true);
  status = 500;
  await sleep(1100);
  t.equal(manager.lookup('c1').ready, false);
  t.same(events, ['Unhealthy Readiness probe failed: HTTP probe failed with statuscode: 500']);
});
