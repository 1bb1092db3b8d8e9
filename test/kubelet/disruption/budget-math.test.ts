import t from 'tap';
import type { PodDisruptionBudgetSpec } from '../../../kubelet/api/disruption-types.js';
import type { Pod } from '../../../kubelet/api/pod-types.js';
import { defaultKubeletParts } from '../../../kubelet/default-parts.js';
import { budgetSelectsPod, computeBudgetStatus, decideEviction, isPodHealthy, scaleBudgetValue, selectorMatches } from '../../../kubelet/disruption/index.js';
import { budgetWith, podWith } from './budget-fixtures.js';

const now = new Date('2026-12-04T12:00:00Z');

function statusOf(spec: PodDisruptionBudgetSpec, pods: readonly Pod[], unreachablePeers: readonly string[] = []) {
  return computeBudgetStatus({ budget: budgetWith(spec), pods, isPodHealthy, scaleBudgetValue, unreachablePeers, now });
}

const ready = (count: number): Pod[] => Array.from({ length: count }, (_, index) => podWith({ name: `web-${index}` }));
const unready = (count: number): Pod[] => Array.from({ length: count }, (_, index) => podWith({ name: `slow-${index}`, ready: false }));

t.test('scaled values: integers as they are, percentages rounded up', async (t) => {
  const rows: [number | string, number, number][] = [
    [2, 10, 2],
    [0, 10, 0],
    ['50%', 4, 2],
    ['50%', 3, 2],
    ['34%', 3, 2],
    ['33%', 3, 1],
    ['1%', 1, 1],
    ['0%', 5, 0],
    ['100%', 7, 7],
    ['10%', 0, 0],
  ];
  for (const [value, total, want] of rows) t.equal(scaleBudgetValue(value, total), want, `${String(value)} of ${total}`);
  t.throws(() => scaleBudgetValue('half', 4), { name: 'BudgetValueError' });
  t.throws(() => scaleBudgetValue(1.5, 4), { name: 'BudgetValueError' });
});

t.test('status: desiredHealthy and disruptionsAllowed from minAvailable or maxUnavailable', async (t) => {
  const rows: { spec: PodDisruptionBudgetSpec; pods: Pod[]; want: [expected: number, current: number, desired: number, allowed: number] }[] = [
    { spec: { minAvailable: 1 }, pods: ready(2), want: [2, 2, 1, 1] },
    { spec: { minAvailable: 2 }, pods: ready(2), want: [2, 2, 2, 0] },
    { spec: { minAvailable: 3 }, pods: ready(2), want: [2, 2, 3, 0] },
    { spec: { minAvailable: '50%' }, pods: ready(3), want: [3, 3, 2, 1] },
    { spec: { minAvailable: '100%' }, pods: ready(3), want: [3, 3, 3, 0] },
    { spec: { maxUnavailable: 1 }, pods: ready(3), want: [3, 3, 2, 1] },
    { spec: { maxUnavailable: '50%' }, pods: ready(3), want: [3, 3, 1, 2] },
    { spec: { maxUnavailable: '10%' }, pods: ready(3), want: [3, 3, 2, 1] },
    { spec: { maxUnavailable: 5 }, pods: ready(3), want: [3, 3, 0, 3] },
    { spec: { maxUnavailable: 0 }, pods: ready(3), want: [3, 3, 3, 0] },
    { spec: { minAvailable: 1 }, pods: [...ready(1), ...unready(2)], want: [3, 1, 1, 0] },
    { spec: { minAvailable: 0 }, pods: [], want: [0, 0, 0, 0] },
    { spec: {}, pods: ready(2), want: [2, 2, 0, 2] },
  ];
  for (const { spec, pods, want } of rows) {
    const status = statusOf(spec, pods);
    t.same([status.expectedPods, status.currentHealthy, status.desiredHealthy, status.disruptionsAllowed], want, JSON.stringify(spec) + ` over ${pods.length} pods`);
  }
});

t.test('status: terminal and deleting pods are expected but not healthy', async (t) => {
  const pods = [podWith({ name: 'a' }), podWith({ name: 'b', phase: 'Failed' }), podWith({ name: 'c', phase: 'Succeeded' }), podWith({ name: 'd', deleting: true })];
  const status = statusOf({ minAvailable: 1 }, pods);
  t.same([status.expectedPods, status.currentHealthy, status.disruptionsAllowed], [4, 1, 0]);
});

t.test('status: the DisruptionAllowed condition says why and names unreachable peers', async (t) => {
  const allowed = statusOf({ minAvailable: 1 }, ready(2));
  t.match(allowed.conditions, [{ type: 'DisruptionAllowed', status: 'True', reason: 'SufficientPods', message: '', observedGeneration: 1, lastTransitionTime: '2026-12-04T12:00:00Z' }]);
  const refused = statusOf({ minAvailable: 1 }, ready(1), ['http://10.0.0.2:10255: connect ECONNREFUSED']);
  t.match(refused.conditions, [{ status: 'False', reason: 'InsufficientPods', message: /http:\/\/10\.0\.0\.2:10255/ }]);
});

t.test('status: a swapped health part changes the counts (the seam fixtures use)', async (t) => {
  const status = computeBudgetStatus({ budget: budgetWith({ minAvailable: 1 }), pods: [...ready(1), ...unready(1)], isPodHealthy: () => true, scaleBudgetValue, unreachablePeers: [], now });
  t.equal(status.currentHealthy, 2);
});

t.test('selectors: null selects nothing, {} everything in the namespace, expressions as upstream', async (t) => {
  const web = podWith({ labels: { app: 'web', tier: 'front' } });
  const rows: [string, PodDisruptionBudgetSpec['selector'], boolean][] = [
    ['null', null, false],
    ['absent', undefined, false],
    ['empty', {}, true],
    ['matchLabels hit', { matchLabels: { app: 'web' } }, true],
    ['matchLabels miss', { matchLabels: { app: 'db' } }, false],
    ['In hit', { matchExpressions: [{ key: 'tier', operator: 'In', values: ['front', 'back'] }] }, true],
    ['In miss', { matchExpressions: [{ key: 'tier', operator: 'In', values: ['back'] }] }, false],
    ['NotIn absent key', { matchExpressions: [{ key: 'zone', operator: 'NotIn', values: ['a'] }] }, true],
    ['NotIn hit', { matchExpressions: [{ key: 'tier', operator: 'NotIn', values: ['front'] }] }, false],
    ['Exists', { matchExpressions: [{ key: 'tier', operator: 'Exists' }] }, true],
    ['DoesNotExist', { matchExpressions: [{ key: 'tier', operator: 'DoesNotExist' }] }, false],
    ['labels and expressions together', { matchLabels: { app: 'web' }, matchExpressions: [{ key: 'zone', operator: 'Exists' }] }, false],
  ];
  for (const [name, selector, want] of rows) {
    t.equal(budgetSelectsPod({ ...budgetWith({}), spec: { selector } }, web), want, name);
  }
  t.equal(budgetSelectsPod({ ...budgetWith({}), spec: { selector: {} } }, podWith({ namespace: 'other' })), false, 'another namespace is never selected');
  t.equal(selectorMatches({}, undefined), true);
});

t.test('health: Ready=True, not terminal, not deleting', async (t) => {
  t.equal(isPodHealthy(podWith()), true);
  t.equal(isPodHealthy(podWith({ ready: false })), false);
  t.equal(isPodHealthy(podWith({ phase: 'Failed' })), false);
  t.equal(isPodHealthy(podWith({ phase: 'Succeeded' })), false);
  t.equal(isPodHealthy(podWith({ deleting: true })), false);
  t.equal(isPodHealthy({ metadata: { name: 'x' }, spec: { containers: [] } }), false, 'no status yet');
});

t.test('eviction decisions as the eviction subresource makes them', async (t) => {
  const withStatus = (spec: PodDisruptionBudgetSpec, pods: readonly Pod[], name = 'web-pdb') => ({ ...budgetWith(spec, name), status: statusOf(spec, pods) });
  const rows: { name: string; pod: Pod; budgets: ReturnType<typeof withStatus>[]; want: object }[] = [
    { name: 'no budget allows', pod: podWith(), budgets: [], want: { verdict: 'allow', why: 'no budget' } },
    { name: 'a budget with room allows', pod: podWith(), budgets: [withStatus({ minAvailable: 1 }, ready(2))], want: { verdict: 'allow', why: 'budget allows' } },
    { name: 'a budget without room refuses with its counts', pod: podWith(), budgets: [withStatus({ minAvailable: 2 }, ready(2))], want: { verdict: 'refuse', budget: 'web-pdb', desiredHealthy: 2, currentHealthy: 2 } },
    { name: 'two budgets: multiple', pod: podWith(), budgets: [withStatus({ minAvailable: 1 }, ready(2)), withStatus({ minAvailable: 1 }, ready(2), 'other')], want: { verdict: 'multiple-budgets', budgets: ['web-pdb', 'other'] } },
    { name: 'a Failed pod ignores budgets', pod: podWith({ phase: 'Failed', ready: false }), budgets: [withStatus({ minAvailable: 2 }, ready(2))], want: { verdict: 'allow', why: 'not guarded' } },
    { name: 'a Succeeded pod ignores even two budgets', pod: podWith({ phase: 'Succeeded', ready: false }), budgets: [withStatus({ minAvailable: 2 }, ready(2)), withStatus({ minAvailable: 2 }, ready(2), 'b')], want: { verdict: 'allow' } },
    { name: 'a Pending pod ignores budgets', pod: podWith({ phase: 'Pending', ready: false }), budgets: [withStatus({ minAvailable: 2 }, ready(2))], want: { verdict: 'allow' } },
    { name: 'a deleting pod ignores budgets', pod: podWith({ deleting: true }), budgets: [withStatus({ minAvailable: 2 }, ready(2))], want: { verdict: 'allow' } },
    { name: 'IfHealthyBudget: an unready pod goes while the budget is met', pod: podWith({ ready: false }), budgets: [withStatus({ minAvailable: 2 }, ready(2))], want: { verdict: 'allow', why: 'unhealthy pod' } },
    { name: 'IfHealthyBudget: an unready pod stays while the budget is not met', pod: podWith({ ready: false }), budgets: [withStatus({ minAvailable: 2 }, ready(1))], want: { verdict: 'refuse', desiredHealthy: 2, currentHealthy: 1 } },
    { name: 'IfHealthyBudget: desiredHealthy 0 falls through to disruptionsAllowed', pod: podWith({ ready: false }), budgets: [withStatus({ minAvailable: 0 }, [])], want: { verdict: 'refuse' } },
    { name: 'AlwaysAllow: an unready pod goes even when the budget is not met', pod: podWith({ ready: false }), budgets: [withStatus({ minAvailable: 2, unhealthyPodEvictionPolicy: 'AlwaysAllow' }, ready(1))], want: { verdict: 'allow', why: 'unhealthy pod' } },
    { name: 'AlwaysAllow: a ready pod still needs room', pod: podWith(), budgets: [withStatus({ minAvailable: 2, unhealthyPodEvictionPolicy: 'AlwaysAllow' }, ready(2))], want: { verdict: 'refuse' } },
  ];
  for (const { name, pod, budgets, want } of rows) t.match(decideEviction({ pod, budgets, podHealthy: isPodHealthy(pod) }), want, name);
});

t.test('the default parts are these functions', async (t) => {
  t.equal(defaultKubeletParts.computeBudgetStatus, computeBudgetStatus);
  t.equal(defaultKubeletParts.decideEviction, decideEviction);
  t.equal(defaultKubeletParts.isPodHealthy, isPodHealthy);
  t.equal(defaultKubeletParts.scaleBudgetValue, scaleBudgetValue);
  t.equal(defaultKubeletParts.budgetSelectsPod, budgetSelectsPod);
});
