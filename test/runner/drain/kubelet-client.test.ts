import t from 'tap';
import nock from 'nock';
import { blockingBudgetOf, KubeletClient, KubeletClientError, KubeletUrlError, parseKubeletUrl, type StatusObject } from '../../../runner/drain/index.js';

// nock stands in for a kubelet only here, to show each answer the client must classify.
nock.disableNetConnect();
t.teardown(() => {
  nock.cleanAll();
  nock.enableNetConnect();
});
t.afterEach(() => nock.cleanAll());

const url = 'http://kubelet.test:10255';
const client = (requestTimeoutMs?: number) => new KubeletClient({ url, ...(requestTimeoutMs === undefined ? {} : { requestTimeoutMs }) });

t.test('kubelet URLs: http://HOST:PORT and unix:///path are taken, anything else names the shapes taken', async (t) => {
  t.same(parseKubeletUrl('http://10.0.0.2:10255'), { kind: 'http', text: 'http://10.0.0.2:10255', host: '10.0.0.2', port: 10255 });
  t.same(parseKubeletUrl('http://[fd00::2]:10255/'), { kind: 'http', text: 'http://[fd00::2]:10255/', host: 'fd00::2', port: 10255 });
  t.same(parseKubeletUrl('http://node-a'), { kind: 'http', text: 'http://node-a', host: 'node-a', port: 80 });
  t.same(parseKubeletUrl('unix:///run/kubelet/ro.sock'), { kind: 'unix', text: 'unix:///run/kubelet/ro.sock', socketPath: '/run/kubelet/ro.sock' });
  for (const bad of ['https://10.0.0.2:10250', 'unix://relative.sock', 'unix://', '10.0.0.2:10255', 'http://10.0.0.2:10255/pods', 'http://u:p@10.0.0.2:1', '']) {
    t.throws(() => parseKubeletUrl(bad), KubeletUrlError, bad);
    t.throws(() => parseKubeletUrl(bad), { message: /expected http:\/\/HOST:PORT or unix:\/\/\/path\/to\/socket/ }, bad);
  }
});

t.test('getNode reads the one Node of GET /api/v1/nodes', async (t) => {
  nock(url).get('/api/v1/nodes').matchHeader('accept', 'application/json').reply(200, { kind: 'NodeList', items: [{ metadata: { name: 'node-a' }, spec: { unschedulable: true } }] });
  const node = await client().getNode();
  t.same(node, { metadata: { name: 'node-a' }, spec: { unschedulable: true } });
});

const badNodeAnswers: { name: string; status: number; body: string | object; code: string; message: RegExp }[] = [
  { name: 'a list of two nodes', status: 200, body: { items: [{ metadata: { name: 'a' } }, { metadata: { name: 'b' } }] }, code: 'bad-answer', message: /exactly this node, got 2 items/ },
  { name: 'a node without a name', status: 200, body: { items: [{ metadata: {} }] }, code: 'bad-answer', message: /no metadata\.name/ },
  { name: 'a body that is not JSON', status: 200, body: '<html>', code: 'bad-answer', message: /not JSON/ },
  { name: 'a 404 from a kubelet without the node endpoints', status: 404, body: '404 page not found\n', code: 'http-status', message: /GET \/api\/v1\/nodes: HTTP 404: 404 page not found/ },
];
for (const { name, status, body, code, message } of badNodeAnswers) {
  t.test(`getNode refuses ${name}, naming the kubelet`, async (t) => {
    nock(url).get('/api/v1/nodes').reply(status, body);
    const error = await client().getNode().catch((caught: unknown) => caught);
    t.type(error, KubeletClientError);
    t.match(error, { code, kubelet: url, message: new RegExp(`^kubelet ${url}: .*${message.source}`) });
  });
}

t.test('setUnschedulable sends the patch and checks the Node that comes back', async (t) => {
  nock(url)
    .patch('/api/v1/nodes/node-a', { spec: { unschedulable: true } })
    .matchHeader('content-type', 'application/strategic-merge-patch+json')
    .reply(200, { metadata: { name: 'node-a' }, spec: { unschedulable: true } })
    .patch('/api/v1/nodes/node-a')
    .reply(200, { metadata: { name: 'node-a' }, spec: {} });
  t.same(await client().setUnschedulable('node-a', true), { metadata: { name: 'node-a' }, spec: { unschedulable: true } });
  await t.rejects(client().setUnschedulable('node-a', true), { code: 'bad-answer', message: /came back with spec\.unschedulable undefined/ });
});

t.test('listPods takes an empty or missing items list', async (t) => {
  nock(url).get('/pods').reply(200, { kind: 'PodList', items: null }).get('/pods').reply(200, { kind: 'PodList', items: [{ metadata: { name: 'a' } }] });
  t.same(await client().listPods(), []);
  t.same(await client().listPods(), [{ metadata: { name: 'a' } }]);
});

const refusal = (code: number, reason: string, message: string, causes: StatusObject['details'] = undefined): StatusObject => ({
  kind: 'Status',
  apiVersion: 'v1',
  status: 'Failure',
  code,
  reason,
  message,
  ...(causes === undefined ? {} : { details: causes }),
});

const evictionAnswers: { name: string; status: number; body: unknown; outcome: string; message?: RegExp }[] = [
  { name: '201 Created', status: 201, body: { kind: 'Status', status: 'Success' }, outcome: 'accepted' },
  { name: '200 with an empty body', status: 200, body: '', outcome: 'accepted' },
  { name: '404 NotFound', status: 404, body: refusal(404, 'NotFound', 'pods "web" not found'), outcome: 'not-found' },
  { name: '429 TooManyRequests', status: 429, body: refusal(429, 'TooManyRequests', "Cannot evict pod as it would violate the pod's disruption budget."), outcome: 'too-many-requests' },
  { name: '500 for several budgets', status: 500, body: refusal(500, 'InternalError', 'This pod has more than one PodDisruptionBudget, which the eviction subresource does not support.'), outcome: 'refused', message: /^HTTP 500 InternalError: This pod has more than one PodDisruptionBudget/ },
  { name: '400 BadRequest', status: 400, body: refusal(400, 'BadRequest', 'metadata.name: Required value'), outcome: 'refused', message: /^HTTP 400 BadRequest: metadata\.name: Required value$/ },
  { name: '503 as plain text', status: 503, body: 'overloaded\nmore', outcome: 'refused', message: /^HTTP 503: overloaded$/ },
];
for (const { name, status, body, outcome, message } of evictionAnswers) {
  t.test(`an eviction answered ${name} is classified as ${outcome}`, async (t) => {
    nock(url)
      .post('/api/v1/namespaces/team-a/pods/web-node-a/eviction', { apiVersion: 'policy/v1', kind: 'Eviction', metadata: { name: 'web-node-a', namespace: 'team-a' } })
      .reply(status, typeof body === 'string' ? body : JSON.stringify(body));
    const answer = await client().evictPod({ namespace: 'team-a', name: 'web-node-a' });
    t.equal(answer.outcome, outcome);
    if (message !== undefined && answer.outcome === 'refused') t.match(answer.message, message);
  });
}

t.test('names with characters outside a path segment are escaped', async (t) => {
  nock(url).post('/api/v1/namespaces/a%2Fb/pods/x%20y/eviction').reply(201, {});
  t.equal((await client().evictPod({ namespace: 'a/b', name: 'x y' })).outcome, 'accepted');
});

t.test('a kubelet that answers too slowly is a timeout naming the call', async (t) => {
  nock(url).get('/pods').delay(2000).reply(200, { items: [] });
  await t.rejects(client(100).listPods(), { code: 'timeout', message: `kubelet ${url}: GET /pods: no answer within 100 ms` });
});

t.test('an aborted signal ends the call as aborted', async (t) => {
  nock(url).get('/pods').delay(2000).reply(200, { items: [] });
  const controller = new AbortController();
  const call = client().listPods(controller.signal);
  setTimeout(() => controller.abort(), 20);
  await t.rejects(call, { code: 'aborted' });
  await t.rejects(client().listPods(controller.signal), { code: 'aborted' }, 'a signal aborted before the call sends nothing');
});

t.test('the blocking budget is read from the DisruptionBudget cause of a 429', async (t) => {
  const message = "Cannot evict pod as it would violate the pod's disruption budget.";
  t.same(blockingBudgetOf(refusal(429, 'TooManyRequests', message, { causes: [{ reason: 'DisruptionBudget', message: 'The disruption budget web-pdb needs 2 healthy pods and has 1 currently' }] })), {
    name: 'web-pdb',
    message: 'The disruption budget web-pdb needs 2 healthy pods and has 1 currently',
  });
  t.same(blockingBudgetOf(refusal(429, 'TooManyRequests', message, { causes: [{ type: 'DisruptionBudget', message: 'The disruption budget db does not allow evicting pods currently' }] })).name, 'db', 'a cause keyed "type" and newer upstream wording');
  t.same(blockingBudgetOf(refusal(429, 'TooManyRequests', message, { causes: [{ reason: 'Other', message: 'x' }, { reason: 'DisruptionBudget', message: 'The disruption budget b2 needs 1 healthy pods and has 0 currently' }] })).name, 'b2');
  t.same(blockingBudgetOf(refusal(429, 'TooManyRequests', 'slow down')), { name: undefined, message: 'slow down' }, 'a 429 without a budget cause (API throttling)');
  t.same(blockingBudgetOf(undefined), { name: undefined, message: 'HTTP 429 Too Many Requests' });
});
