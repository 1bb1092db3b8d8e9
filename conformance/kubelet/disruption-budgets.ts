/**
 * Disruption budgets and evictions as the KUBELET-PDB and KUBELET-DRAIN
 * cases handle them: budget manifests written for the length of a case, the
 * budget list read from `/poddisruptionbudgets`, evictions sent to the
 * eviction subresource with their answers kept as evidence, and test pods
 * whose readiness a case switches through a file. The wire shapes are
 * policy/v1's and metav1.Status's (kubernetes/kubernetes v1.36.3,
 * staging/src/k8s.io/api/policy/v1/types.go), declared here so the suite
 * judges the wire, not any kubelet's own types.
 */
import type { CaseContext } from '../framework/index.js';
import type { Pod } from '../../kubelet/api/pod-types.js';
import type { KubeletSubject } from './kubelet-subject.js';
import { budgetMs, conditionStatus, isRunning, pause, podView, shellContainer, testPod, untilStopped, withManifest, type TestPod } from './pod-manifests.js';

type Ctx = CaseContext<KubeletSubject>;

/** A label selector as policy/v1 spells it. */
export interface LabelSelector {
  matchLabels?: Record<string, string>;
  matchExpressions?: { key: string; operator: 'In' | 'NotIn' | 'Exists' | 'DoesNotExist'; values?: string[] }[];
}

/** spec of a PodDisruptionBudget; `selector: null` is written out, so a case can give a null selector on purpose. */
export interface BudgetSpec {
  minAvailable?: number | string;
  maxUnavailable?: number | string;
  selector?: LabelSelector | null;
  unhealthyPodEvictionPolicy?: string;
}

/** status of a PodDisruptionBudget as a kubelet serves it. */
export interface BudgetStatus {
  currentHealthy?: number;
  desiredHealthy?: number;
  expectedPods?: number;
  disruptionsAllowed?: number;
  observedGeneration?: number;
  conditions?: { type?: string; status?: string; reason?: string; message?: string }[];
}

/** A PodDisruptionBudget as listed by `/poddisruptionbudgets`. */
export interface ListedBudget {
  apiVersion?: string;
  kind?: string;
  metadata?: { name?: string; namespace?: string };
  spec?: BudgetSpec;
  status?: BudgetStatus;
}

/** A budget a case writes: its name, namespace, manifest file, and the manifest. */
export interface TestBudget {
  readonly name: string;
  readonly namespace: string;
  readonly fileName: string;
  readonly manifest: { apiVersion: 'policy/v1'; kind: 'PodDisruptionBudget'; metadata: { name: string; namespace: string }; spec: BudgetSpec };
}

/** A budget manifest named `<prefix>-<run>-<n>`. */
export function testBudget(ctx: Ctx, prefix: string, spec: BudgetSpec, namespace = 'default'): TestBudget {
  const name = ctx.uniqueName(prefix);
  return { name, namespace, fileName: `${name}.pdb.json`, manifest: { apiVersion: 'policy/v1', kind: 'PodDisruptionBudget', metadata: { name, namespace }, spec } };
}

/** The same budget with another spec (to rewrite its file). */
export function respecified(budget: TestBudget, spec: BudgetSpec): TestBudget {
  return { ...budget, manifest: { ...budget.manifest, spec } };
}

/** Writes the budget's file and registers its removal. */
export async function withBudget(ctx: Ctx, budget: TestBudget): Promise<void> {
  ctx.defer(() => ctx.subject.removeManifest(budget.fileName), `remove budget ${budget.name}`);
  await ctx.subject.writeManifest(budget.fileName, budget.manifest);
}

/** Writes several budgets, each removed after the case. */
export async function withBudgets(ctx: Ctx, budgets: readonly TestBudget[]): Promise<void> {
  for (const budget of budgets) await withBudget(ctx, budget);
}

/** The answer of `GET /poddisruptionbudgets`, whole. */
export interface BudgetList {
  readonly apiVersion?: string;
  readonly kind?: string;
  readonly items: readonly ListedBudget[];
}

/** GET /poddisruptionbudgets; throws (a harness-visible failure) when the answer is not a list. @see KUBELET-PDB-001 */
export async function listBudgets(subject: KubeletSubject): Promise<BudgetList> {
  const answer = await subject.readOnlyRequest('GET', '/poddisruptionbudgets');
  if (answer.status !== 200) throw new Error(`GET /poddisruptionbudgets answered ${answer.status}: ${answer.body.slice(0, 300)}`);
  let list: unknown;
  try {
    list = JSON.parse(answer.body);
  } catch {
    throw new Error(`GET /poddisruptionbudgets answered no JSON: ${answer.body.slice(0, 300)}`);
  }
  const items = (list as { items?: unknown } | null)?.items;
  if (!Array.isArray(items)) throw new Error(`GET /poddisruptionbudgets answered no list of items: ${answer.body.slice(0, 300)}`);
  return list as BudgetList;
}

/** The listed budget of `budget`'s name and namespace, in `list`. */
export function budgetIn(list: BudgetList, budget: TestBudget): ListedBudget | undefined {
  return list.items.find((item) => item.metadata?.name === budget.name && (item.metadata.namespace ?? 'default') === budget.namespace);
}

/** A short view of a listed budget's status for evidence. */
export function statusView(budget: ListedBudget | undefined): unknown {
  if (budget === undefined) return 'not in /poddisruptionbudgets';
  const status = budget.status ?? {};
  const condition = status.conditions?.find((item) => item.type === 'DisruptionAllowed');
  return {
    expectedPods: status.expectedPods,
    currentHealthy: status.currentHealthy,
    desiredHealthy: status.desiredHealthy,
    disruptionsAllowed: status.disruptionsAllowed,
    DisruptionAllowed: condition === undefined ? 'absent' : `${condition.status ?? '?'} (${condition.reason ?? ''})`,
  };
}

/** The counts a case expects of a budget (only those given are compared). */
export interface ExpectedCounts {
  readonly expectedPods?: number;
  readonly currentHealthy?: number;
  readonly desiredHealthy?: number;
  readonly disruptionsAllowed?: number;
}

/** Whether the listed budget shows every count of `wanted`. */
export function showsCounts(budget: ListedBudget | undefined, wanted: ExpectedCounts): boolean {
  const status = budget?.status;
  if (status === undefined) return false;
  return (Object.entries(wanted) as [keyof ExpectedCounts, number | undefined][]).every(([key, value]) => value === undefined || status[key] === value);
}

/**
 * Polls /poddisruptionbudgets until `ready` holds of the list; on timeout
 * records a failed check (for `ids`) naming what was last listed, and stops
 * the case.
 */
export async function awaitBudgets(
  ctx: Ctx,
  what: string,
  ready: (list: BudgetList) => boolean,
  options: { timeoutMs: number; ids?: readonly string[]; view?: (list: BudgetList) => unknown },
): Promise<BudgetList> {
  const until = Date.now() + options.timeoutMs;
  let last: BudgetList | undefined;
  let lastError: string | undefined;
  for (;;) {
    try {
      last = await listBudgets(ctx.subject);
      lastError = undefined;
      if (ready(last)) return last;
    } catch (error) {
      lastError = (error as Error).message;
    }
    if (Date.now() >= until || ctx.signal.aborted) break;
    await pause(ctx, 300);
  }
  ctx.require(false, {
    ...(options.ids === undefined ? {} : { ids: options.ids }),
    what: `${what} (within ${Math.round(options.timeoutMs / 1000)} s)`,
    expected: what,
    got: lastError ?? (last === undefined ? 'no list' : (options.view?.(last) ?? last.items.map((item) => ({ name: item.metadata?.name, status: statusView(item) })))),
  });
}

/** Waits until the budget is listed with the counts `wanted`, and returns it. */
export async function awaitBudgetCounts(ctx: Ctx, budget: TestBudget, wanted: ExpectedCounts, options: { timeoutMs: number; ids?: readonly string[] }): Promise<ListedBudget> {
  const list = await awaitBudgets(ctx, `budget ${budget.name} shows ${JSON.stringify(wanted)}`, (seen) => showsCounts(budgetIn(seen, budget), wanted), {
    ...options,
    view: (seen) => statusView(budgetIn(seen, budget)),
  });
  return budgetIn(list, budget) as ListedBudget;
}

// ---- evictions ----

/** A metav1.Status as an eviction answers it. */
export interface StatusObject {
  kind?: string;
  apiVersion?: string;
  status?: string;
  message?: string;
  reason?: string;
  code?: number;
  details?: { name?: string; kind?: string; causes?: { reason?: string; type?: string; message?: string; field?: string }[] };
}

/** An eviction's answer: the HTTP code, the body, and the body as a Status when it is JSON. */
export interface EvictionAnswer {
  readonly status: number;
  readonly body: string;
  readonly json?: StatusObject;
}

/** The policy/v1 Eviction body for pod `podName` (its name as /pods shows it). */
export function evictionBody(podName: string, namespace = 'default', gracePeriodSeconds?: number): string {
  return JSON.stringify({
    apiVersion: 'policy/v1',
    kind: 'Eviction',
    metadata: { name: podName, namespace },
    ...(gracePeriodSeconds === undefined ? {} : { deleteOptions: { gracePeriodSeconds } }),
  });
}

/** The eviction subresource's path for pod `podName` in `namespace`. */
export function evictionPath(podName: string, namespace = 'default'): string {
  return `/api/v1/namespaces/${encodeURIComponent(namespace)}/pods/${encodeURIComponent(podName)}/eviction`;
}

/**
 * POSTs an eviction of `podName` (its name as /pods shows it) and records the
 * exchange as evidence; `body` replaces the well-formed Eviction when given.
 */
export async function evict(ctx: Ctx, podName: string, options: { namespace?: string; gracePeriodSeconds?: number; body?: string } = {}): Promise<EvictionAnswer> {
  const namespace = options.namespace ?? 'default';
  const urlPath = evictionPath(podName, namespace);
  const body = options.body ?? evictionBody(podName, namespace, options.gracePeriodSeconds);
  const started = Date.now();
  const answer = await ctx.subject.readOnlyRequest('POST', urlPath, body);
  let json: StatusObject | undefined;
  try {
    const parsed = JSON.parse(answer.body) as unknown;
    if (parsed !== null && typeof parsed === 'object') json = parsed as StatusObject;
  } catch {
    // not JSON: judged by the caller
  }
  ctx.recordCall({ target: 'kubelet read-only port', method: `POST ${urlPath}`, request: body, response: json ?? answer.body.slice(0, 500), status: { code: String(answer.status), message: json?.message ?? '' }, durationMs: Date.now() - started });
  return { status: answer.status, body: answer.body, ...(json === undefined ? {} : { json }) };
}

/** Whether an answer is 2xx with a Status of status Success. @see KUBELET-PDB-009 */
export function isEvictionSuccess(answer: EvictionAnswer): boolean {
  return answer.status >= 200 && answer.status < 300 && answer.json?.status === 'Success';
}

/** The message upstream's eviction handler refuses with under a budget. */
export const budgetRefusalMessage = "Cannot evict pod as it would violate the pod's disruption budget.";

/** The message upstream answers 500 with when several budgets cover a pod. */
export const severalBudgetsMessage = 'This pod has more than one PodDisruptionBudget, which the eviction subresource does not support.';

/** The cause message naming the budget, as upstream words it. */
export function budgetCauseMessage(budgetName: string, desiredHealthy: number, currentHealthy: number): string {
  return `The disruption budget ${budgetName} needs ${desiredHealthy} healthy pods and has ${currentHealthy} currently`;
}

/** A short view of an answer for evidence. */
export function answerView(answer: EvictionAnswer): unknown {
  return { code: answer.status, status: answer.json?.status, reason: answer.json?.reason, message: answer.json?.message, causes: answer.json?.details?.causes, body: answer.json === undefined ? answer.body.slice(0, 300) : undefined };
}

// ---- test pods whose readiness a case controls ----

/** The file whose presence makes a budget test pod Ready (its readiness probe tests for it every second). */
export const readyFile = '/tmp/ready';

/** Options of {@link budgetPod}. */
export interface BudgetPodOptions {
  /** Labels besides the suite's own. */
  readonly labels: Record<string, string>;
  /** Whether the pod starts Ready (it writes {@link readyFile} first); default true. */
  readonly ready?: boolean;
  /** Namespace of the pod; default `default`. */
  readonly namespace?: string;
}

/**
 * A pod of one container that runs until stopped, with a readiness probe on
 * {@link readyFile}: Ready from the start when `ready`, else Running but not
 * Ready until a case creates the file through ExecSync.
 */
export function budgetPod(ctx: Ctx, prefix: string, options: BudgetPodOptions): TestPod {
  const ready = options.ready ?? true;
  const pod = testPod(ctx, prefix, {
    containers: [
      shellContainer(ctx.subject, 'app', `${ready ? `touch ${readyFile}; ` : ''}${untilStopped}`, {
        readinessProbe: { exec: { command: ['test', '-f', readyFile] }, periodSeconds: 1, timeoutSeconds: 2 },
      }),
    ],
  });
  const manifest: Pod = {
    ...pod.manifest,
    metadata: { ...pod.manifest.metadata, namespace: options.namespace ?? 'default', labels: { ...pod.manifest.metadata.labels, ...options.labels } },
  };
  return { ...pod, manifest };
}

/** The namespace a test pod's manifest names. */
export function namespaceOf(pod: TestPod): string {
  return pod.manifest.metadata.namespace ?? 'default';
}

/** Whether the pod's Ready condition is True. */
export function isReady(pod: Pod | undefined): boolean {
  return conditionStatus(pod, 'Ready') === 'True';
}

/**
 * Writes the pods' manifests (removed after the case) and waits until each is
 * running, and Ready when it was made to start Ready; returns them as /pods
 * shows them, in order.
 */
export async function startBudgetPods(ctx: Ctx, pods: readonly { pod: TestPod; ready: boolean }[], options: { ids?: readonly string[] } = {}): Promise<Pod[]> {
  for (const { pod } of pods) await withManifest(ctx, pod);
  const seen: Pod[] = [];
  const until = Date.now() + budgetMs(ctx.subject, 20);
  for (const { pod, ready } of pods) {
    let last: Pod | undefined;
    for (;;) {
      last = await ctx.subject.pod(pod.name, namespaceOf(pod)).catch(() => undefined);
      if (isRunning(last, 'app') && (!ready || isReady(last))) break;
      if (Date.now() >= until || ctx.signal.aborted) {
        ctx.require(false, {
          ...(options.ids === undefined ? {} : { ids: options.ids }),
          what: `pod ${pod.name} runs${ready ? ' and is Ready' : ''}`,
          expected: ready ? 'Running and Ready' : 'Running',
          got: podView(last),
        });
      }
      await pause(ctx, 250);
    }
    seen.push(last as Pod);
  }
  return seen;
}

/** Makes a budget test pod Ready (creates {@link readyFile}) or not (removes it), through the runtime. */
export async function setReady(ctx: Ctx, pod: TestPod, ready: boolean): Promise<void> {
  const answer = await ctx.subject.exec(pod.name, 'app', ready ? ['touch', readyFile] : ['rm', '-f', readyFile]);
  if (answer.exitCode !== 0) throw new Error(`could not ${ready ? 'create' : 'remove'} ${readyFile} in ${pod.name}: ${answer.stderr}`);
}

/** Waits until the pod's Ready condition is `ready` (the probe runs every second). */
export async function awaitReadiness(ctx: Ctx, pod: TestPod, ready: boolean, options: { ids?: readonly string[] } = {}): Promise<Pod> {
  const until = Date.now() + budgetMs(ctx.subject, 6);
  let last: Pod | undefined;
  for (;;) {
    last = await ctx.subject.pod(pod.name, namespaceOf(pod)).catch(() => undefined);
    if (last !== undefined && isReady(last) === ready) return last;
    if (Date.now() >= until || ctx.signal.aborted) {
      ctx.require(false, {
        ...(options.ids === undefined ? {} : { ids: options.ids }),
        what: `pod ${pod.name} becomes ${ready ? 'Ready' : 'not Ready'}`,
        expected: ready ? 'Ready=True' : 'Ready=False',
        got: podView(last),
      });
    }
    await pause(ctx, 250);
  }
}
