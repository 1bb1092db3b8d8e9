import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import fs from 'node:fs';
import t from 'tap';
import type { Pod } from '../../../kubelet/api/pod-types.js';
import { createEventRecorder } from '../../../kubelet/events/event-recorder.js';
import { startReadOnlyServer } from '../../../kubelet/server/read-only-server.js';

function get(target: { port: number } | { socketPath: string }, urlPath: string, method = 'GET'): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const request = http.request({ ...('port' in target ? { host: '127.0.0.1', port: target.port } : { socketPath: target.socketPath }), path: urlPath, method }, (response) => {
      let body = '';
      response.setEncoding('utf8');
      response.on('data', (chunk: string) => (body += chunk));
      response.on('end', () => resolve({ status: response.statusCode ?? 0, body }));
    });
    request.on('error', reject);
    request.end();
  });
}

const pod: Pod = { apiVersion: 'v1', kind: 'Pod', metadata: { name: 'web-node1', namespace: 'default', uid: 'u1' }, spec: { containers: [{ name: 'web', image: 'busybox' }] }, status: { phase: 'Running' } };

t.test('the recorder folds an identical event into one with a growing count and keeps the newest N', async (t) => {
  let clock = Date.parse('2026-01-01T00:00:00Z');
  const recorder = createEventRecorder({ host: 'node1', capacity: 2, now: () => new Date((clock += 1000)) });
  recorder.record(pod, 'spec.containers{web}', 'Warning', 'BackOff', 'Back-off restarting failed container');
  recorder.record(pod, 'spec.containers{web}', 'Warning', 'BackOff', 'Back-off restarting failed container');
  const [folded] = recorder.list();
  t.equal(recorder.list().length, 1);
  t.equal(folded?.count, 2);
  t.equal(folded?.firstTimestamp, '2026-01-01T00:00:01Z');
  t.equal(folded?.lastTimestamp, '2026-01-01T00:00:02Z');
  t.same(folded?.involvedObject, { kind: 'Pod', namespace: 'default', name: 'web-node1', uid: 'u1', apiVersion: 'v1', fieldPath: 'spec.containers{web}' });
  t.same(folded?.source, { component: 'kubelet', host: 'node1' });
  t.equal(recorder.resourceVersion(), '2');
  recorder.record(pod, undefined, 'Normal', 'Scheduled', 'a');
  recorder.record(pod, undefined, 'Normal', 'Other', 'b');
  t.same(recorder.list().map((event) => event.reason), ['Scheduled', 'Other'], 'the oldest went first');
});

t.test('the server answers /healthz, /pods, /events, 404 and 405, on its port and on its unix socket', async (t) => {
  const recorder = createEventRecorder({ host: 'node1' });
  recorder.record(pod, 'spec.containers{web}', 'Normal', 'Started', 'Started container web');
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'kp-ro-'));
  t.teardown(() => fs.rmSync(dir, { recursive: true, force: true }));
  const socketPath = path.join(dir, 'kubelet.sock');
  const server = await startReadOnlyServer({ address: '127.0.0.1', port: 0, socketPath, pods: () => [pod], events: recorder });
  t.teardown(() => server.close());
  for (const target of [{ port: server.port }, { socketPath }]) {
    t.same(await get(target, '/healthz'), { status: 200, body: 'ok' });
    const pods = await get(target, '/pods');
    t.equal(pods.status, 200);
    t.same(JSON.parse(pods.body), { apiVersion: 'v1', kind: 'PodList', metadata: {}, items: [pod] });
    const events = JSON.parse((await get(target, '/events')).body) as { kind: string; items: { reason: string }[] };
    t.equal(events.kind, 'EventList');
    t.same(events.items.map((event) => event.reason), ['Started']);
    t.equal((await get(target, '/nothing')).status, 404);
    t.equal((await get(target, '/pods', 'POST')).status, 405);
  }
  await server.close();
  t.notOk(fs.existsSync(socketPath), 'the socket file is removed on close');
});

t.test('/events?watch=1 replays what is kept, then streams new and updated events one JSON line each', async (t) => {
  const recorder = createEventRecorder({ host: 'node1' });
  recorder.record(pod, undefined, 'Normal', 'Pulling', 'Pulling image "busybox"');
  const server = await startReadOnlyServer({ address: '127.0.0.1', port: 0, pods: () => [], events: recorder });
  t.teardown(() => server.close());
  const lines: { type: string; object: { reason: string; count: number } }[] = [];
  const done = new Promise<void>((resolve, reject) => {
    http
      .get({ host: '127.0.0.1', port: server.port, path: '/events?watch=1' }, (response) => {
        let buffer = '';
        response.setEncoding('utf8');
        response.on('data', (chunk: string) => {
          buffer += chunk;
          let at;
          while ((at = buffer.indexOf('\n')) >= 0) {
            lines.push(JSON.parse(buffer.slice(0, at)) as (typeof lines)[number]);
            buffer = buffer.slice(at + 1);
            if (lines.length === 1) {
              recorder.record(pod, undefined, 'Normal', 'Pulled', 'done');
              recorder.record(pod, undefined, 'Normal', 'Pulled', 'done');
            }
            if (lines.length === 3) {
              response.destroy();
              resolve();
            }
          }
        });
      })
      .on('error', reject);
  });
  await done;
  t.same(lines.map((line) => [line.type, line.object.reason, line.object.count]), [['ADDED', 'Pulling', 1], ['ADDED', 'Pulled', 1], ['MODIFIED', 'Pulled', 2]]);
});
