/**
 * The kubelet's disruption controller and eviction handler in one: budgets
 * are read from the manifest folder and their status computed from the
 * cluster view on every call (nothing is cached between calls, so the answer
 * depends only on the files and pods as they are now); evictions are decided
 * by the parts one at a time, recorded under --root-dir before they are
 * answered, and then carried out by the sync loop (graceful termination).
 */
import type { PodDisruptionBudget } from '../api/disruption-types.js';
import type { Pod } from '../api/pod-types.js';
import type { EvictionDecision, KubeletParts } from '../kubelet-parts.js';
import { loadManifests } from '../manifest/load-manifests.js';
import { clusterPods, type KubeletAddress } from './cluster-view.js';
import type { DisruptionState } from './disruption-state.js';

export interface DisruptionServiceDeps {
  readonly parts: KubeletParts;
  readonly podManifestPath: string;
  readonly nodeName: string;
  readonly state: DisruptionState;
  /** --peer-kubelet addresses. */
  readonly peers: readonly KubeletAddress[];
  /** This kubelet's pods as /pods serves them now, evictions already marked (deletionTimestamp). */
  readonly localPods: () => readonly Pod[];
  /** Called after an eviction or a cordon change, so the sync loop acts at once. */
  readonly onChange: () => void;
  readonly now?: () => Date;
  readonly peerTimeoutMs?: number;
}

/** What came of one eviction request. */
export type EvictionOutcome =
  | { readonly outcome: 'evicted' }
  | { readonly outcome: 'not-found' }
  | { readonly outcome: 'refused'; readonly budget: string; readonly desiredHealthy: number; readonly currentHealthy: number }
  | { readonly outcome: 'multiple-budgets'; readonly budgets: readonly string[] };

/**
 * How long a refusal caused by a concurrent eviction on another node waits
 * at most before it is answered (a random part of it), so two clients that
 * retry on a fixed period stop colliding.
 */
const raceJitterMs = 1500;

/** RFC 3339 with seconds, as the API writes times. */
function apiTime(date: Date): string {
  return date.toISOString().replace(/\.\d{3}Z$/, 'Z');
}

export class DisruptionService {
  readonly #deps: DisruptionServiceDeps;
  #queue: Promise<unknown> = Promise.resolve();

  constructor(deps: DisruptionServiceDeps) {
    this.#deps = deps;
  }

  get nodeName(): string {
    return this.#deps.nodeName;
  }

  get unschedulable(): boolean {
    return this.#deps.state.unschedulable;
  }

  /** The valid budgets of the manifest folder; a namespace/name written twice counts once (the first file). */
  async budgets(): Promise<PodDisruptionBudget[]> {
    const { parts, podManifestPath, nodeName } = this.#deps;
    const loads = await loadManifests(podManifestPath, nodeName);
    const byKey = new Map<string, PodDisruptionBudget>();
    for (const load of loads) {
      // Validation is a part (a broken kubelet may skip it), so it is asked here rather than taken from the load.
      if (load.budget === undefined || parts.validateDisruptionBudget(load.budget).length > 0) continue;
      const key = `${load.budget.metadata.namespace}/${load.budget.metadata.name}`;
      if (!byKey.has(key)) byKey.set(key, load.budget);
    }
    return [...byKey.values()];
  }

  /** The given budgets, each with its status computed from the cluster view now. */
  async withStatus(budgets: readonly PodDisruptionBudget[]): Promise<PodDisruptionBudget[]> {
    const { parts, peers } = this.#deps;
    if (budgets.length === 0) return [];
    const view = await clusterPods(this.#deps.localPods(), peers, this.#deps.peerTimeoutMs);
    const now = this.#deps.now?.() ?? new Date();
    return budgets.map((budget) => ({
      ...budget,
      status: parts.computeBudgetStatus({
        budget,
        pods: view.pods.filter((pod) => parts.budgetSelectsPod(budget, pod)),
        isPodHealthy: parts.isPodHealthy,
        scaleBudgetValue: parts.scaleBudgetValue,
        unreachablePeers: view.unreachable,
        now,
      }),
    }));
  }

  /** Every budget with its status (GET /poddisruptionbudgets). */
  async listBudgets(): Promise<PodDisruptionBudget[]> {
    return this.withStatus(await this.budgets());
  }

  /**
   * Evicts the pod `namespace/name` of this node if its budgets allow it.
   * Evictions run one at a time, so each decision sees the previous one.
   */
  async evict(namespace: string, name: string, gracePeriodSeconds: number | undefined): Promise<EvictionOutcome> {
    const run = this.#queue.then(() => this.#evictNow(namespace, name, gracePeriodSeconds));
    this.#queue = run.catch(() => {});
    const { outcome, raced } = await run;
    if (raced) await new Promise((resolve) => setTimeout(resolve, Math.random() * raceJitterMs));
    return outcome;
  }

  /** The decision on `pod` with the budgets that select it, their status computed from `localPods` and the peers now. */
  async #decide(pod: Pod, localPods: readonly Pod[]): Promise<EvictionDecision> {
    const { parts, peers } = this.#deps;
    const selecting = (await this.budgets()).filter((budget) => parts.budgetSelectsPod(budget, pod));
    const view = await clusterPods(localPods, peers, this.#deps.peerTimeoutMs);
    const now = this.#deps.now?.() ?? new Date();
    const budgets = selecting.map((budget) => ({
      ...budget,
      status: parts.computeBudgetStatus({
        budget,
        pods: view.pods.filter((each) => parts.budgetSelectsPod(budget, each)),
        isPodHealthy: parts.isPodHealthy,
        scaleBudgetValue: parts.scaleBudgetValue,
        unreachablePeers: view.unreachable,
        now,
      }),
    }));
    return parts.decideEviction({ pod, budgets, podHealthy: parts.isPodHealthy(pod) });
  }

  /**
   * Decides, then, when a budget was involved, shows the pod as evicted to
   * the peers and decides once more before recording: a kubelet on another
   * node deciding at the same moment then sees this pod as gone, and of two
   * such evictions the one checked last is refused, so the budget is never
   * overdrawn across nodes (upstream gets this from optimistic concurrency
   * on the budget object, which static budgets do not have).
   */
  async #evictNow(namespace: string, name: string, gracePeriodSeconds: number | undefined): Promise<{ outcome: EvictionOutcome; raced: boolean }> {
    const { state } = this.#deps;
    const pod = this.#deps.localPods().find((each) => each.metadata.name === name && (each.metadata.namespace ?? 'default') === namespace);
    const uid = pod?.metadata.uid;
    if (pod === undefined || uid === undefined || uid === '') return { outcome: { outcome: 'not-found' }, raced: false };
    const refusal = (decision: EvictionDecision): EvictionOutcome | undefined =>
      decision.verdict === 'multiple-budgets'
        ? { outcome: 'multiple-budgets', budgets: decision.budgets }
        : decision.verdict === 'refuse'
          ? { outcome: 'refused', budget: decision.budget, desiredHealthy: decision.desiredHealthy, currentHealthy: decision.currentHealthy }
          : undefined;
    const decision = await this.#decide(pod, this.#deps.localPods());
    const refused = refusal(decision);
    if (refused !== undefined) return { outcome: refused, raced: false };
    const record = { namespace, name, at: apiTime(this.#deps.now?.() ?? new Date()), ...(gracePeriodSeconds === undefined ? {} : { gracePeriodSeconds }) };
    if (decision.verdict === 'allow' && decision.why === 'budget allows' && this.#deps.peers.length > 0) {
      state.markPending(uid, record);
      try {
        // This pod as it was (not marked), every other pod as it is now.
        const others = this.#deps.localPods().map((each) => (each.metadata.uid === uid ? pod : each));
        const recheck = refusal(await this.#decide(pod, others));
        if (recheck !== undefined) return { outcome: recheck, raced: true };
        await state.recordEviction(uid, record);
      } finally {
        state.clearPending(uid);
      }
    } else {
      await state.recordEviction(uid, record);
    }
    this.#deps.onChange();
    return { outcome: { outcome: 'evicted' }, raced: false };
  }

  /** Cordons (true) or uncordons (false) the node, persisted before it resolves. */
  async setUnschedulable(unschedulable: boolean): Promise<void> {
    await this.#deps.state.setUnschedulable(unschedulable);
    this.#deps.onChange();
  }
}
