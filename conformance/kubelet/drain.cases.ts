/**
 * Cordon and drain (KUBELET-DRAIN): the kubelet's Node, its cordon and what
 * a cordon holds back, and a drain client (the run's `--drain-cmd`, kubeplug
 * drain by default) cordoning, evicting, retrying refusals every 5 s and
 * giving up at its timeout, as kubectl drain does (kubernetes/kubernetes
 * v1.36.3, staging/src/k8s.io/kubectl/pkg/drain/). The drain reaches the
 * kubelet through a recording proxy, so each case judges the requests it
 * sent as well as their effect. Every case leaves the node uncordoned.
 */
import type { CaseContext, Suite } from '../framework/index.js';
import type { Pod } from '../../kubelet/api/pod-types.js';
import {
  awaitBudgetCounts,
  budgetPod,
  namespaceOf,
  respecified,
  startBudgetPods,
  testBudget,
  withBudget,
  withBudgets,
  type BudgetSpec,
} from './disruption-budgets.js';
import { drainView, isCordon, isEviction, requestsView, startDrain, startRecordingProxy, type DrainRun } from './drain-runs.js';
import type { KubeletSubject } from './kubelet-subject.js';
import {
  awaitPod,
  budgetMs,
  callsOf,
  callsView,
  condition,
  containerStatus,
  isRunning,
  isTerminal,
  pause,
  podCalls,
  podNamed,
  podView,
  shellContainer,
  testPod,
  withManifest,
  type TestPod,
} from './pod-manifests.js';

type Ctx = CaseContext<KubeletSubject>;

/** The Node as the kubelet serves it. */
interface NodeObject {
  apiVersion?: string;
  kind?: string;
  metadata?: { name?: string };
  spec?: { unschedulable?: boolean };
}

function parseJson(body: string): unknown {
  try {
    return JSON.parse(body) as unknown;
  } catch {
    return undefined;
  }
}

/** The Node's path on the read-only port. */
function nodePath(subject: KubeletSubject): string {
  return `/api/v1/nodes/${encodeURIComponent(subject.nodeName)}`;
}

/** GET the Node; the answer code and the Node. */
async function getNode(subject: KubeletSubject): Promise<{ status: number; node: NodeObject | undefined; body: string }> {
  const answer = await subject.readOnlyRequest('GET', nodePath(subject));
  return { status: answer.status, node: parseJson(answer.body) as NodeObject | undefined, body: answer.body };
}

/** PATCH spec.unschedulable; the answer code and the Node it answered. */
async function setUnschedulable(subject: KubeletSubject, unschedulable: boolean, contentType = 'application/merge-patch+json'): Promise<{ status: number; node: NodeObject | undefined; body: string }> {
  const answer = await subject.readOnlyRequest('PATCH', nodePath(subject), JSON.stringify({ spec: { unschedulable } }), contentType);
  return { status: answer.status, node: parseJson(answer.body) as NodeObject | undefined, body: answer.body };
}

/** Registers an uncordon after the case (first, so it runs last), whatever the case did. */
function uncordonAfterwards(ctx: Ctx): void {
  ctx.defer(async () => {
    const answer = await setUnschedulable(ctx.subject, false);
    if (answer.status !== 200) throw new Error(`uncordon answered ${answer.status}: ${answer.body.slice(0, 200)}`);
  }, 'uncordon the node');
}

/** Whether the pod is held by a cordon: Pending, PodScheduled False with reason Unschedulable. @see KUBELET-DRAIN-002 */
function isHeld(pod: Pod | undefined): boolean {
  const scheduled = condition(pod, 'PodScheduled');
  return pod?.status?.phase === 'Pending' && scheduled?.status === 'False' && scheduled.reason === 'Unschedulable';
}

/** Checks the pod is terminal or gone from /pods. */
async function checkEvictedAway(ctx: Ctx, pod: TestPod, ids: readonly string[], what: string): Promise<void> {
  const seen = await ctx.subject.pod(pod.name, namespaceOf(pod));
  ctx.check(seen === undefined || isTerminal(seen), { ids, what, expected: 'terminal (Failed, Evicted) or gone', got: podView(seen) });
}

/** Waits for the drain to end; records how it ended as a note. */
async function drainEnded(ctx: Ctx, done: Promise<DrainRun>): Promise<DrainRun> {
  const run = await done;
  ctx.note(`drain: ${JSON.stringify(drainView(run))}`);
  return run;
}

/** A selector on the case's own label. */
function selecting(label: string): BudgetSpec['selector'] {
  return { matchLabels: { 'kubeplug.io/budget-case': label } };
}

/** Declares the cordon and drain cases. */
export function declareDrainCases(suite: Suite<KubeletSubject>): void {
  suite.declare({
    ids: ['KUBELET-DRAIN-001', 'KUBELET-DRAIN-002', 'KUBELET-DRAIN-007'],
    title: 'A cordon, set by patching the Node and kept across a kubelet restart, holds new pods Pending and leaves running ones alone until the uncordon',
    needs: { capabilities: ['restart', 'own-node'] },
    timeoutMs: 120_000,
    async run(ctx: Ctx) {
      const { subject } = ctx;
      uncordonAfterwards(ctx);
      const running = budgetPod(ctx, 'cordon-running', { labels: { 'kubeplug.io/budget-case': ctx.uniqueName('cordon') } });
      const [runningSeen] = (await startBudgetPods(ctx, [{ pod: running, ready: true }])) as [Pod];
      const containerId = containerStatus(runningSeen, 'app')?.containerID;

      const before = await getNode(subject);
      ctx.check(before.status === 200 && before.node?.kind === 'Node' && before.node.apiVersion === 'v1' && before.node.metadata?.name === subject.nodeName && before.node.spec?.unschedulable !== true, {
        ids: ['KUBELET-DRAIN-001'],
        what: `GET ${nodePath(subject)} answers the v1 Node, schedulable`,
        expected: { code: 200, apiVersion: 'v1', kind: 'Node', metadata: { name: subject.nodeName }, spec: { unschedulable: 'false or absent' } },
        got: { code: before.status, node: before.node ?? before.body.slice(0, 300) },
      });
      const listAnswer = await subject.readOnlyRequest('GET', '/api/v1/nodes');
      const list = parseJson(listAnswer.body) as { kind?: string; items?: NodeObject[] } | undefined;
      ctx.check(listAnswer.status === 200 && list?.kind === 'NodeList' && list.items?.length === 1 && list.items[0]?.metadata?.name === subject.nodeName, {
        ids: ['KUBELET-DRAIN-001'],
        what: 'GET /api/v1/nodes answers a NodeList holding this node only',
        expected: { code: 200, kind: 'NodeList', items: [{ metadata: { name: subject.nodeName } }] },
        got: { code: listAnswer.status, body: list ?? listAnswer.body.slice(0, 300) },
      });

      const cordoned = await setUnschedulable(subject, true);
      ctx.require(cordoned.status === 200 && cordoned.node?.spec?.unschedulable === true, {
        ids: ['KUBELET-DRAIN-001'],
        what: 'a merge patch of spec.unschedulable true answers the Node, now unschedulable',
        expected: { code: 200, spec: { unschedulable: true } },
        got: { code: cordoned.status, node: cordoned.node ?? cordoned.body.slice(0, 300) },
      });

      const held = testPod(ctx, 'cordon-held', { containers: [shellContainer(subject, 'app', 'trap "exit 0" TERM; while true; do sleep 3600 & wait $!; done')] });
      await withManifest(ctx, held);
      const heldSeen = await awaitPod(ctx, held, 'the new pod is held: Pending, PodScheduled False (Unschedulable)', isHeld, { timeoutMs: budgetMs(subject, 4), ids: ['KUBELET-DRAIN-002'] });
      ctx.check(/cordon|unschedulable/i.test(condition(heldSeen, 'PodScheduled')?.message ?? ''), {
        ids: ['KUBELET-DRAIN-002'],
        what: "the PodScheduled condition's message says the node is cordoned",
        expected: /cordon|unschedulable/i.source,
        got: condition(heldSeen, 'PodScheduled') ?? 'no PodScheduled condition',
      });
      await pause(ctx, 2 * subject.syncMs);
      const heldCalls = podCalls(subject, heldSeen.metadata.uid);
      const stillHeld = await subject.pod(held.name);
      ctx.check(isHeld(stillHeld) && heldCalls.length === 0, {
        ids: ['KUBELET-DRAIN-002'],
        what: 'the held pod gets no sandbox while the node is cordoned',
        expected: { held: true, criCalls: [] },
        got: { pod: podView(stillHeld), criCalls: callsView(heldCalls) },
      });

      await subject.restartKubelet('SIGKILL');
      const afterRestart = await getNode(subject);
      ctx.check(afterRestart.status === 200 && afterRestart.node?.spec?.unschedulable === true, {
        ids: ['KUBELET-DRAIN-001'],
        what: 'after a SIGKILL and a new start the node is still cordoned',
        expected: { spec: { unschedulable: true } },
        got: { code: afterRestart.status, node: afterRestart.node ?? afterRestart.body.slice(0, 300) },
      });
      await pause(ctx, 2 * subject.syncMs);
      const heldAfterRestart = await subject.pod(held.name);
      ctx.check(isHeld(heldAfterRestart), { ids: ['KUBELET-DRAIN-001', 'KUBELET-DRAIN-002'], what: 'after the restart the new pod is still held', expected: 'Pending, PodScheduled False (Unschedulable)', got: podView(heldAfterRestart) });
      const runningAfter = await subject.pod(running.name);
      const stops = callsOf(podCalls(subject, runningSeen.metadata.uid), 'StopContainer');
      ctx.check(isRunning(runningAfter, 'app') && containerStatus(runningAfter, 'app')?.containerID === containerId && stops.length === 0, {
        ids: ['KUBELET-DRAIN-002'],
        what: 'the pod running before the cordon keeps running in the same container',
        expected: { running: true, containerID: containerId, stopContainer: [] },
        got: { pod: podView(runningAfter), containerID: containerStatus(runningAfter, 'app')?.containerID, stops: callsView(stops) },
      });

      const uncordoned = await setUnschedulable(subject, false, 'application/strategic-merge-patch+json');
      ctx.check(uncordoned.status === 200 && uncordoned.node?.spec?.unschedulable !== true, {
        ids: ['KUBELET-DRAIN-001', 'KUBELET-DRAIN-007'],
        what: 'a strategic merge patch of spec.unschedulable false uncordons the node',
        expected: { code: 200, spec: { unschedulable: 'false or absent' } },
        got: { code: uncordoned.status, node: uncordoned.node ?? uncordoned.body.slice(0, 300) },
      });
      await awaitPod(ctx, held, 'after the uncordon the held pod runs', (seen) => isRunning(seen, 'app'), { timeoutMs: budgetMs(subject, 10), ids: ['KUBELET-DRAIN-002', 'KUBELET-DRAIN-007'] });
    },
  });

  suite.declare({
    ids: ['KUBELET-DRAIN-003'],
    title: 'A drain cordons the node, then evicts every pod that has not finished and waits until each is gone',
    needs: { capabilities: ['own-node'] },
    timeoutMs: 120_000,
    async run(ctx: Ctx) {
      const { subject } = ctx;
      uncordonAfterwards(ctx);
      const label = ctx.uniqueName('drain');
      const pods = [budgetPod(ctx, 'drain-1', { labels: { 'kubeplug.io/budget-case': label } }), budgetPod(ctx, 'drain-2', { labels: { 'kubeplug.io/budget-case': label } })];
      const finished = testPod(ctx, 'drain-finished', { restartPolicy: 'Never', containers: [shellContainer(subject, 'app', 'exit 0')] });
      await startBudgetPods(ctx, pods.map((pod) => ({ pod, ready: true })));
      await withManifest(ctx, finished);
      await awaitPod(ctx, finished, 'the finished pod has Succeeded', (seen) => seen.status?.phase === 'Succeeded', { timeoutMs: budgetMs(subject, 15) });
      const proxy = await startRecordingProxy(ctx);
      const drain = startDrain(ctx, { url: proxy.url, timeoutSeconds: 60, limitMs: 90_000 });
      const run = await drainEnded(ctx, drain.done);
      const requests = proxy.requests();
      ctx.check(run.exitCode === 0, { what: 'the drain exits 0', expected: 0, got: drainView(run) });
      const firstCordon = requests.findIndex(isCordon);
      const firstEviction = requests.findIndex((request) => isEviction(request));
      ctx.check(firstCordon >= 0 && (firstEviction < 0 || firstCordon < firstEviction), {
        what: 'the drain cordons the node before it asks for any eviction',
        expected: 'PATCH of the Node (unschedulable true) before the first eviction',
        got: requestsView(requests, run.startedAt),
      });
      for (const pod of pods) {
        const name = podNamed(subject, pod.name);
        ctx.check(requests.some((request) => isEviction(request, name) && request.status >= 200 && request.status < 300), {
          what: `the drain evicted ${name} through the eviction subresource`,
          expected: `POST …/pods/${name}/eviction answered 2xx`,
          got: requestsView(requests, run.startedAt),
        });
        await checkEvictedAway(ctx, pod, ['KUBELET-DRAIN-003'], `when the drain has exited, ${name} is terminal or gone`);
      }
      const finishedName = podNamed(subject, finished.name);
      ctx.check(!requests.some((request) => isEviction(request, finishedName)), {
        what: 'the Succeeded pod is not evicted',
        expected: `no eviction of ${finishedName}`,
        got: requestsView(requests.filter((request) => isEviction(request)), run.startedAt),
      });
      const node = await getNode(subject);
      ctx.check(node.node?.spec?.unschedulable === true, { what: 'the drained node stays cordoned', expected: { spec: { unschedulable: true } }, got: node.node ?? node.body.slice(0, 300) });
    },
  });

  suite.declare({
    ids: ['KUBELET-DRAIN-004'],
    title: 'A drain retries an eviction refused with 429 every 5 seconds, and finishes once the budget allows it',
    needs: { capabilities: ['own-node'] },
    timeoutMs: 120_000,
    async run(ctx: Ctx) {
      const { subject } = ctx;
      uncordonAfterwards(ctx);
      const label = ctx.uniqueName('retry');
      const pods = [budgetPod(ctx, 'drain-retry-1', { labels: { 'kubeplug.io/budget-case': label } }), budgetPod(ctx, 'drain-retry-2', { labels: { 'kubeplug.io/budget-case': label } })];
      const budget = testBudget(ctx, 'drain-retry', { minAvailable: 2, selector: selecting(label) });
      await startBudgetPods(ctx, pods.map((pod) => ({ pod, ready: true })));
      await withBudget(ctx, budget);
      await awaitBudgetCounts(ctx, budget, { expectedPods: 2, currentHealthy: 2, disruptionsAllowed: 0 }, { timeoutMs: budgetMs(subject, 8) });
      const proxy = await startRecordingProxy(ctx);
      const drain = startDrain(ctx, { url: proxy.url, timeoutSeconds: 60, limitMs: 90_000 });
      // Wait for the first refusal, then let the budget stay shut a little longer than one retry period.
      const refusedBy = Date.now() + budgetMs(subject, 10);
      while (!proxy.requests().some((request) => isEviction(request) && request.status === 429) && !drain.exited() && Date.now() < refusedBy) await pause(ctx, 200);
      ctx.require(proxy.requests().some((request) => isEviction(request) && request.status === 429), {
        what: 'the drain asked for an eviction and was refused with 429',
        expected: 'an eviction answered 429',
        got: { requests: requestsView(proxy.requests(), Date.now()), drainExited: drain.exited() },
      });
      await pause(ctx, 6000);
      const stillRunning = !drain.exited();
      const loosenedAt = Date.now();
      await subject.writeManifest(budget.fileName, respecified(budget, { maxUnavailable: 2, selector: selecting(label) }).manifest);
      const run = await drainEnded(ctx, drain.done);
      const requests = proxy.requests();
      ctx.check(stillRunning, { what: 'after a 429 the drain keeps waiting (it had not exited 6 s after the first refusal)', expected: 'still running', got: { drain: drainView(run), requests: requestsView(requests, run.startedAt) } });
      ctx.check(run.exitCode === 0, { what: 'once the budget allows it the drain evicts both pods and exits 0', expected: 0, got: drainView(run) });
      ctx.check(run.endedAt - loosenedAt <= 5000 + budgetMs(subject, 6), {
        what: 'the drain finishes within one retry period (5 s) of the budget opening, plus the pods\' 2 s grace and slack',
        expected: `<= ${Math.round((5000 + budgetMs(subject, 6)) / 1000)} s after the budget changed`,
        got: `${Math.round((run.endedAt - loosenedAt) / 100) / 10} s`,
      });
      for (const pod of pods) {
        const name = podNamed(subject, pod.name);
        const attempts = requests.filter((request) => isEviction(request, name));
        const gaps = attempts.slice(1).map((request, index) => request.at - (attempts[index] as (typeof attempts)[number]).answeredAt);
        const refusedGaps = gaps.filter((_, index) => (attempts[index] as (typeof attempts)[number]).status === 429);
        ctx.check(refusedGaps.length > 0 && refusedGaps.every((gap) => gap >= 4000 && gap <= 9000), {
          what: `${name}: each retry after a 429 comes about 5 s later (4..9 s)`,
          expected: 'gaps of about 5000 ms',
          got: { gapsMs: gaps, attempts: requestsView(attempts, run.startedAt) },
        });
        await checkEvictedAway(ctx, pod, ['KUBELET-DRAIN-004'], `${name} is terminal or gone once the drain has exited`);
      }
    },
  });

  suite.declare({
    ids: ['KUBELET-DRAIN-005'],
    title: 'A drain still refused at its timeout exits non-zero naming the pod and the budget that blocked it',
    needs: { capabilities: ['own-node'] },
    timeoutMs: 90_000,
    async run(ctx: Ctx) {
      const { subject } = ctx;
      uncordonAfterwards(ctx);
      const label = ctx.uniqueName('timeout');
      const pod = budgetPod(ctx, 'drain-blocked', { labels: { 'kubeplug.io/budget-case': label } });
      const budget = testBudget(ctx, 'drain-blocker', { minAvailable: 1, selector: selecting(label) });
      const [seen] = (await startBudgetPods(ctx, [{ pod, ready: true }])) as [Pod];
      await withBudget(ctx, budget);
      await awaitBudgetCounts(ctx, budget, { expectedPods: 1, currentHealthy: 1, disruptionsAllowed: 0 }, { timeoutMs: budgetMs(subject, 8) });
      const proxy = await startRecordingProxy(ctx);
      const timeout = 8;
      const drain = startDrain(ctx, { url: proxy.url, timeoutSeconds: timeout, limitMs: (timeout + 40) * 1000 });
      const run = await drainEnded(ctx, drain.done);
      const name = podNamed(subject, pod.name);
      const output = `${run.stdout}\n${run.stderr}`;
      ctx.check(run.exitCode !== 0 && run.exitCode !== null, { what: 'the drain exits with a non-zero status', expected: 'non-zero', got: drainView(run) });
      const seconds = (run.endedAt - run.startedAt) / 1000;
      ctx.check(seconds >= timeout - 1 && seconds <= timeout + 20, { what: `it gives up at its ${timeout} s timeout, not before`, expected: `${timeout - 1}..${timeout + 20} s`, got: `${seconds.toFixed(1)} s` });
      ctx.check(output.includes(name) && output.includes(budget.name), {
        what: 'its output names the pod left and the budget that blocked it',
        expected: { mentions: [name, budget.name] },
        got: drainView(run),
      });
      const stops = callsOf(podCalls(subject, seen.metadata.uid), 'StopContainer');
      const after = await subject.pod(pod.name);
      ctx.check(isRunning(after, 'app') && stops.length === 0, { what: 'the blocked pod keeps running', expected: 'running, never stopped', got: { pod: podView(after), stops: callsView(stops) } });
      ctx.note(`requests: ${JSON.stringify(requestsView(proxy.requests(), run.startedAt))}`);
    },
  });

  suite.declare({
    ids: ['KUBELET-DRAIN-006'],
    title: 'A drain does not retry an eviction that failed with 500, and exits non-zero naming the pod well before its timeout',
    needs: { capabilities: ['own-node'] },
    timeoutMs: 90_000,
    async run(ctx: Ctx) {
      const { subject } = ctx;
      uncordonAfterwards(ctx);
      const label = ctx.uniqueName('overlap');
      const pod = budgetPod(ctx, 'drain-overlapped', { labels: { 'kubeplug.io/budget-case': label } });
      const budgets = [testBudget(ctx, 'drain-overlap-1', { maxUnavailable: 1, selector: selecting(label) }), testBudget(ctx, 'drain-overlap-2', { maxUnavailable: 1, selector: selecting(label) })];
      const [seen] = (await startBudgetPods(ctx, [{ pod, ready: true }])) as [Pod];
      await withBudgets(ctx, budgets);
      for (const budget of budgets) await awaitBudgetCounts(ctx, budget, { expectedPods: 1 }, { timeoutMs: budgetMs(subject, 8) });
      const proxy = await startRecordingProxy(ctx);
      const timeout = 40;
      const drain = startDrain(ctx, { url: proxy.url, timeoutSeconds: timeout, limitMs: (timeout + 30) * 1000 });
      const run = await drainEnded(ctx, drain.done);
      const name = podNamed(subject, pod.name);
      const attempts = proxy.requests().filter((request) => isEviction(request, name));
      ctx.check(run.exitCode !== 0 && run.exitCode !== null && (run.endedAt - run.startedAt) / 1000 < timeout / 2, {
        what: `the drain exits non-zero at once, not at its ${timeout} s timeout`,
        expected: `non-zero within ${timeout / 2} s`,
        got: drainView(run),
      });
      ctx.check(attempts.length === 1 && attempts[0]?.status === 500, { what: 'it asked for the eviction once (answered 500) and did not retry', expected: '1 eviction, answered 500', got: requestsView(attempts, run.startedAt) });
      ctx.check(`${run.stdout}\n${run.stderr}`.includes(name), { what: 'its output names the pod', expected: { mentions: name }, got: drainView(run) });
      const after = await subject.pod(pod.name);
      const stops = callsOf(podCalls(subject, seen.metadata.uid), 'StopContainer');
      ctx.check(isRunning(after, 'app') && stops.length === 0, { what: 'the pod keeps running', expected: 'running, never stopped', got: { pod: podView(after), stops: callsView(stops) } });
    },
  });
}
