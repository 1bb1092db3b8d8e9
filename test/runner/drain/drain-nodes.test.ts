import net from 'node:net';
import t from 'tap';
import nock from 'nock';
import {
  cordonPatchContentType,
  drainNodes,
  drainSucceeded,
  formatDrainSummary,
  KubeletClient,
  setNodesUnschedulable,
  type PodObject,
  type StatusObject,
} from '../../../runner/drain/index.js';
import { VirtualClock } from './virtual-clock.js';

// nock stands in for kubelets only in this file: it shows the exact HTTP exchanges of a drain
// (cordon patch, evictions, polls). test/runner/drain-node.test.ts drains a real kubelet.
nock.disableNetConnect();
nock.enableNetConnect(/127\.0\.0\.1/);
t.teardown(() => {
  nock.cleanAll();
  nock.enableNetConnect();
});
t.afterEach(() => {
  nock.abortPendingRequests();
  nock.cleanAll();
});

const nodeA = 'http://node-a.test:10255';
const nodeB = 'http://node-b.test:10255';

function nodeList(name: string, unschedulable: boolean) {
  return { apiVersion: 'v1', kind: 'NodeList', items: [{ apiVersion: 'v1', kind: 'Node', metadata: { name }, spec: { unschedulable } }] };
}

function pod(name: string, phase: string, uid = `uid-${name}`): PodObject {
  return { metadata: { name, namespace: 'default', uid }, spec: { nodeName: 'node-a' }, status: { phase } };
}

function podList(...items: PodObject[]) {
  return { apiVersion: 'v1', kind: 'PodList', metadata: {}, items };
}

/** The 429 upstream's eviction subresource answers when a budget refuses (pkg/registry/core/pod/storage/eviction.go). */
function budgetRefusal(budget: string): StatusObject {
  return {
    kind: 'Status',
    apiVersion: 'v1',
    status: 'Failure',
    message: "Cannot evict pod as it would violate the pod's disruption budget.",
    reason: 'TooManyRequests',
    code: 429,
    details: { causes: [{ reason: 'DisruptionBudget', message: `The disruption budget ${budget} needs 1 healthy pods and has 1 currently` }] },
  };
}

const evictionPath = (name: string): string => `/api/v1/namespaces/default/pods/${name}/eviction`;

/** A kubelet whose node is cordoned by the drain (GET then PATCH). */
function cordonedKubelet(url: string, node: string) {
  return nock(url)
    .get('/api/v1/nodes')
    .reply(200, nodeList(node, false))
    .patch(`/api/v1/nodes/${node}`, { spec: { unschedulable: true } })
    .matchHeader('content-type', cordonPatchContentType)
    .reply(200, nodeList(node, true).items[0]);
}

function drainOf(urls: string[], options: { timeoutMs?: number; gracePeriodSeconds?: number; signal?: AbortSignal; clock?: VirtualClock } = {}) {
  const clock = options.clock ?? new VirtualClock();
  const lines: string[] = [];
  const run = drainNodes({
    kubelets: urls.map((url) => new KubeletClient({ url })),
    timeoutMs: options.timeoutMs ?? 0,
    gracePeriodSeconds: options.gracePeriodSeconds,
    clock,
    ...(options.signal === undefined ? {} : { signal: options.signal }),
    log: (line) => lines.push(line),
  });
  return { run, clock, lines };
}

t.test('the node is cordoned with a strategic merge patch of spec.unschedulable before any eviction', async (t) => {
  const order: string[] = [];
  const scope = nock(nodeA)
    .get('/api/v1/nodes')
    .reply(200, nodeList('node-a', false))
    .patch('/api/v1/nodes/node-a', (body: unknown) => {
      order.push('patch');
      return JSON.stringify(body) === JSON.stringify({ spec: { unschedulable: true } });
    })
    .matchHeader('content-type', 'application/strategic-merge-patch+json')
    .reply(200, nodeList('node-a', true).items[0])
    .get('/pods')
    .reply(200, () => {
      order.push('list');
      return podList();
    });
  const { run } = drainOf([nodeA]);
  const result = await run;
  t.same(result.nodes, [{ kubelet: nodeA, node: 'node-a', outcome: 'cordoned' }]);
  t.same(order, ['patch', 'list']);
  t.ok(drainSucceeded(result));
  t.ok(scope.isDone());
});

t.test('an already cordoned node is not patched again', async (t) => {
  const scope = nock(nodeA).get('/api/v1/nodes').reply(200, nodeList('node-a', true)).get('/pods').reply(200, podList());
  const result = await drainOf([nodeA]).run;
  t.equal(result.nodes[0]?.outcome, 'already cordoned');
  t.ok(scope.isDone(), 'no PATCH was sent (nock would have refused an unexpected one)');
});

t.test('an accepted eviction is followed by polling /pods until the pod is gone', async (t) => {
  let evictionBody: unknown;
  const scope = cordonedKubelet(nodeA, 'node-a')
    .get('/pods')
    .reply(200, podList(pod('web-node-a', 'Running')))
    .post(evictionPath('web-node-a'), (body: unknown) => {
      evictionBody = body;
      return true;
    })
    .matchHeader('content-type', 'application/json')
    .reply(201, { kind: 'Status', apiVersion: 'v1', status: 'Success', code: 201 })
    .get('/pods')
    .reply(200, podList(pod('web-node-a', 'Running')))
    .get('/pods')
    .reply(200, podList());
  const { run, clock, lines } = drainOf([nodeA]);
  const result = await run;
  t.same(evictionBody, { apiVersion: 'policy/v1', kind: 'Eviction', metadata: { name: 'web-node-a', namespace: 'default' } }, 'no deleteOptions: the pod keeps its own grace period');
  t.match(result.pods, [{ outcome: 'evicted', attempts: 1, pod: { namespace: 'default', name: 'web-node-a', node: 'node-a', kubelet: nodeA } }]);
  t.same(clock.sleeps, [1000], 'one poll interval of 1 s (kubectl waitForDelete) between the two polls');
  t.ok(drainSucceeded(result));
  t.equal(result.ended, 'done');
  t.match(formatDrainSummary(result, 0), /^node\/node-a drained \(1 pod evicted\)$/);
  t.ok(lines.some((line) => line === 'pod default/web-node-a evicted'), lines.join('\n'));
  t.ok(scope.isDone());
});

t.test('two 429s are retried every 5 s, then the accepted eviction ends with the pod Failed (Evicted)', async (t) => {
  let posts = 0;
  const scope = cordonedKubelet(nodeA, 'node-a')
    .get('/pods')
    .reply(200, podList(pod('web-node-a', 'Running')))
    .post(evictionPath('web-node-a'))
    .times(2)
    .reply(429, () => {
      posts += 1;
      return budgetRefusal('web-pdb');
    })
    .post(evictionPath('web-node-a'))
    .reply(201, () => {
      posts += 1;
      return { kind: 'Status', status: 'Success' };
    })
    .get('/pods')
    .reply(200, podList({ ...pod('web-node-a', 'Failed'), status: { phase: 'Failed', reason: 'Evicted', message: 'evicted' } }));
  const { run, clock, lines } = drainOf([nodeA]);
  const result = await run;
  t.equal(posts, 3);
  t.match(result.pods, [{ outcome: 'evicted', attempts: 3 }]);
  t.same(clock.sleeps, [5000, 5000], 'kubectl\'s 5 s between tries');
  t.equal(lines.filter((line) => /will retry after 5s.*The disruption budget web-pdb needs 1 healthy pods/.test(line)).length, 2, lines.join('\n'));
  t.ok(drainSucceeded(result));
  t.ok(scope.isDone());
});

t.test('a pod refused until the timeout is reported with the budget that blocked it', async (t) => {
  let posts = 0;
  const scope = cordonedKubelet(nodeA, 'node-a')
    .get('/pods')
    .reply(200, podList(pod('web-node-a', 'Running')))
    .post(evictionPath('web-node-a'))
    .times(10)
    .reply(429, () => {
      posts += 1;
      return budgetRefusal('web-pdb');
    });
  const { run, clock } = drainOf([nodeA], { timeoutMs: 12_000 });
  const result = await run;
  t.equal(posts, 3, 'tries at 0 s, 5 s and 10 s');
  t.same(clock.sleeps, [5000, 5000, 2000], 'the last wait stops at the deadline');
  t.equal(result.ended, 'timeout');
  t.notOk(drainSucceeded(result));
  t.match(result.pods, [{ outcome: 'blocked', attempts: 3, budget: { name: 'web-pdb' } }]);
  const summary = formatDrainSummary(result, 12_000);
  t.match(summary, /node\/node-a \(kubelet http:\/\/node-a\.test:10255\) cordoned, not drained: 1 of 1 pod left/);
  t.match(summary, /pod default\/web-node-a: blocked by PodDisruptionBudget default\/web-pdb at the timeout \(12s\) after 3 eviction requests: The disruption budget web-pdb needs 1 healthy pods and has 1 currently/);
  scope.persist(false);
});

t.test('one pod evicted while its sibling stays blocked: the evicted one is not reported as left', async (t) => {
  const scope = cordonedKubelet(nodeA, 'node-a')
    .get('/pods')
    .reply(200, podList(pod('web-1-node-a', 'Running'), pod('web-2-node-a', 'Running'), pod('job-node-a', 'Succeeded')))
    .post(evictionPath('web-1-node-a'))
    .reply(201, {})
    .post(evictionPath('web-2-node-a'))
    .times(20)
    .reply(429, budgetRefusal('web-pdb'))
    .get('/pods')
    .times(20)
    .reply(200, podList({ ...pod('web-1-node-a', 'Failed') }, pod('web-2-node-a', 'Running')));
  const result = await drainOf([nodeA], { timeoutMs: 12_000 }).run;
  t.same(
    result.pods.map((entry) => [entry.pod.name, entry.outcome]),
    [
      ['web-1-node-a', 'evicted'],
      ['web-2-node-a', 'blocked'],
    ],
    'the Succeeded pod is left alone',
  );
  const summary = formatDrainSummary(result, 12_000);
  t.match(summary, /1 of 2 pods left/);
  t.notMatch(summary, /web-1-node-a/);
  scope.persist(false);
});

t.test('a 500 for a pod under several budgets is reported with the kubelet and the pod, not retried', async (t) => {
  let posts = 0;
  const scope = cordonedKubelet(nodeA, 'node-a')
    .get('/pods')
    .reply(200, podList(pod('web-node-a', 'Running')))
    .post(evictionPath('web-node-a'))
    .reply(500, () => {
      posts += 1;
      return { kind: 'Status', apiVersion: 'v1', status: 'Failure', reason: 'InternalError', code: 500, message: 'This pod has more than one PodDisruptionBudget, which the eviction subresource does not support.' };
    });
  const result = await drainOf([nodeA], { timeoutMs: 60_000 }).run;
  t.equal(posts, 1);
  t.equal(result.ended, 'done');
  t.notOk(drainSucceeded(result));
  t.match(result.pods, [{ outcome: 'failed', message: /kubelet http:\/\/node-a\.test:10255: eviction refused: HTTP 500 InternalError: This pod has more than one PodDisruptionBudget/ }]);
  t.match(formatDrainSummary(result, 60_000), /pod default\/web-node-a: kubelet http:\/\/node-a\.test:10255: eviction refused: HTTP 500/);
  t.ok(scope.isDone());
});

t.test('a 404 (the pod already left) counts as drained', async (t) => {
  const scope = cordonedKubelet(nodeA, 'node-a')
    .get('/pods')
    .reply(200, podList(pod('web-node-a', 'Running')))
    .post(evictionPath('web-node-a'))
    .reply(404, { kind: 'Status', apiVersion: 'v1', status: 'Failure', reason: 'NotFound', code: 404, message: 'pods "web-node-a" not found' });
  const result = await drainOf([nodeA]).run;
  t.match(result.pods, [{ outcome: 'already gone', attempts: 1 }]);
  t.ok(drainSucceeded(result));
  t.ok(scope.isDone());
});

t.test('an evicted pod replaced by a new one of the same name (another UID) counts as evicted', async (t) => {
  const scope = cordonedKubelet(nodeA, 'node-a')
    .get('/pods')
    .reply(200, podList(pod('web-node-a', 'Running', 'uid-old')))
    .post(evictionPath('web-node-a'))
    .reply(200, {})
    .get('/pods')
    .reply(200, podList(pod('web-node-a', 'Pending', 'uid-new')));
  const result = await drainOf([nodeA]).run;
  t.match(result.pods, [{ outcome: 'evicted' }]);
  t.ok(scope.isDone());
});

t.test('--grace-period is sent as deleteOptions.gracePeriodSeconds', async (t) => {
  const scope = cordonedKubelet(nodeA, 'node-a')
    .get('/pods')
    .reply(200, podList(pod('web-node-a', 'Running')))
    .post(evictionPath('web-node-a'), { apiVersion: 'policy/v1', kind: 'Eviction', metadata: { name: 'web-node-a', namespace: 'default' }, deleteOptions: { gracePeriodSeconds: 0 } })
    .reply(201, {})
    .get('/pods')
    .reply(200, podList());
  const result = await drainOf([nodeA], { gracePeriodSeconds: 0 }).run;
  t.ok(drainSucceeded(result));
  t.ok(scope.isDone());
});

t.test('an accepted eviction whose pod outlives the timeout is reported as still terminating', async (t) => {
  const scope = cordonedKubelet(nodeA, 'node-a')
    .get('/pods')
    .reply(200, podList(pod('slow-node-a', 'Running')))
    .post(evictionPath('slow-node-a'))
    .reply(201, {})
    .get('/pods')
    .times(10)
    .reply(200, podList(pod('slow-node-a', 'Running')));
  const result = await drainOf([nodeA], { timeoutMs: 3000 }).run;
  t.equal(result.ended, 'timeout');
  t.match(result.pods, [{ outcome: 'terminating' }]);
  t.match(formatDrainSummary(result, 3000), /pod default\/slow-node-a: eviction accepted, but the pod had not terminated at the timeout \(3s\)/);
  scope.persist(false);
});

t.test('a kubelet that hangs at the deadline does not hold the drain past it', async (t) => {
  const scope = cordonedKubelet(nodeA, 'node-a')
    .get('/pods')
    .reply(200, podList(pod('web-node-a', 'Running')))
    .post(evictionPath('web-node-a'))
    .delay(20_000)
    .reply(201, {});
  // The client's own request timeout (10 s) is shorter than the hang: without the deadline cutting
  // the call, the pod would end as a failed request rather than as not evicted at the timeout.
  const result = await drainOf([nodeA], { timeoutMs: 300 }).run;
  t.equal(result.ended, 'timeout');
  t.match(result.pods, [{ outcome: 'not evicted', attempts: 1 }]);
  t.match(formatDrainSummary(result, 300), /pod default\/web-node-a: not evicted: no answer yet at the timeout \(300ms\)/);
  scope.persist(false);
});

t.test('pods of several nodes are evicted after every node is cordoned', async (t) => {
  const order: string[] = [];
  const scopes = [nodeA, nodeB].map((url) => {
    const node = url === nodeA ? 'node-a' : 'node-b';
    return nock(url)
      .get('/api/v1/nodes')
      .reply(200, nodeList(node, false))
      .patch(`/api/v1/nodes/${node}`)
      .reply(200, () => {
        order.push(`cordon ${node}`);
        return nodeList(node, true).items[0];
      })
      .get('/pods')
      .reply(200, podList(pod(`web-${node}`, 'Running')))
      .post(evictionPath(`web-${node}`))
      .reply(201, () => {
        order.push(`evict ${node}`);
        return {};
      })
      .get('/pods')
      .reply(200, podList());
  });
  const result = await drainOf([nodeA, nodeB]).run;
  t.ok(drainSucceeded(result));
  t.same(order.slice(0, 2).sort(), ['cordon node-a', 'cordon node-b'], 'both cordons come before any eviction');
  t.same(formatDrainSummary(result, 0).split('\n'), ['node/node-a drained (1 pod evicted)', 'node/node-b drained (1 pod evicted)']);
  for (const scope of scopes) t.ok(scope.isDone());
});

t.test('an unreachable kubelet is a clear error naming it, and the reachable node is still drained', async (t) => {
  const closedPort = await new Promise<number>((resolve) => {
    const server = net.createServer().listen(0, '127.0.0.1', () => {
      const { port } = server.address() as net.AddressInfo;
      server.close(() => resolve(port));
    });
  });
  const unreachable = `http://127.0.0.1:${closedPort}`;
  const scope = cordonedKubelet(nodeA, 'node-a').get('/pods').reply(200, podList());
  const result = await drainOf([unreachable, nodeA]).run;
  t.match(result.nodes, [{ kubelet: unreachable, node: undefined, outcome: 'failed', error: { code: 'unreachable' } }, { outcome: 'cordoned' }]);
  t.notOk(drainSucceeded(result));
  const summary = formatDrainSummary(result, 0);
  t.match(summary, new RegExp(`node \\(kubelet ${unreachable}\\) not drained: could not cordon: kubelet ${unreachable}: GET /api/v1/nodes: cannot reach the kubelet: .*ECONNREFUSED`));
  t.match(summary, /node\/node-a drained/);
  t.ok(scope.isDone());
});

t.test('a kubelet that stops answering while the pod terminates is named in the pod\'s failure', async (t) => {
  const scope = cordonedKubelet(nodeA, 'node-a')
    .get('/pods')
    .reply(200, podList(pod('web-node-a', 'Running')))
    .post(evictionPath('web-node-a'))
    .reply(201, {})
    .get('/pods')
    .replyWithError('socket hang up');
  const result = await drainOf([nodeA]).run;
  t.match(result.pods, [{ outcome: 'failed', message: /evicted, but waiting for it to terminate failed: kubelet http:\/\/node-a\.test:10255: GET \/pods: cannot reach the kubelet/ }]);
  t.ok(scope.isDone());
});

t.test('interrupting stops the retries at once and leaves the node cordoned', async (t) => {
  const controller = new AbortController();
  let posts = 0;
  const scope = cordonedKubelet(nodeA, 'node-a')
    .get('/pods')
    .reply(200, podList(pod('web-node-a', 'Running')))
    .post(evictionPath('web-node-a'))
    .times(10)
    .reply(429, () => {
      posts += 1;
      if (posts === 2) controller.abort();
      return budgetRefusal('web-pdb');
    });
  const result = await drainOf([nodeA], { signal: controller.signal }).run;
  t.equal(posts, 2);
  t.equal(result.ended, 'interrupted');
  t.match(result.pods, [{ outcome: 'blocked', budget: { name: 'web-pdb' } }]);
  const summary = formatDrainSummary(result, 0);
  t.match(summary, /blocked by PodDisruptionBudget default\/web-pdb when interrupted/);
  t.match(summary, /interrupted: the nodes stay cordoned/);
  scope.persist(false);
});

t.test('uncordon patches spec.unschedulable to false, and leaves a schedulable node alone', async (t) => {
  const scopeA = nock(nodeA)
    .get('/api/v1/nodes')
    .reply(200, nodeList('node-a', true))
    .patch('/api/v1/nodes/node-a', { spec: { unschedulable: false } })
    .matchHeader('content-type', cordonPatchContentType)
    .reply(200, { apiVersion: 'v1', kind: 'Node', metadata: { name: 'node-a' }, spec: {} });
  const scopeB = nock(nodeB).get('/api/v1/nodes').reply(200, nodeList('node-b', false));
  const lines: string[] = [];
  const results = await setNodesUnschedulable({ kubelets: [new KubeletClient({ url: nodeA }), new KubeletClient({ url: nodeB })], unschedulable: false, log: (line) => lines.push(line) });
  t.same(results, [
    { kubelet: nodeA, node: 'node-a', outcome: 'uncordoned' },
    { kubelet: nodeB, node: 'node-b', outcome: 'already uncordoned' },
  ]);
  t.same(lines.sort(), [`node/node-a uncordoned (kubelet ${nodeA})`, `node/node-b already uncordoned (kubelet ${nodeB})`]);
  t.ok(scopeA.isDone());
  t.ok(scopeB.isDone());
});

t.test('a cordon the kubelet does not take is reported and that node is not drained', async (t) => {
  const scope = nock(nodeA)
    .get('/api/v1/nodes')
    .reply(200, nodeList('node-a', false))
    .patch('/api/v1/nodes/node-a')
    .reply(415, { kind: 'Status', apiVersion: 'v1', status: 'Failure', reason: 'UnsupportedMediaType', code: 415, message: 'the body content type is not supported' });
  const result = await drainOf([nodeA]).run;
  t.match(result.nodes, [{ node: 'node-a', outcome: 'failed', error: { code: 'http-status', httpStatus: 415 } }]);
  t.same(result.pods, []);
  t.match(formatDrainSummary(result, 0), /node\/node-a \(kubelet http:\/\/node-a\.test:10255\) not drained: could not cordon: .*PATCH \/api\/v1\/nodes\/node-a: HTTP 415 UnsupportedMediaType/);
  t.ok(scope.isDone(), 'no /pods request and no eviction');
});
