import fs from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { once } from 'node:events';
import type { AddressInfo } from 'node:net';
import t, { type Test } from 'tap';
import type { PodDisruptionBudgetList } from '../../../kubelet/api/disruption-types.js';
import type { Pod } from '../../../kubelet/api/pod-types.js';
import { defaultKubeletParts } from '../../../kubelet/default-parts.js';
import { parseKubeletUrl } from '../../../kubelet/disruption/cluster-view.js';
import { DisruptionService } from '../../../kubelet/disruption/disruption-service.js';
import { DisruptionState } from '../../../kubelet/disruption/disruption-state.js';
import { withEvictionMarks } from '../../../kubelet/disruption/pod-marks.js';
import { createEventRecorder } from '../../../kubelet/events/event-recorder.js';
import type { KubeletParts } from '../../../kubelet/kubelet-parts.js';
import { startReadOnlyServer } from '../../../kubelet/server/read-only-server.js';
import { podWith } from '../disruption/budget-fixtures.js';

interface Answer {
  status: number;
  body: string;
  json: Record<string, any>;
}

/** Where a call goes: a TCP port on 127.0.0.1, or a unix socket's path. */
type Via = number | string;

function call(via: Via, method: string, urlPath: string, body?: string, contentType = 'application/json'): Promise<Answer> {
  const target = typeof via === 'number' ? { host: '127.0.0.1', port: via } : { socketPath: via };
  return new Promise((resolve, reject) => {
    const request = http.request({ ...target, method, path: urlPath, headers: body === undefined ? {} : { 'Content-Type': contentType } }, (response) => {
      let text = '';
      response.setEncoding('utf8');
      response.on('data', (chunk: string) => (text += chunk));
      response.on('end', () => {
        let json: Record<string, any> = {};
        try {
          json = JSON.parse(text) as Record<string, any>;
        } catch {
          // Not JSON: the test looks at body.
        }
        resolve({ status: response.statusCode ?? 0, body: text, json });
      });
    });
    request.on('error', reject);
    request.end(body);
  });
}

const evictionBody = (name: string, extra: Record<string, unknown> = {}): string => JSON.stringify({ apiVersion: 'policy/v1', kind: 'Eviction', metadata: { name, namespace: 'default' }, ...extra });

/** A kubelet-less server: budgets from files in a temp folder, the pods given, state under a temp root. */
async function setUp(t: Test, options: { budgets: Record<string, string>; pods: Pod[]; peers?: string[]; parts?: Partial<KubeletParts> }) {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'kubeplug-pdb-'));
  t.teardown(() => fs.rmSync(dir, { recursive: true, force: true }));
  const manifests = path.join(dir, 'manifests');
  fs.mkdirSync(manifests);
  for (const [file, text] of Object.entries(options.budgets)) fs.writeFileSync(path.join(manifests, file), text);
  const rootDir = path.join(dir, 'root');
  const state = await DisruptionState.load(rootDir);
  let changes = 0;
  const localPods = (): Pod[] =>
    options.pods.map((pod) => {
      const record = state.eviction(pod.metadata.uid ?? '');
      return record === undefined ? pod : withEvictionMarks(pod, record);
    });
  const service = new DisruptionService({
    parts: { ...defaultKubeletParts, ...options.parts },
    podManifestPath: manifests,
    nodeName: 'node1',
    state,
    peers: (options.peers ?? []).map(parseKubeletUrl),
    localPods,
    onChange: () => (changes += 1),
    peerTimeoutMs: 2000,
  });
  const socketPath = path.join(dir, 'kubelet.sock');
  const server = await startReadOnlyServer({ port: 0, address: '127.0.0.1', socketPath, pods: localPods, events: createEventRecorder({ host: 'node1' }), disruption: service });
  t.teardown(() => server.close());
  return { via: socketPath, tcpPort: server.port, socketPath, rootDir, state, changes: () => changes };
}

const minOne = 'apiVersion: policy/v1\nkind: PodDisruptionBudget\nmetadata: {name: web-pdb}\nspec:\n  minAvailable: 1\n  selector: {matchLabels: {app: web}}\n';
const twoWebPods = (): Pod[] => [podWith({ name: 'web-a' }), podWith({ name: 'web-b' })];

t.test('the budget list carries a status computed from the pods now', async (t) => {
  const { via } = await setUp(t, { budgets: { 'pdb.yaml': minOne, 'web.yaml.bad': 'apiVersion: policy/v1\nkind: PodDisruptionBudget\nmetadata: {name: broken}\nspec: {minAvailable: 1, maxUnavailable: 1}\n' }, pods: twoWebPods() });
  const answer = await call(via, 'GET', '/poddisruptionbudgets');
  t.equal(answer.status, 200);
  const list = answer.json as PodDisruptionBudgetList;
  t.match(list, { apiVersion: 'policy/v1', kind: 'PodDisruptionBudgetList', metadata: {} });
  t.same(list.items.map((item) => item.metadata.name), ['web-pdb'], 'the invalid budget is left out');
  t.match(list.items[0]?.status, { expectedPods: 2, currentHealthy: 2, desiredHealthy: 1, disruptionsAllowed: 1, observedGeneration: 1, conditions: [{ type: 'DisruptionAllowed', status: 'True', reason: 'SufficientPods' }] });
});

t.test('an eviction the budget allows is 201 Success, the next one is 429 naming the budget', async (t) => {
  const setup = await setUp(t, { budgets: { 'pdb.yaml': minOne }, pods: twoWebPods() });
  const first = await call(setup.via, 'POST', '/api/v1/namespaces/default/pods/web-a/eviction', evictionBody('web-a', { deleteOptions: { gracePeriodSeconds: 5 } }));
  t.equal(first.status, 201);
  t.same(first.json, { kind: 'Status', apiVersion: 'v1', metadata: {}, status: 'Success', code: 201 });
  t.equal(setup.changes(), 1, 'the sync loop was woken');
  t.match(setup.state.eviction('web-a'), { namespace: 'default', name: 'web-a', gracePeriodSeconds: 5 });
  const reloaded = await DisruptionState.load(setup.rootDir);
  t.ok(reloaded.eviction('web-a'), 'the eviction is on disk');

  const second = await call(setup.via, 'POST', '/api/v1/namespaces/default/pods/web-b/eviction', evictionBody('web-b'));
  t.equal(second.status, 429);
  t.same(second.json, {
    kind: 'Status',
    apiVersion: 'v1',
    metadata: {},
    status: 'Failure',
    message: "Cannot evict pod as it would violate the pod's disruption budget.",
    reason: 'TooManyRequests',
    details: { causes: [{ reason: 'DisruptionBudget', message: 'The disruption budget web-pdb needs 1 healthy pods and has 1 currently' }] },
    code: 429,
  });
  const again = await call(setup.via, 'POST', '/api/v1/namespaces/default/pods/web-a/eviction', evictionBody('web-a'));
  t.equal(again.status, 201, 'evicting a pod already being deleted is allowed again');
});

t.test('a pod selected by two budgets is 500 with upstream message', async (t) => {
  const { via } = await setUp(t, { budgets: { 'a.yaml': minOne, 'b.yaml': minOne.replace('web-pdb', 'other-pdb') }, pods: twoWebPods() });
  const answer = await call(via, 'POST', '/api/v1/namespaces/default/pods/web-a/eviction', evictionBody('web-a'));
  t.equal(answer.status, 500);
  t.same(answer.json, { kind: 'Status', apiVersion: 'v1', metadata: {}, status: 'Failure', message: 'This pod has more than one PodDisruptionBudget, which the eviction subresource does not support.', code: 500 });
});

t.test('the same budget written twice counts once', async (t) => {
  const { via } = await setUp(t, { budgets: { 'a.yaml': minOne, 'b.json': JSON.stringify({ apiVersion: 'policy/v1', kind: 'PodDisruptionBudget', metadata: { name: 'web-pdb' }, spec: { minAvailable: 1, selector: { matchLabels: { app: 'web' } } } }) }, pods: twoWebPods() });
  t.equal((await call(via, 'POST', '/api/v1/namespaces/default/pods/web-a/eviction', evictionBody('web-a'))).status, 201);
});

t.test('a swapped decision part is what the endpoint answers (the fixtures seam)', async (t) => {
  const { via } = await setUp(t, { budgets: { 'pdb.yaml': minOne.replace('minAvailable: 1', 'minAvailable: 2') }, pods: twoWebPods(), parts: { decideEviction: () => ({ verdict: 'allow', why: 'budget allows' }) } });
  t.equal((await call(via, 'POST', '/api/v1/namespaces/default/pods/web-a/eviction', evictionBody('web-a'))).status, 201);
});

t.test('eviction errors: 404 for an unknown pod, 400 naming the field of a malformed body, 405 for GET', async (t) => {
  const { via } = await setUp(t, { budgets: {}, pods: twoWebPods() });
  const missing = await call(via, 'POST', '/api/v1/namespaces/default/pods/nope/eviction', evictionBody('nope'));
  t.equal(missing.status, 404);
  t.match(missing.json, { status: 'Failure', reason: 'NotFound', message: 'pods "nope" not found', code: 404, details: { name: 'nope', kind: 'pods' } });
  const otherNamespace = await call(via, 'POST', '/api/v1/namespaces/kube-system/pods/web-a/eviction', JSON.stringify({ metadata: { name: 'web-a' } }));
  t.equal(otherNamespace.status, 404, 'pods are looked up in the URL namespace');
  const rows: [string, string, RegExp][] = [
    ['not JSON', '{"metadata":', /^body: not JSON/],
    ['empty', '', /^body: Required value/],
    ['an array', '[]', /^body: /],
    ['no metadata', JSON.stringify({ kind: 'Eviction' }), /^metadata: Required value/],
    ['no name', JSON.stringify({ metadata: {} }), /^metadata\.name: Required value/],
    ['another name', evictionBody('web-b'), /^metadata\.name: name in URL does not match/],
    ['another namespace', JSON.stringify({ metadata: { name: 'web-a', namespace: 'other' } }), /^metadata\.namespace: /],
    ['another kind', JSON.stringify({ kind: 'Pod', metadata: { name: 'web-a' } }), /^kind: Unsupported value: "Pod"/],
    ['another apiVersion', JSON.stringify({ apiVersion: 'v1', metadata: { name: 'web-a' } }), /^apiVersion: Unsupported value/],
    ['a negative grace period', evictionBody('web-a', { deleteOptions: { gracePeriodSeconds: -3 } }), /^deleteOptions\.gracePeriodSeconds: Invalid value: -3/],
    ['a grace period as text', evictionBody('web-a', { deleteOptions: { gracePeriodSeconds: '5' } }), /^deleteOptions\.gracePeriodSeconds: /],
  ];
  for (const [name, body, message] of rows) {
    const answer = await call(via, 'POST', '/api/v1/namespaces/default/pods/web-a/eviction', body);
    t.equal(answer.status, 400, name);
    t.match(answer.json, { kind: 'Status', status: 'Failure', reason: 'BadRequest', code: 400, message }, name);
  }
  const wrongMethod = await call(via, 'GET', '/api/v1/namespaces/default/pods/web-a/eviction');
  t.equal(wrongMethod.status, 405);
  t.match(wrongMethod.json, { reason: 'MethodNotAllowed', code: 405 });
});

t.test('an unready pod under IfHealthyBudget and AlwaysAllow', async (t) => {
  const pods = [podWith({ name: 'web-a' }), podWith({ name: 'web-b', ready: false })];
  const strict = await setUp(t, { budgets: { 'pdb.yaml': minOne.replace('minAvailable: 1', 'minAvailable: 2') }, pods });
  t.equal((await call(strict.via, 'POST', '/api/v1/namespaces/default/pods/web-b/eviction', evictionBody('web-b'))).status, 429, 'IfHealthyBudget keeps the unready pod while the budget is short');
  const lenient = await setUp(t, { budgets: { 'pdb.yaml': minOne.replace('minAvailable: 1', 'minAvailable: 2\n  unhealthyPodEvictionPolicy: AlwaysAllow') }, pods });
  t.equal((await call(lenient.via, 'POST', '/api/v1/namespaces/default/pods/web-b/eviction', evictionBody('web-b'))).status, 201, 'AlwaysAllow lets it go');
});

t.test('the node: GET, PATCH cordons and uncordons, persisted; bad patches are 400/415', async (t) => {
  const setup = await setUp(t, { budgets: {}, pods: [] });
  t.same((await call(setup.via, 'GET', '/api/v1/nodes')).json, { apiVersion: 'v1', kind: 'NodeList', metadata: {}, items: [{ apiVersion: 'v1', kind: 'Node', metadata: { name: 'node1' }, spec: { unschedulable: false } }] });
  t.equal((await call(setup.via, 'GET', '/api/v1/nodes/node2')).status, 404);
  const cordon = await call(setup.via, 'PATCH', '/api/v1/nodes/node1', JSON.stringify({ spec: { unschedulable: true } }), 'application/merge-patch+json');
  t.equal(cordon.status, 200);
  t.same(cordon.json.spec, { unschedulable: true });
  t.equal((await DisruptionState.load(setup.rootDir)).unschedulable, true, 'the cordon is on disk');
  t.same((await call(setup.via, 'GET', '/api/v1/nodes/node1')).json.spec, { unschedulable: true });
  const strategic = await call(setup.via, 'PATCH', '/api/v1/nodes/node1', JSON.stringify({ spec: { unschedulable: null } }), 'application/strategic-merge-patch+json');
  t.same(strategic.json.spec, { unschedulable: false }, 'null removes the field: not cordoned');
  t.equal((await DisruptionState.load(setup.rootDir)).unschedulable, false);
  const text = await call(setup.via, 'PATCH', '/api/v1/nodes/node1', JSON.stringify({ spec: { unschedulable: 'yes' } }), 'application/merge-patch+json');
  t.equal(text.status, 400);
  t.match(text.json, { reason: 'BadRequest', message: /^spec\.unschedulable: Invalid value: "yes"/ });
  const json = await call(setup.via, 'PATCH', '/api/v1/nodes/node1', JSON.stringify({ spec: { unschedulable: true } }), 'application/json');
  t.equal(json.status, 415);
  t.match(json.json, { reason: 'UnsupportedMediaType' });
  t.equal(setup.state.unschedulable, false, 'a refused patch changed nothing');
});

t.test('peers: their pods count, and one that does not answer is named in the condition', async (t) => {
  const peerPods: Pod[] = [podWith({ name: 'web-peer' })];
  const peer = http.createServer((_request, response) => response.end(JSON.stringify({ apiVersion: 'v1', kind: 'PodList', metadata: {}, items: peerPods })));
  peer.listen(0, '127.0.0.1');
  await once(peer, 'listening');
  t.teardown(() => peer.close());
  const peerUrl = `http://127.0.0.1:${(peer.address() as AddressInfo).port}`;
  const deadSocket = path.join(os.tmpdir(), `kubeplug-dead-${process.pid}.sock`);
  const { via } = await setUp(t, { budgets: { 'pdb.yaml': minOne }, pods: [podWith({ name: 'web-a' })], peers: [peerUrl, `unix://${deadSocket}`] });
  const list = (await call(via, 'GET', '/poddisruptionbudgets')).json as PodDisruptionBudgetList;
  t.match(list.items[0]?.status, { expectedPods: 2, currentHealthy: 2, disruptionsAllowed: 1 });
  t.match(list.items[0]?.status?.conditions[0]?.message, new RegExp(`peer kubelet unix://${deadSocket.replace(/[.]/g, '\\.')}`));
});

t.test('the TCP port and the owner-only socket serve the same endpoints', async (t) => {
  const setup = await setUp(t, { budgets: { 'pdb.yaml': minOne }, pods: twoWebPods() });
  t.equal((await call(setup.tcpPort, 'GET', '/poddisruptionbudgets')).status, 200);
  t.equal((await call(setup.via, 'GET', '/poddisruptionbudgets')).status, 200);
  t.equal(fs.statSync(setup.socketPath).mode & 0o777, 0o600, 'the socket is owner-only');
  t.equal((await call(setup.tcpPort, 'POST', '/api/v1/namespaces/default/pods/web-a/eviction', evictionBody('web-a'))).status, 201, 'an eviction over TCP');
  t.equal((await call(setup.via, 'POST', '/api/v1/namespaces/default/pods/web-b/eviction', evictionBody('web-b'))).status, 429, 'the next over the socket sees it');
});
