/**
 * Disruption budgets and eviction (KUBELET-PDB): budgets read from the
 * manifest folder and listed with a status computed as the disruption
 * controller computes it, and evictions decided as kube-apiserver's eviction
 * subresource decides them (kubernetes/kubernetes v1.36.3,
 * pkg/controller/disruption/disruption.go, pkg/registry/core/pod/storage/eviction.go).
 * Every case labels its pods with a label of its own, so a budget covers
 * only the pods its case made. Budgets across nodes (KUBELET-PDB-018) are
 * not checked: the suite builds one node.
 */
import type { CaseContext, Suite } from '../framework/index.js';
import type { Pod } from '../../kubelet/api/pod-types.js';
import {
  answerView,
  awaitBudgetCounts,
  awaitBudgets,
  awaitReadiness,
  budgetCauseMessage,
  budgetIn,
  budgetPod,
  budgetRefusalMessage,
  evict,
  evictionBody,
  isEvictionSuccess,
  listBudgets,
  respecified,
  setReady,
  severalBudgetsMessage,
  showsCounts,
  startBudgetPods,
  statusView,
  testBudget,
  withBudget,
  withBudgets,
  type BudgetSpec,
  type EvictionAnswer,
  type ExpectedCounts,
  type ListedBudget,
  type TestBudget,
} from './disruption-budgets.js';
import type { KubeletSubject } from './kubelet-subject.js';
import {
  awaitPod,
  budgetMs,
  callsOf,
  callsView,
  containerStatus,
  execsWith,
  ignoringSigterm,
  isRunning,
  lifecycleCalls,
  pause,
  podCalls,
  podEvents,
  podNamed,
  podView,
  requestTimeoutSeconds,
  shellContainer,
  testPod,
  withManifest,
  absentImage,
  type TestPod,
} from './pod-manifests.js';

type Ctx = CaseContext<KubeletSubject>;

/** How long a case lets the kubelet take to show a change in a budget's status. */
function statusBudgetMs(subject: KubeletSubject): number {
  return budgetMs(subject, 8);
}

/** The DisruptionAllowed condition of a listed budget. */
function disruptionCondition(budget: ListedBudget | undefined): { status?: string; reason?: string } | undefined {
  return budget?.status?.conditions?.find((condition) => condition.type === 'DisruptionAllowed');
}

/** Checks one listed budget's counts against `wanted`, under `ids`. */
function checkCounts(ctx: Ctx, budget: ListedBudget | undefined, name: string, wanted: ExpectedCounts, ids: readonly string[], why: string): void {
  ctx.check(showsCounts(budget, wanted), { ids, what: `budget ${name}: ${why}`, expected: wanted, got: statusView(budget) });
}

/** A selector on the case's own label. */
function selecting(label: string): BudgetSpec['selector'] {
  return { matchLabels: { 'kubeplug.io/budget-case': label } };
}

/** Checks that a 429 answer is upstream's refusal naming `budget` with `desired` and `current`. @see KUBELET-PDB-010 */
function checkRefusal(ctx: Ctx, answer: EvictionAnswer, budget: TestBudget, desired: number, current: number, ids: readonly string[], what: string): void {
  const cause = answer.json?.details?.causes?.[0];
  ctx.check(
    answer.status === 429 &&
      answer.json?.status === 'Failure' &&
      answer.json.reason === 'TooManyRequests' &&
      answer.json.message === budgetRefusalMessage &&
      (cause?.reason ?? cause?.type) === 'DisruptionBudget' &&
      cause?.message === budgetCauseMessage(budget.name, desired, current),
    {
      ids,
      what,
      expected: { code: 429, status: 'Failure', reason: 'TooManyRequests', message: budgetRefusalMessage, causes: [{ reason: 'DisruptionBudget', message: budgetCauseMessage(budget.name, desired, current) }] },
      got: answerView(answer),
    },
  );
}

/**
 * Samples the pod for `forMs` and checks its container kept running with no
 * StopContainer from the kubelet since `since`.
 */
async function checkUntouched(ctx: Ctx, pod: TestPod, uid: string | undefined, since: number, ids: readonly string[], what: string, forMs: number): Promise<void> {
  await pause(ctx, forMs);
  const seen = await ctx.subject.pod(pod.name, pod.manifest.metadata.namespace ?? 'default');
  const stops = callsOf(podCalls(ctx.subject, uid), 'StopContainer').filter((call) => call.startedAt >= since);
  ctx.check(isRunning(seen, 'app') && stops.length === 0 && (containerStatus(seen, 'app')?.restartCount ?? 0) === 0, {
    ids,
    what,
    expected: 'the container still running, never stopped',
    got: { pod: podView(seen), stopContainerCalls: callsView(stops, since) },
  });
}

/** Declares the disruption budget and eviction cases. */
export function declarePdbCases(suite: Suite<KubeletSubject>): void {
  suite.declare({
    ids: ['KUBELET-PDB-001', 'KUBELET-PDB-005', 'KUBELET-PDB-006', 'KUBELET-PDB-007', 'KUBELET-PDB-008'],
    title: "A budget's status counts the pods it covers, rounds percentages up, and derives disruptionsAllowed and its condition",
    timeoutMs: 90_000,
    async run(ctx: Ctx) {
      const { subject } = ctx;
      const label = ctx.uniqueName('counts');
      const pods = [1, 2, 3].map((n) => ({ pod: budgetPod(ctx, `pdb-counts-${n}`, { labels: { 'kubeplug.io/budget-case': label } }), ready: true }));
      const selector = selecting(label);
      // Each budget names what it shows with 3 Ready pods, and what rounding down would show instead.
      const table: { prefix: string; spec: BudgetSpec; wanted: ExpectedCounts; ids: readonly string[]; why: string }[] = [
        { prefix: 'pdb-min-int', spec: { minAvailable: 2, selector }, wanted: { expectedPods: 3, currentHealthy: 3, desiredHealthy: 2, disruptionsAllowed: 1 }, ids: ['KUBELET-PDB-005', 'KUBELET-PDB-006', 'KUBELET-PDB-008'], why: 'minAvailable 2 of 3 Ready pods' },
        { prefix: 'pdb-min-34', spec: { minAvailable: '34%', selector }, wanted: { desiredHealthy: 2, disruptionsAllowed: 1 }, ids: ['KUBELET-PDB-006'], why: 'minAvailable 34% of 3 pods is 1.02, rounded up to 2 (down: 1)' },
        { prefix: 'pdb-min-50', spec: { minAvailable: '50%', selector }, wanted: { desiredHealthy: 2, disruptionsAllowed: 1 }, ids: ['KUBELET-PDB-006'], why: 'minAvailable 50% of 3 pods is 1.5, rounded up to 2 (down: 1)' },
        { prefix: 'pdb-max-int', spec: { maxUnavailable: 1, selector }, wanted: { expectedPods: 3, desiredHealthy: 2, disruptionsAllowed: 1 }, ids: ['KUBELET-PDB-007'], why: 'maxUnavailable 1 of 3 pods desires 2' },
        { prefix: 'pdb-max-50', spec: { maxUnavailable: '50%', selector }, wanted: { desiredHealthy: 1, disruptionsAllowed: 2 }, ids: ['KUBELET-PDB-007'], why: 'maxUnavailable 50% of 3 pods allows 2 (1.5 rounded up), so desires 1 (down: 2)' },
        { prefix: 'pdb-max-25', spec: { maxUnavailable: '25%', selector }, wanted: { desiredHealthy: 2, disruptionsAllowed: 1 }, ids: ['KUBELET-PDB-007'], why: 'maxUnavailable 25% of 3 pods allows 1 (0.75 rounded up), so desires 2 (down: 3)' },
        { prefix: 'pdb-max-big', spec: { maxUnavailable: 5, selector }, wanted: { desiredHealthy: 0, disruptionsAllowed: 3 }, ids: ['KUBELET-PDB-007', 'KUBELET-PDB-008'], why: 'maxUnavailable 5 of 3 pods desires 0, not -2' },
        { prefix: 'pdb-min-all', spec: { minAvailable: '100%', selector }, wanted: { expectedPods: 3, currentHealthy: 3, desiredHealthy: 3, disruptionsAllowed: 0 }, ids: ['KUBELET-PDB-006', 'KUBELET-PDB-008'], why: 'minAvailable 100% of 3 pods allows no disruption' },
      ];
      const budgets = table.map((row) => ({ row, budget: testBudget(ctx, row.prefix, row.spec) }));
      await startBudgetPods(ctx, pods);
      await withBudgets(ctx, budgets.map((entry) => entry.budget));
      // A dot file is never a budget; a YAML file is one. @see KUBELET-PDB-001
      const hidden = testBudget(ctx, 'pdb-hidden', { minAvailable: 1, selector });
      ctx.defer(() => subject.removeManifest(`.${hidden.fileName}`), `remove .${hidden.fileName}`);
      await subject.writeManifest(`.${hidden.fileName}`, hidden.manifest);
      const yaml = testBudget(ctx, 'pdb-yaml', { maxUnavailable: 1, selector });
      const yamlFile = `${yaml.name}.pdb.yaml`;
      ctx.defer(() => subject.removeManifest(yamlFile), `remove ${yamlFile}`);
      await subject.writeManifest(
        yamlFile,
        `apiVersion: policy/v1\nkind: PodDisruptionBudget\nmetadata:\n  name: ${yaml.name}\nspec:\n  maxUnavailable: 1\n  selector:\n    matchLabels:\n      kubeplug.io/budget-case: ${label}\n`,
      );

      const first = budgets[0] as (typeof budgets)[number];
      const list = await awaitBudgets(
        ctx,
        'every budget is listed and the first counts 3 Ready pods',
        (seen) => budgets.every((entry) => budgetIn(seen, entry.budget) !== undefined) && budgetIn(seen, yaml) !== undefined && showsCounts(budgetIn(seen, first.budget), { expectedPods: 3, currentHealthy: 3 }),
        { timeoutMs: statusBudgetMs(subject), ids: ['KUBELET-PDB-001'] },
      );
      ctx.check(list.apiVersion === 'policy/v1' && list.kind === 'PodDisruptionBudgetList', {
        ids: ['KUBELET-PDB-001'],
        what: 'GET /poddisruptionbudgets answers a policy/v1 PodDisruptionBudgetList',
        expected: { apiVersion: 'policy/v1', kind: 'PodDisruptionBudgetList' },
        got: { apiVersion: list.apiVersion, kind: list.kind },
      });
      const listedFirst = budgetIn(list, first.budget);
      ctx.check(listedFirst?.metadata?.namespace === 'default' && JSON.stringify(listedFirst.spec?.selector) === JSON.stringify(selector) && listedFirst.spec?.minAvailable === 2, {
        ids: ['KUBELET-PDB-001'],
        what: 'a listed budget carries its metadata (namespace default) and its spec as written',
        expected: { metadata: { name: first.budget.name, namespace: 'default' }, spec: first.budget.manifest.spec },
        got: listedFirst ?? 'not listed',
      });
      ctx.check(budgetIn(list, hidden) === undefined, { ids: ['KUBELET-PDB-001'], what: 'a budget in a file whose name starts with "." is not listed', expected: 'not listed', got: budgetIn(list, hidden) ?? 'not listed' });
      checkCounts(ctx, budgetIn(list, yaml), yaml.name, { expectedPods: 3, desiredHealthy: 2 }, ['KUBELET-PDB-001'], 'a budget written as YAML is read like JSON');

      for (const { row, budget } of budgets) checkCounts(ctx, budgetIn(list, budget), budget.name, row.wanted, row.ids, row.why);
      for (const { budget, allowed } of [
        { budget: first.budget, allowed: true },
        { budget: (budgets[7] as (typeof budgets)[number]).budget, allowed: false },
      ]) {
        const condition = disruptionCondition(budgetIn(list, budget));
        const wanted = allowed ? { status: 'True', reason: 'SufficientPods' } : { status: 'False', reason: 'InsufficientPods' };
        ctx.check(condition?.status === wanted.status && condition.reason === wanted.reason, {
          ids: ['KUBELET-PDB-008'],
          what: `budget ${budget.name}: condition DisruptionAllowed is ${wanted.status} (${wanted.reason}) when disruptionsAllowed is ${allowed ? 'above 0' : '0'}`,
          expected: { type: 'DisruptionAllowed', ...wanted },
          got: budgetIn(list, budget)?.status?.conditions ?? 'no conditions',
        });
      }

      // Removing the file removes the budget. @see KUBELET-PDB-001
      await subject.removeManifest(first.budget.fileName);
      await awaitBudgets(ctx, `budget ${first.budget.name} is no longer listed once its file is removed`, (seen) => budgetIn(seen, first.budget) === undefined, {
        timeoutMs: statusBudgetMs(subject),
        ids: ['KUBELET-PDB-001'],
      });
    },
  });

  suite.declare({
    ids: ['KUBELET-PDB-003'],
    title: 'A budget covers the pods of its own namespace its selector matches: matchLabels, matchExpressions, empty and null selectors',
    timeoutMs: 90_000,
    async run(ctx: Ctx) {
      const { subject } = ctx;
      const label = ctx.uniqueName('select');
      const other = ctx.uniqueName('pdb-ns');
      const labels = (tier?: string): Record<string, string> => ({ 'kubeplug.io/budget-case': label, ...(tier === undefined ? {} : { tier }) });
      const pods = [
        budgetPod(ctx, 'pdb-sel-one', { labels: labels('one') }),
        budgetPod(ctx, 'pdb-sel-two', { labels: labels('two') }),
        budgetPod(ctx, 'pdb-sel-none', { labels: labels() }),
        budgetPod(ctx, 'pdb-sel-ns-one', { labels: labels('one'), namespace: other }),
        budgetPod(ctx, 'pdb-sel-ns-none', { labels: labels(), namespace: other }),
      ];
      const app = { key: 'kubeplug.io/budget-case', operator: 'In' as const, values: [label] };
      const table: { prefix: string; selector: BudgetSpec['selector'] | undefined; namespace?: string; expectedPods: number; why: string }[] = [
        { prefix: 'pdb-labels', selector: { matchLabels: labels() }, expectedPods: 3, why: "matchLabels covers the 3 pods of the budget's namespace, not the 2 of another" },
        { prefix: 'pdb-in', selector: { matchExpressions: [app, { key: 'tier', operator: 'In', values: ['one', 'two'] }] }, expectedPods: 2, why: 'tier In (one, two)' },
        { prefix: 'pdb-notin', selector: { matchExpressions: [app, { key: 'tier', operator: 'NotIn', values: ['one'] }] }, expectedPods: 2, why: 'tier NotIn (one) also covers the pod without a tier' },
        { prefix: 'pdb-exists', selector: { matchExpressions: [app, { key: 'tier', operator: 'Exists' }] }, expectedPods: 2, why: 'tier Exists' },
        { prefix: 'pdb-dne', selector: { matchLabels: labels(), matchExpressions: [{ key: 'tier', operator: 'DoesNotExist' }] }, expectedPods: 1, why: 'matchLabels and tier DoesNotExist together' },
        { prefix: 'pdb-empty', selector: {}, namespace: other, expectedPods: 2, why: 'an empty selector covers every pod of its namespace' },
        { prefix: 'pdb-null', selector: undefined, namespace: other, expectedPods: 0, why: 'a missing selector covers no pod' },
      ];
      const budgets = table.map((row) => ({
        row,
        budget: testBudget(ctx, row.prefix, { maxUnavailable: 1, ...(row.selector === undefined ? {} : { selector: row.selector }) }, row.namespace ?? 'default'),
      }));
      await startBudgetPods(ctx, pods.map((pod) => ({ pod, ready: true })));
      await withBudgets(ctx, budgets.map((entry) => entry.budget));
      const labelsBudget = (budgets[0] as (typeof budgets)[number]).budget;
      const list = await awaitBudgets(
        ctx,
        'every budget is listed, the matchLabels one covering 3 Ready pods',
        (seen) => budgets.every((entry) => budgetIn(seen, entry.budget) !== undefined) && showsCounts(budgetIn(seen, labelsBudget), { expectedPods: 3, currentHealthy: 3 }),
        { timeoutMs: statusBudgetMs(subject) },
      );
      for (const { row, budget } of budgets) {
        checkCounts(ctx, budgetIn(list, budget), `${budget.name} (${budget.namespace})`, { expectedPods: row.expectedPods, currentHealthy: row.expectedPods }, ['KUBELET-PDB-003'], row.why);
      }
    },
  });

  suite.declare({
    ids: ['KUBELET-PDB-004'],
    title: 'currentHealthy counts covered pods whose Ready condition is True, fresh at every request',
    timeoutMs: 90_000,
    async run(ctx: Ctx) {
      const { subject } = ctx;
      const label = ctx.uniqueName('health');
      const [first, second, unready] = [
        budgetPod(ctx, 'pdb-health-1', { labels: { 'kubeplug.io/budget-case': label } }),
        budgetPod(ctx, 'pdb-health-2', { labels: { 'kubeplug.io/budget-case': label } }),
        budgetPod(ctx, 'pdb-health-3', { labels: { 'kubeplug.io/budget-case': label }, ready: false }),
      ] as [TestPod, TestPod, TestPod];
      const budget = testBudget(ctx, 'pdb-health', { minAvailable: 1, selector: selecting(label) });
      await startBudgetPods(ctx, [
        { pod: first, ready: true },
        { pod: second, ready: true },
        { pod: unready, ready: false },
      ]);
      await withBudget(ctx, budget);
      await awaitBudgets(ctx, `budget ${budget.name} is listed covering 3 pods`, (seen) => showsCounts(budgetIn(seen, budget), { expectedPods: 3 }), { timeoutMs: statusBudgetMs(subject) });
      // Several reads over a few probe periods: the Running but unready pod is never counted.
      const reads: unknown[] = [];
      let counted = true;
      for (let n = 0; n < 3; n += 1) {
        const seen = budgetIn(await listBudgets(subject), budget);
        reads.push(statusView(seen));
        counted &&= showsCounts(seen, { expectedPods: 3, currentHealthy: 2, disruptionsAllowed: 1 });
        await pause(ctx, 700);
      }
      ctx.check(counted, { what: '2 Ready pods and 1 Running but not Ready: currentHealthy 2, so disruptionsAllowed 1', expected: { expectedPods: 3, currentHealthy: 2, disruptionsAllowed: 1 }, got: reads });

      await setReady(ctx, unready, true);
      await awaitReadiness(ctx, unready, true);
      const gained = await awaitBudgets(ctx, 'the pod that became Ready is counted', (seen) => showsCounts(budgetIn(seen, budget), { currentHealthy: 3 }), { timeoutMs: statusBudgetMs(subject) });
      checkCounts(ctx, budgetIn(gained, budget), budget.name, { currentHealthy: 3, disruptionsAllowed: 2 }, ['KUBELET-PDB-004'], 'once the third pod is Ready, all 3 count');

      await setReady(ctx, first, false);
      await awaitReadiness(ctx, first, false);
      const lost = await awaitBudgets(ctx, 'the pod that lost readiness is no longer counted', (seen) => showsCounts(budgetIn(seen, budget), { currentHealthy: 2 }), { timeoutMs: statusBudgetMs(subject) });
      checkCounts(ctx, budgetIn(lost, budget), budget.name, { expectedPods: 3, currentHealthy: 2, disruptionsAllowed: 1 }, ['KUBELET-PDB-004'], 'a pod whose readiness probe fails stops counting');
    },
  });

  suite.declare({
    ids: ['KUBELET-PDB-009', 'KUBELET-PDB-010'],
    title: "An eviction the budget allows succeeds and runs the pod's graceful termination; the next, which would break the budget, is refused with 429",
    timeoutMs: 120_000,
    async run(ctx: Ctx) {
      const { subject } = ctx;
      const label = ctx.uniqueName('evict');
      const labels = { 'kubeplug.io/budget-case': label };
      // The first pod ignores SIGTERM and has a long grace period of its own: only the eviction's 3 s bounds its stop.
      const evicted = budgetPod(ctx, 'pdb-evicted', { labels });
      const stubborn: TestPod = {
        ...evicted,
        manifest: {
          ...evicted.manifest,
          spec: {
            ...evicted.manifest.spec,
            terminationGracePeriodSeconds: 30,
            containers: [
              shellContainer(subject, 'app', `touch /tmp/ready; ${ignoringSigterm}`, {
                readinessProbe: { exec: { command: ['test', '-f', '/tmp/ready'] }, periodSeconds: 1, timeoutSeconds: 2 },
                lifecycle: { preStop: { exec: { command: ['sh', '-c', 'sleep 1 # prestop-evicted'] } } },
              }),
            ],
          },
        },
      };
      const kept = budgetPod(ctx, 'pdb-kept', { labels });
      const budget = testBudget(ctx, 'pdb-evict', { minAvailable: 1, selector: selecting(label) });
      const [evictedSeen, keptSeen] = (await startBudgetPods(ctx, [
        { pod: stubborn, ready: true },
        { pod: kept, ready: true },
      ])) as [Pod, Pod];
      await withBudget(ctx, budget);
      await awaitBudgetCounts(ctx, budget, { expectedPods: 2, currentHealthy: 2, disruptionsAllowed: 1 }, { timeoutMs: statusBudgetMs(subject) });

      const grace = 3;
      const evictedAt = Date.now();
      const allowed = await evict(ctx, podNamed(subject, stubborn.name), { gracePeriodSeconds: grace });
      ctx.check(isEvictionSuccess(allowed) && allowed.status === 201, {
        ids: ['KUBELET-PDB-009'],
        what: 'with disruptionsAllowed 1 the eviction succeeds: 201 and a Status of status Success',
        expected: { code: 201, kind: 'Status', status: 'Success' },
        got: answerView(allowed),
      });
      const ended = await awaitPod(ctx, stubborn, 'the evicted pod ends Failed with reason Evicted', (seen) => seen.status?.phase === 'Failed' && seen.status.reason === 'Evicted', {
        timeoutMs: budgetMs(subject, grace + 8),
        ids: ['KUBELET-PDB-009'],
      });
      ctx.check(/evict/i.test(ended.status?.message ?? ''), { ids: ['KUBELET-PDB-009'], what: 'its status message says it was evicted', expected: /evict/i.source, got: ended.status?.message ?? 'no message' });
      const calls = podCalls(subject, evictedSeen.metadata.uid).filter((call) => call.startedAt >= evictedAt);
      const preStop = execsWith(calls, 'app', '# prestop-evicted')[0];
      const stop = callsOf(calls, 'StopContainer', 'app')[0];
      const view = callsView([...lifecycleCalls(calls), ...(preStop === undefined ? [] : [preStop])].sort((a, b) => a.startedAt - b.startedAt), evictedAt);
      ctx.check(preStop !== undefined && stop !== undefined && stop.startedAt >= preStop.endedAt - 50, {
        ids: ['KUBELET-PDB-009'],
        what: 'the eviction ran the preStop hook, then StopContainer',
        expected: 'ExecSync(preStop) ended, then StopContainer',
        got: view,
      });
      const timeout = stop === undefined ? undefined : requestTimeoutSeconds(stop);
      ctx.check(timeout !== undefined && timeout >= 1 && timeout <= grace, {
        ids: ['KUBELET-PDB-009'],
        what: `StopContainer carries what is left of the eviction's ${grace} s grace period (not the pod's own 30 s)`,
        expected: `1..${grace} s`,
        got: stop === undefined ? view : stop.call.request,
      });
      // Not started again while the manifest stays the same.
      const watchedFrom = Date.now();
      await pause(ctx, 3 * subject.syncMs + 1000);
      const later = await subject.pod(stubborn.name);
      const restarts = podCalls(subject, evictedSeen.metadata.uid).filter((call) => call.startedAt >= watchedFrom && (call.method === 'RunPodSandbox' || call.method === 'CreateContainer' || call.method === 'StartContainer'));
      ctx.check(later?.status?.phase === 'Failed' && later.status.reason === 'Evicted' && restarts.length === 0, {
        ids: ['KUBELET-PDB-009'],
        what: 'the evicted pod stays Failed (Evicted) and is not started again',
        expected: { phase: 'Failed', reason: 'Evicted', newStarts: 0 },
        got: { pod: podView(later), newStarts: callsView(restarts, watchedFrom) },
      });

      // The budget now has 1 healthy of the 1 it needs: the second eviction must be refused.
      await awaitBudgetCounts(ctx, budget, { currentHealthy: 1, disruptionsAllowed: 0 }, { timeoutMs: statusBudgetMs(subject), ids: ['KUBELET-PDB-010'] });
      const refusedAt = Date.now();
      const refused = await evict(ctx, podNamed(subject, kept.name));
      checkRefusal(ctx, refused, budget, 1, 1, ['KUBELET-PDB-010'], 'with disruptionsAllowed 0 the eviction answers 429 naming the budget, needing 1 and having 1');
      await checkUntouched(ctx, kept, keptSeen.metadata.uid, refusedAt, ['KUBELET-PDB-010'], 'the refused pod keeps running', 2 * subject.syncMs + 500);
    },
  });

  suite.declare({
    ids: ['KUBELET-PDB-011', 'KUBELET-PDB-016'],
    title: 'Evictions are refused with 500 when two budgets cover the pod, 404 for an unknown pod and 400 for a malformed Eviction, touching no pod',
    timeoutMs: 90_000,
    async run(ctx: Ctx) {
      const { subject } = ctx;
      const label = ctx.uniqueName('refuse');
      const pod = budgetPod(ctx, 'pdb-two-budgets', { labels: { 'kubeplug.io/budget-case': label } });
      const budgets = [testBudget(ctx, 'pdb-first', { maxUnavailable: 1, selector: selecting(label) }), testBudget(ctx, 'pdb-second', { minAvailable: 0, selector: selecting(label) })];
      const [seen] = (await startBudgetPods(ctx, [{ pod, ready: true }])) as [Pod];
      await withBudgets(ctx, budgets);
      await awaitBudgets(ctx, 'both budgets are listed, each covering the pod', (list) => budgets.every((budget) => showsCounts(budgetIn(list, budget), { expectedPods: 1, currentHealthy: 1 })), {
        timeoutMs: statusBudgetMs(subject),
      });
      const since = Date.now();
      const name = podNamed(subject, pod.name);
      const several = await evict(ctx, name);
      ctx.check(several.status === 500 && several.json?.status === 'Failure' && several.json.message === severalBudgetsMessage, {
        ids: ['KUBELET-PDB-011'],
        what: 'a pod two budgets cover: 500 with upstream\'s message',
        expected: { code: 500, status: 'Failure', message: severalBudgetsMessage },
        got: answerView(several),
      });

      const unknown = await evict(ctx, podNamed(subject, ctx.uniqueName('no-such-pod')));
      ctx.check(unknown.status === 404 && unknown.json?.reason === 'NotFound', { ids: ['KUBELET-PDB-016'], what: 'an eviction of a pod the kubelet does not know: 404 NotFound', expected: { code: 404, reason: 'NotFound' }, got: answerView(unknown) });
      const malformed: { what: string; body: string }[] = [
        { what: 'a body that is not JSON', body: '{"apiVersion": "policy/v1", "kind": ' },
        { what: 'a body that is not an Eviction', body: JSON.stringify({ apiVersion: 'v1', kind: 'Pod', metadata: { name, namespace: 'default' } }) },
        { what: 'an Eviction naming another pod than the path', body: evictionBody(`${name}-other`) },
      ];
      for (const entry of malformed) {
        const answer = await evict(ctx, name, { body: entry.body });
        ctx.check(answer.status === 400 && answer.json?.reason === 'BadRequest' && (answer.json.message ?? '') !== '', {
          ids: ['KUBELET-PDB-016'],
          what: `${entry.what}: 400 BadRequest with a message`,
          expected: { code: 400, reason: 'BadRequest', message: 'naming the problem' },
          got: answerView(answer),
        });
      }
      await checkUntouched(ctx, pod, seen.metadata.uid, since, ['KUBELET-PDB-011', 'KUBELET-PDB-016'], 'the pod keeps running through every refused eviction', subject.syncMs + 500);
    },
  });

  suite.declare({
    ids: ['KUBELET-PDB-012'],
    title: 'Of three evictions sent at once against a budget allowing one disruption, exactly one succeeds, and the evicted pod stops counting at once',
    timeoutMs: 90_000,
    async run(ctx: Ctx) {
      const { subject } = ctx;
      const label = ctx.uniqueName('race');
      const pods = [1, 2, 3].map((n) => budgetPod(ctx, `pdb-race-${n}`, { labels: { 'kubeplug.io/budget-case': label } }));
      const budget = testBudget(ctx, 'pdb-race', { minAvailable: 2, selector: selecting(label) });
      await startBudgetPods(ctx, pods.map((pod) => ({ pod, ready: true })));
      await withBudget(ctx, budget);
      await awaitBudgetCounts(ctx, budget, { expectedPods: 3, currentHealthy: 3, disruptionsAllowed: 1 }, { timeoutMs: statusBudgetMs(subject) });
      const answers = await Promise.all(pods.map((pod) => evict(ctx, podNamed(subject, pod.name), { gracePeriodSeconds: 2 })));
      const codes = answers.map((answer) => answer.status);
      ctx.check(answers.filter(isEvictionSuccess).length === 1 && codes.filter((code) => code === 429).length === 2, {
        what: 'exactly one eviction succeeds and the other two answer 429',
        expected: 'one 2xx Success, two 429',
        got: answers.map(answerView),
      });
      // Read at once: the evicted pod is still stopping, but it no longer counts.
      const after = budgetIn(await listBudgets(subject), budget);
      checkCounts(ctx, after, budget.name, { currentHealthy: 2, disruptionsAllowed: 0 }, ['KUBELET-PDB-012'], 'right after the eviction the evicted pod no longer counts as healthy');
    },
  });

  suite.declare({
    ids: ['KUBELET-PDB-013'],
    title: 'Under IfHealthyBudget an unready pod is evicted while the budget is whole and refused once it is not',
    timeoutMs: 90_000,
    async run(ctx: Ctx) {
      const { subject } = ctx;
      const label = ctx.uniqueName('ifhealthy');
      const labels = { 'kubeplug.io/budget-case': label };
      const [healthy, firstUnready, secondUnready] = [
        budgetPod(ctx, 'pdb-ifh-ready', { labels }),
        budgetPod(ctx, 'pdb-ifh-unready-1', { labels, ready: false }),
        budgetPod(ctx, 'pdb-ifh-unready-2', { labels, ready: false }),
      ] as [TestPod, TestPod, TestPod];
      // No policy field: IfHealthyBudget is the default.
      const budget = testBudget(ctx, 'pdb-ifh', { minAvailable: 1, selector: selecting(label) });
      await startBudgetPods(ctx, [
        { pod: healthy, ready: true },
        { pod: firstUnready, ready: false },
        { pod: secondUnready, ready: false },
      ]);
      await withBudget(ctx, budget);
      await awaitBudgetCounts(ctx, budget, { expectedPods: 3, currentHealthy: 1, desiredHealthy: 1, disruptionsAllowed: 0 }, { timeoutMs: statusBudgetMs(subject) });
      const whole = await evict(ctx, podNamed(subject, firstUnready.name), { gracePeriodSeconds: 2 });
      ctx.check(isEvictionSuccess(whole), {
        what: 'currentHealthy 1 >= desiredHealthy 1 > 0: an unready pod is evicted although disruptionsAllowed is 0',
        expected: { code: '2xx', status: 'Success' },
        got: answerView(whole),
      });
      const readyRefused = await evict(ctx, podNamed(subject, healthy.name));
      checkRefusal(ctx, readyRefused, budget, 1, 1, ['KUBELET-PDB-013'], 'the Ready pod under the same budget is still refused with 429');

      const stricter = respecified(budget, { minAvailable: 2, selector: selecting(label), unhealthyPodEvictionPolicy: 'IfHealthyBudget' });
      await subject.writeManifest(stricter.fileName, stricter.manifest);
      await awaitBudgetCounts(ctx, stricter, { currentHealthy: 1, desiredHealthy: 2, disruptionsAllowed: 0 }, { timeoutMs: statusBudgetMs(subject) });
      const broken = await evict(ctx, podNamed(subject, secondUnready.name));
      checkRefusal(ctx, broken, stricter, 2, 1, ['KUBELET-PDB-013'], 'with minAvailable 2 and 1 healthy the budget is not whole: the unready pod is refused with 429');
    },
  });

  suite.declare({
    ids: ['KUBELET-PDB-014'],
    title: 'Under AlwaysAllow an unready pod is evicted although the budget allows no disruption, and a Ready one is refused',
    timeoutMs: 90_000,
    async run(ctx: Ctx) {
      const { subject } = ctx;
      const label = ctx.uniqueName('always');
      const labels = { 'kubeplug.io/budget-case': label };
      const healthy = budgetPod(ctx, 'pdb-always-ready', { labels });
      const unready = budgetPod(ctx, 'pdb-always-unready', { labels, ready: false });
      const budget = testBudget(ctx, 'pdb-always', { minAvailable: 2, selector: selecting(label), unhealthyPodEvictionPolicy: 'AlwaysAllow' });
      await startBudgetPods(ctx, [
        { pod: healthy, ready: true },
        { pod: unready, ready: false },
      ]);
      await withBudget(ctx, budget);
      await awaitBudgetCounts(ctx, budget, { expectedPods: 2, currentHealthy: 1, desiredHealthy: 2, disruptionsAllowed: 0 }, { timeoutMs: statusBudgetMs(subject) });
      const answer = await evict(ctx, podNamed(subject, unready.name), { gracePeriodSeconds: 2 });
      ctx.check(isEvictionSuccess(answer), { what: 'the unready pod is evicted: 2xx Success', expected: { code: '2xx', status: 'Success' }, got: answerView(answer) });
      const refused = await evict(ctx, podNamed(subject, healthy.name));
      checkRefusal(ctx, refused, budget, 2, 1, ['KUBELET-PDB-014'], 'the Ready pod is still refused with 429');
    },
  });

  suite.declare({
    ids: ['KUBELET-PDB-015'],
    title: 'A Pending or Succeeded pod is evicted whatever its budget allows',
    timeoutMs: 90_000,
    async run(ctx: Ctx) {
      const { subject } = ctx;
      const label = ctx.uniqueName('finished');
      const labels = { 'kubeplug.io/budget-case': label };
      const withLabels = (pod: TestPod): TestPod => ({ ...pod, manifest: { ...pod.manifest, metadata: { ...pod.manifest.metadata, labels: { ...pod.manifest.metadata.labels, ...labels } } } });
      const done = withLabels(testPod(ctx, 'pdb-succeeded', { restartPolicy: 'Never', containers: [shellContainer(subject, 'app', 'exit 0')] }));
      const pending = withLabels(testPod(ctx, 'pdb-pending', { containers: [{ name: 'app', image: absentImage(ctx), imagePullPolicy: 'IfNotPresent' }] }));
      const budget = testBudget(ctx, 'pdb-finished', { minAvailable: 1, selector: selecting(label) });
      await withManifest(ctx, done);
      await withManifest(ctx, pending);
      await awaitPod(ctx, done, 'the pod has Succeeded', (seen) => seen.status?.phase === 'Succeeded', { timeoutMs: budgetMs(subject, 15) });
      await awaitPod(ctx, pending, 'the pod is Pending (its image is absent)', (seen) => seen.status?.phase === 'Pending', { timeoutMs: budgetMs(subject, 5) });
      await withBudget(ctx, budget);
      await awaitBudgetCounts(ctx, budget, { expectedPods: 2, currentHealthy: 0, disruptionsAllowed: 0 }, { timeoutMs: statusBudgetMs(subject) });
      for (const [pod, phase] of [
        [done, 'Succeeded'],
        [pending, 'Pending'],
      ] as const) {
        const answer = await evict(ctx, podNamed(subject, pod.name), { gracePeriodSeconds: 1 });
        ctx.check(isEvictionSuccess(answer), { what: `the ${phase} pod is evicted although disruptionsAllowed is 0: 2xx Success`, expected: { code: '2xx', status: 'Success' }, got: answerView(answer) });
      }
    },
  });

  suite.declare({
    ids: ['KUBELET-PDB-002'],
    title: 'An invalid budget is refused with a Warning event naming the field, is not listed, and disturbs no pod',
    timeoutMs: 90_000,
    async run(ctx: Ctx) {
      const { subject } = ctx;
      const label = ctx.uniqueName('invalid');
      const selector = selecting(label);
      const pod = budgetPod(ctx, 'pdb-invalid-bystander', { labels: { 'kubeplug.io/budget-case': label } });
      const valid = testBudget(ctx, 'pdb-valid', { maxUnavailable: 1, selector });
      const invalid: { budget: TestBudget; field: RegExp }[] = [
        { budget: testBudget(ctx, 'pdb-both', { minAvailable: 1, maxUnavailable: 1, selector }), field: /minAvailable[\s\S]*maxUnavailable|maxUnavailable[\s\S]*minAvailable/ },
        { budget: testBudget(ctx, 'pdb-negative', { minAvailable: -1, selector }), field: /spec\.minAvailable/ },
        { budget: testBudget(ctx, 'pdb-word', { minAvailable: 'half', selector }), field: /spec\.minAvailable/ },
        { budget: testBudget(ctx, 'pdb-over', { maxUnavailable: '150%', selector }), field: /spec\.maxUnavailable/ },
        { budget: testBudget(ctx, 'pdb-policy', { minAvailable: 1, selector, unhealthyPodEvictionPolicy: 'Sometimes' }), field: /spec\.unhealthyPodEvictionPolicy/ },
        // An operator policy/v1 does not know; the type only admits the four it does, hence the cast.
        { budget: testBudget(ctx, 'pdb-operator', { minAvailable: 1, selector: { matchExpressions: [{ key: 'tier', operator: 'Near' as 'In', values: ['x'] }] } }), field: /spec\.selector/ },
      ];
      const [seen] = (await startBudgetPods(ctx, [{ pod, ready: true }])) as [Pod];
      const since = Date.now();
      await withBudgets(ctx, [valid, ...invalid.map((entry) => entry.budget)]);
      const list = await awaitBudgets(ctx, `the valid budget ${valid.name} is listed covering the pod`, (items) => showsCounts(budgetIn(items, valid), { expectedPods: 1 }), { timeoutMs: statusBudgetMs(subject) });
      await pause(ctx, subject.syncMs);
      const listed = invalid.filter((entry) => budgetIn(list, entry.budget) !== undefined).map((entry) => entry.budget.name);
      ctx.check(listed.length === 0, { what: 'no invalid budget is listed', expected: [], got: listed });
      const events = (await subject.events()).filter((event) => event.type === 'Warning');
      for (const { budget, field } of invalid) {
        const about = events.filter((event) => event.involvedObject.name === budget.name || event.message.includes(budget.name) || event.message.includes(budget.fileName));
        ctx.check(about.some((event) => field.test(event.message)), {
          what: `budget ${budget.name} (${JSON.stringify(budget.manifest.spec)}): a Warning event names it and the field (${field.source})`,
          expected: { type: 'Warning', names: budget.name, message: field.source },
          got: about.length > 0 ? about.map((event) => ({ reason: event.reason, involvedObject: event.involvedObject.name, message: event.message })) : `no Warning event about it among ${events.length}`,
        });
      }
      const bystander = await subject.pod(pod.name);
      const stops = callsOf(podCalls(subject, seen.metadata.uid), 'StopContainer').filter((call) => call.startedAt >= since);
      ctx.check(isRunning(bystander, 'app') && (containerStatus(bystander, 'app')?.restartCount ?? 0) === 0 && stops.length === 0, {
        what: 'the pod the invalid budgets name keeps running, never stopped',
        expected: 'running, restartCount 0, no StopContainer',
        got: { pod: podView(bystander), stops: callsView(stops, since) },
      });
      const podWarnings = await podEvents(ctx, seen);
      ctx.check(podWarnings.every((event) => event.type !== 'Warning'), { what: 'no Warning event about the pod', expected: [], got: podWarnings.filter((event) => event.type === 'Warning') });
    },
  });

  suite.declare({
    ids: ['KUBELET-PDB-017'],
    title: 'An evicted pod stays evicted across a kubelet restart, until its manifest changes',
    needs: { capabilities: ['restart'] },
    timeoutMs: 120_000,
    async run(ctx: Ctx) {
      const { subject } = ctx;
      const label = ctx.uniqueName('durable');
      const pod = budgetPod(ctx, 'pdb-durable', { labels: { 'kubeplug.io/budget-case': label } });
      const [seen] = (await startBudgetPods(ctx, [{ pod, ready: true }])) as [Pod];
      const answer = await evict(ctx, podNamed(subject, pod.name), { gracePeriodSeconds: 1 });
      ctx.require(isEvictionSuccess(answer), { what: 'the eviction of a pod no budget covers succeeds', expected: { code: '2xx', status: 'Success' }, got: answerView(answer) });
      await awaitPod(ctx, pod, 'the evicted pod is Failed with reason Evicted', (item) => item.status?.phase === 'Failed' && item.status.reason === 'Evicted', { timeoutMs: budgetMs(subject, 8) });
      await subject.restartKubelet('SIGKILL');
      const restartedAt = Date.now();
      await pause(ctx, 3 * subject.syncMs + 1500);
      const after = await subject.pod(pod.name);
      const starts = podCalls(subject, seen.metadata.uid).filter((call) => call.startedAt >= restartedAt && /^(RunPodSandbox|CreateContainer|StartContainer)$/.test(call.method));
      ctx.check(after !== undefined && after.metadata.uid === seen.metadata.uid && after.status?.phase === 'Failed' && after.status.reason === 'Evicted' && starts.length === 0, {
        what: 'after a SIGKILL and a new start, the pod is still Failed (Evicted) and not started again',
        expected: { uid: seen.metadata.uid, phase: 'Failed', reason: 'Evicted', newStarts: 0 },
        got: { uid: after?.metadata.uid, pod: podView(after), newStarts: callsView(starts, restartedAt) },
      });
      // A changed manifest is a new pod (a new UID): the eviction does not hold it.
      const changed: TestPod = { ...pod, manifest: { ...pod.manifest, metadata: { ...pod.manifest.metadata, annotations: { 'kubeplug.io/revision': '2' } } } };
      await subject.writeManifest(changed.fileName, changed.manifest);
      const renewed = await awaitPod(ctx, changed, 'the changed manifest runs as a new pod', (item) => item.metadata.uid !== seen.metadata.uid && isRunning(item, 'app'), { timeoutMs: budgetMs(subject, 15) });
      ctx.check(renewed.status?.reason !== 'Evicted', { what: 'the new pod carries no eviction', expected: 'no reason Evicted', got: podView(renewed) });
    },
  });
}
