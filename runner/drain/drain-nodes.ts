/**
 * The drain loop, as kubectl drain runs it (kubernetes/kubernetes
 * staging/src/k8s.io/kubectl/pkg/cmd/drain/drain.go at 1c9cf914, RunDrain;
 * staging/src/k8s.io/kubectl/pkg/drain/drain.go at 168c15a3, evictPods and waitForDelete):
 * cordon every node first; then evict every pod of those nodes that has not
 * finished, all at once; a 429 (a disruption budget says not now) is retried
 * every 5 s; a 404 means the pod is already gone; any other refusal ends that
 * pod's eviction with an error; an accepted eviction is followed by polling
 * (every 1 s) until the pod has finished or left /pods, or another pod with
 * the same name (another UID) took its place. `timeoutMs` bounds the whole
 * run (0: none). Interruption stops every loop at once; nodes stay cordoned,
 * as kubectl leaves them.
 * Differences from kubectl: the kubelets are named by URL, not as nodes of an
 * API server; pods of all nodes are evicted together (kubectl drains one
 * node after another), because a budget may span several of the nodes; a
 * node that could not be cordoned is not drained (kubectl reports the cordon
 * error and drains it anyway).
 */
import { systemClock, type Clock } from './drain-clock.js';
import { blockingBudgetOf, type BlockingBudget } from './disruption-budget-cause.js';
import { setNodesUnschedulable, type NodeScheduleResult } from './cordon-nodes.js';
import type { KubeletClient } from './kubelet-client.js';
import { KubeletClientError } from './kubelet-client-error.js';
import { isTerminalPod, podNamespace } from './kubelet-objects.js';

/** kubectl's wait between two evictions a budget refused (drain.go: time.Sleep(5 * time.Second)). */
export const evictionRetryIntervalMs = 5000;
/** kubectl's poll period while an evicted pod terminates (drain.go waitForDeleteParams.interval). */
export const terminationPollIntervalMs = 1000;

/** One pod drain acts on. */
export interface PodReference {
  readonly namespace: string;
  readonly name: string;
  readonly uid: string | undefined;
  readonly node: string;
  readonly kubelet: string;
}

/** What became of one pod. */
export type PodDrainResult = {
  readonly pod: PodReference;
  /** Eviction requests sent. */
  readonly attempts: number;
} & (
  | { readonly outcome: 'evicted' }
  /** 404 on eviction: the pod had already left. */
  | { readonly outcome: 'already gone' }
  /** Still refused with 429 when the run ended (timeout or interruption). */
  | { readonly outcome: 'blocked'; readonly budget: BlockingBudget }
  /** Eviction accepted, but the pod had not finished when the run ended. */
  | { readonly outcome: 'terminating' }
  /** A refusal other than 429, or a kubelet that stopped answering. */
  | { readonly outcome: 'failed'; readonly message: string }
  /** The run ended before the first answer came. */
  | { readonly outcome: 'not evicted' }
);

/** Everything a drain did. */
export interface DrainResult {
  /** One per kubelet, in the order given. */
  readonly nodes: readonly NodeScheduleResult[];
  /** Kubelets whose pods could not be listed after the cordon. */
  readonly listFailures: readonly { readonly kubelet: string; readonly node: string; readonly message: string }[];
  readonly pods: readonly PodDrainResult[];
  /** `done`: every loop ended on its own; `timeout` / `interrupted`: cut short. */
  readonly ended: 'done' | 'timeout' | 'interrupted';
  readonly elapsedMs: number;
}

/** Settings of a drain. */
export interface DrainOptions {
  readonly kubelets: readonly KubeletClient[];
  /** Bound of the whole drain in milliseconds; 0 means none. */
  readonly timeoutMs: number;
  /** Sent as deleteOptions.gracePeriodSeconds; undefined leaves each pod its own. */
  readonly gracePeriodSeconds?: number | undefined;
  /** Wait after a 429; {@link evictionRetryIntervalMs} unless a test says otherwise. */
  readonly retryIntervalMs?: number;
  /** Poll period while an evicted pod terminates; {@link terminationPollIntervalMs} by default. */
  readonly pollIntervalMs?: number;
  readonly clock?: Clock;
  /** Aborting it (Ctrl-C) ends the drain at once. */
  readonly signal?: AbortSignal;
  /** Progress lines, as they happen. */
  readonly log?: (line: string) => void;
}

/** Whether the result means every node is cordoned and empty of unfinished pods. */
export function drainSucceeded(result: DrainResult): boolean {
  return (
    result.ended === 'done' &&
    result.listFailures.length === 0 &&
    result.nodes.every((node) => node.outcome !== 'failed') &&
    result.pods.every((pod) => pod.outcome === 'evicted' || pod.outcome === 'already gone')
  );
}

/** `namespace/name`, as messages name pods. */
export function podLabel(pod: PodReference): string {
  return `${pod.namespace}/${pod.name}`;
}

interface DrainContext {
  readonly clock: Clock;
  readonly deadline: number;
  readonly retryIntervalMs: number;
  readonly pollIntervalMs: number;
  readonly gracePeriodSeconds: number | undefined;
  readonly signal: AbortSignal | undefined;
  readonly log: (line: string) => void;
}

const timedOut = (context: DrainContext): boolean => context.clock.now() >= context.deadline;
const interrupted = (context: DrainContext): boolean => context.signal?.aborted === true;
/**
 * The signal for one kubelet call: the caller's, and also the deadline, so a
 * kubelet that hangs at the timeout does not hold the drain past it.
 */
function callSignal(context: DrainContext): AbortSignal | undefined {
  if (context.deadline === Number.POSITIVE_INFINITY) return context.signal;
  const deadline = AbortSignal.timeout(Math.max(1, Math.ceil(context.deadline - context.clock.now())));
  return context.signal === undefined ? deadline : AbortSignal.any([context.signal, deadline]);
}
/** Whether a failed call was cut by the interruption or the deadline rather than by the kubelet. */
const cutShort = (context: DrainContext, error: unknown): boolean => interrupted(context) || timedOut(context) || (error instanceof KubeletClientError && error.code === 'aborted');
/** How long to sleep so that a wait never runs past the deadline. */
const sleepBound = (context: DrainContext, interval: number): number => Math.max(0, Math.min(interval, context.deadline - context.clock.now()));

/** Evicts one pod and waits for it to finish; never throws. */
async function drainPod(client: KubeletClient, pod: PodReference, context: DrainContext): Promise<PodDrainResult> {
  let attempts = 0;
  let refusal: BlockingBudget | undefined;
  const label = podLabel(pod);
  const endedEarly = (): PodDrainResult => (refusal === undefined ? { pod, attempts, outcome: 'not evicted' } : { pod, attempts, outcome: 'blocked', budget: refusal });
  // Phase 1: ask until the kubelet accepts, says the pod is gone, or refuses for good.
  for (;;) {
    if (interrupted(context) || timedOut(context)) return endedEarly();
    context.log(`evicting pod ${label} (node/${pod.node})`);
    attempts += 1;
    let answer;
    try {
      answer = await client.evictPod({ namespace: pod.namespace, name: pod.name, gracePeriodSeconds: context.gracePeriodSeconds }, callSignal(context));
    } catch (error) {
      if (cutShort(context, error)) return endedEarly();
      const failure = KubeletClientError.from(error, client.url);
      context.log(`error when evicting pod ${label}: ${failure.message}`);
      return { pod, attempts, outcome: 'failed', message: failure.message };
    }
    if (answer.outcome === 'accepted') break;
    if (answer.outcome === 'not-found') {
      context.log(`pod ${label} is already gone`);
      return { pod, attempts, outcome: 'already gone' };
    }
    if (answer.outcome === 'refused') {
      const message = `kubelet ${client.url}: eviction refused: ${answer.message}`;
      context.log(`error when evicting pod ${label}: ${message}`);
      return { pod, attempts, outcome: 'failed', message };
    }
    refusal = blockingBudgetOf(answer.status);
    const said = answer.status?.message === undefined || answer.status.message === refusal.message ? refusal.message : `${answer.status.message} ${refusal.message}`;
    context.log(`error when evicting pod ${label} (will retry after ${formatSeconds(context.retryIntervalMs)}): ${said}`);
    await context.clock.sleep(sleepBound(context, context.retryIntervalMs), context.signal);
  }
  // Phase 2: the eviction is accepted; wait until the pod has finished or is gone.
  for (;;) {
    let pods;
    try {
      pods = await client.listPods(callSignal(context));
    } catch (error) {
      if (cutShort(context, error)) return { pod, attempts, outcome: 'terminating' };
      const failure = KubeletClientError.from(error, client.url);
      const message = `evicted, but waiting for it to terminate failed: ${failure.message}`;
      context.log(`error when waiting for pod ${label} to terminate: ${failure.message}`);
      return { pod, attempts, outcome: 'failed', message };
    }
    const current = pods.find((candidate) => candidate.metadata.name === pod.name && podNamespace(candidate) === pod.namespace);
    const finished = current === undefined || (pod.uid !== undefined && current.metadata.uid !== undefined && current.metadata.uid !== pod.uid) || isTerminalPod(current);
    if (finished) {
      context.log(`pod ${label} evicted`);
      return { pod, attempts, outcome: 'evicted' };
    }
    if (interrupted(context) || timedOut(context)) return { pod, attempts, outcome: 'terminating' };
    await context.clock.sleep(sleepBound(context, context.pollIntervalMs), context.signal);
  }
}

function formatSeconds(milliseconds: number): string {
  return milliseconds % 1000 === 0 ? `${milliseconds / 1000}s` : `${milliseconds}ms`;
}

/** Cordons every node, then evicts every unfinished pod on them; never throws. */
export async function drainNodes(options: DrainOptions): Promise<DrainResult> {
  const clock = options.clock ?? systemClock;
  const started = clock.now();
  const context: DrainContext = {
    clock,
    deadline: options.timeoutMs > 0 ? started + options.timeoutMs : Number.POSITIVE_INFINITY,
    retryIntervalMs: options.retryIntervalMs ?? evictionRetryIntervalMs,
    pollIntervalMs: options.pollIntervalMs ?? terminationPollIntervalMs,
    gracePeriodSeconds: options.gracePeriodSeconds,
    signal: options.signal,
    log: options.log ?? (() => undefined),
  };
  const nodes = await setNodesUnschedulable({ kubelets: options.kubelets, unschedulable: true, ...(options.signal === undefined ? {} : { signal: options.signal }), log: context.log });

  // List each cordoned node's pods; a node whose cordon failed is left alone.
  const listFailures: { kubelet: string; node: string; message: string }[] = [];
  const workPerKubelet: { client: KubeletClient; pod: PodReference }[][] = options.kubelets.map(() => []);
  await Promise.all(
    options.kubelets.map(async (client, index) => {
      const node = nodes[index];
      if (node === undefined || node.outcome === 'failed' || node.node === undefined) return;
      try {
        const pods = await client.listPods(options.signal);
        for (const pod of pods) {
          if (isTerminalPod(pod)) continue;
          workPerKubelet[index]?.push({ client, pod: { namespace: podNamespace(pod), name: pod.metadata.name, uid: pod.metadata.uid, node: node.node, kubelet: client.url } });
        }
      } catch (error) {
        if (interrupted(context)) return;
        const failure = KubeletClientError.from(error, client.url);
        context.log(`error: unable to list the pods of node/${node.node}: ${failure.message}`);
        listFailures.push({ kubelet: client.url, node: node.node, message: failure.message });
      }
    }),
  );
  const work = workPerKubelet.flat();
  const pods = await Promise.all(work.map(({ client, pod }) => drainPod(client, pod, context)));
  const ended = interrupted(context) ? 'interrupted' : pods.some((pod) => pod.outcome === 'blocked' || pod.outcome === 'terminating' || pod.outcome === 'not evicted') ? 'timeout' : 'done';
  return { nodes, listFailures, pods, ended, elapsedMs: clock.now() - started };
}
