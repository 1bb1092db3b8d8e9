/**
 * The multi-node drain demonstration (issue 7) on a simulated cluster
 * started with `peerKubelets`: an app of three pods under a disruption
 * budget of minAvailable 2 written to every node, `kubeplug drain` of the
 * first node run as a child process, the caller playing the controller
 * that starts a replacement on another node. Shared by the test, which
 * asserts on the record it returns, and `npm run demo:multinode`, which
 * prints its steps.
 *
 * Placement: two of the app's pods on the drained node, one on the third
 * node. With upstream's arithmetic a budget of minAvailable 2 over three
 * healthy pods allows one disruption, so a drain of a node holding one pod
 * would never wait; holding two, its first eviction is allowed and the
 * second is refused (429) until the replacement on the second node is
 * Ready, which is the blocking the demonstration is about.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { setTimeout as sleep } from 'node:timers/promises';
import type { PodDisruptionBudget, PodDisruptionBudgetList, PodDisruptionBudgetStatus } from '../../kubelet/api/disruption-types.js';
import type { Pod } from '../../kubelet/api/pod-types.js';
import { exitsWithin, hasExited, stopChild } from '../peers/child-exit.js';
import { appPod, clusterPods, reachAcrossNodes, sharedPodIps, type PlacedPod, type Reach } from './cluster-app.js';
import type { ClusterNode, KubeletCluster } from './kubelet-cluster.js';
import { httpGetOverSocket, httpRequestOverSocket } from './read-only-port.js';
import { kubeplugCliPath } from './run-config.js';

/** The app's labels, which the budget selects. */
export const demoAppLabels = { app: 'web' } as const;

/** The budget the demonstration writes to every node. */
export const demoBudget: PodDisruptionBudget = {
  apiVersion: 'policy/v1',
  kind: 'PodDisruptionBudget',
  metadata: { name: 'web', namespace: 'default' },
  spec: { minAvailable: 2, selector: { matchLabels: { ...demoAppLabels } } },
};

/** A pod's state in a phase of the demonstration. */
export interface PodState {
  /** `node-a/web-0`. */
  readonly pod: string;
  readonly ip: string;
  readonly phase: string;
  readonly reason?: string;
  readonly ready: boolean;
}

/** What one look at the cluster saw. */
export interface ClusterLook {
  readonly pods: readonly PodState[];
  /** Cross-node requests between the app's Ready pods. */
  readonly reach: readonly Reach[];
  /** IPs held by two pods at once (none expected). */
  readonly sharedIps: readonly string[];
  /** The budget's status as the drained node's kubelet computes it (undefined if it does not serve it). */
  readonly budget?: PodDisruptionBudgetStatus;
}

/** Everything the demonstration saw, for the test to judge. */
export interface DrainDemoRecord {
  readonly drainedNode: string;
  readonly replacementNode: string;
  readonly before: ClusterLook;
  /** While the drain waits: its state, one look, and an eviction the caller sent itself for the pod still running. */
  readonly blocked: ClusterLook & {
    readonly drainRunning: boolean;
    /** The pod of the drained node still running, and the one already evicted. */
    readonly waitingPod: string;
    readonly evictedPod: string;
    readonly refusalLines: readonly string[];
    readonly directEviction: { readonly status: number; readonly body: unknown };
  };
  readonly replacement: PodState;
  readonly after: ClusterLook & { readonly drainExitCode: number | null; readonly drainStdout: string; readonly drainStderr: string };
  /** Milliseconds from the drain's start: blocked seen, replacement Ready, drain ended. */
  readonly timeline: { readonly blockedAtMs: number; readonly replacementReadyAtMs: number; readonly drainEndedAtMs: number };
}

/** How the demonstration runs. */
export interface DrainDemoOptions {
  readonly cluster: KubeletCluster;
  /** Each step in a sentence, as it happens. */
  readonly step?: (line: string) => void;
  /** Registers an undo with the caller's cleanup (the drain process's stop), run even when the demonstration throws. */
  readonly defer: (undo: () => Promise<unknown>, label: string) => void;
  /** `kubeplug drain --timeout`, in seconds; 120 when unset. */
  readonly drainTimeoutSeconds?: number;
  /** How long any one wait (pods Ready, the drain blocking) may take; 180 s when unset. */
  readonly waitMs?: number;
}

/** A step could not be reached; the message says which and what was seen last. */
export class DrainDemoError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'DrainDemoError';
  }
}

const isReady = (pod: Pod): boolean => pod.status?.conditions?.some((condition) => condition.type === 'Ready' && condition.status === 'True') === true;

/** Polls `look` until it returns a value or `waitMs` passes. */
async function waitFor<T>(what: string, waitMs: number, look: () => Promise<T | undefined>, lastSeen: () => string): Promise<T> {
  const until = Date.now() + waitMs;
  for (;;) {
    const found = await look();
    if (found !== undefined) return found;
    if (Date.now() > until) throw new DrainDemoError(`${what}: not within ${Math.round(waitMs / 1000)} s; last seen: ${lastSeen()}`);
    await sleep(300);
  }
}

/** The budget's status as a node's kubelet serves it. */
async function budgetSeenBy(node: ClusterNode): Promise<PodDisruptionBudgetStatus | undefined> {
  const answer = await httpGetOverSocket(node.readOnlySocket, '/poddisruptionbudgets', 10_000).catch(() => undefined);
  if (answer?.status !== 200) return undefined;
  const list = JSON.parse(answer.body) as PodDisruptionBudgetList;
  return list.items.find((budget) => budget.metadata.name === demoBudget.metadata.name)?.status;
}

/** The demonstration's driver: the cluster, what it placed, and the drain process. */
class DrainDemo {
  readonly placed: PlacedPod[] = [];
  private lastPods = '';

  constructor(
    private readonly options: DrainDemoOptions,
    readonly drained: ClusterNode,
  ) {}

  step(line: string): void {
    this.options.step?.(line);
  }

  get waitMs(): number {
    return this.options.waitMs ?? 180_000;
  }

  /** Writes an app pod on a node and waits until it is Ready. */
  async placePod(node: ClusterNode, name: string): Promise<PlacedPod> {
    await node.kubelet.writeManifest(`${name}.json`, appPod({ name, image: this.options.cluster.images.busybox, labels: demoAppLabels }));
    const pod = await node.kubelet.waitForPod(name, isReady, this.waitMs, 'Ready');
    const placed = { node, name, ip: pod.status?.podIP ?? '' };
    this.placed.push(placed);
    return placed;
  }

  /** Every placed pod's state now, keyed `node/name`. */
  async podStates(): Promise<PodState[]> {
    const seen = await clusterPods(this.options.cluster);
    const states = this.placed.map((placed): PodState => {
      const pod = seen.find((entry) => entry.node === placed.node && entry.pod.metadata.name === `${placed.name}-${placed.node.name}`)?.pod;
      return {
        pod: `${placed.node.name}/${placed.name}`,
        ip: pod?.status?.podIP ?? placed.ip,
        phase: pod?.status?.phase ?? 'gone',
        ...(pod?.status?.reason === undefined ? {} : { reason: pod.status.reason }),
        ready: pod !== undefined && isReady(pod),
      };
    });
    states.sort((a, b) => a.pod.localeCompare(b.pod));
    this.lastPods = states.map((state) => `${state.pod} ${state.phase}${state.reason === undefined ? '' : `/${state.reason}`}${state.ready ? ' Ready' : ''}`).join(', ');
    return states;
  }

  describePods(): string {
    return this.lastPods;
  }

  /** One look: pod states, cross-node requests between the Ready ones, shared IPs, the budget. */
  async look(label: string): Promise<ClusterLook> {
    const pods = await this.podStates();
    const live = this.placed.filter((placed) => pods.find((state) => state.pod === `${placed.node.name}/${placed.name}`)?.ready === true);
    const reach = await reachAcrossNodes(live);
    const sharedIps = sharedPodIps(await clusterPods(this.options.cluster));
    const budget = await budgetSeenBy(this.drained);
    const reached = reach.filter((outcome) => outcome.ok).length;
    this.step(
      `${label}: ${this.describePods()}; cross-node requests ${reached}/${reach.length} answered by the right pod with the caller's own IP as source; ` +
        `IPs shared: ${sharedIps.length === 0 ? 'none' : sharedIps.join('; ')}; ` +
        `budget web: ${budget === undefined ? 'not served' : `currentHealthy ${budget.currentHealthy}, desiredHealthy ${budget.desiredHealthy}, disruptionsAllowed ${budget.disruptionsAllowed}`}`,
    );
    return { pods, reach, sharedIps, ...(budget === undefined ? {} : { budget }) };
  }
}

/** Output of a child kept whole. */
interface RunningDrain {
  readonly child: ChildProcess;
  readonly startedAt: number;
  stdout(): string;
  stderr(): string;
}

function startDrain(options: DrainDemoOptions, drained: ClusterNode): RunningDrain {
  const args = [kubeplugCliPath(), 'drain', '--kubelet', drained.url, '--timeout', `${options.drainTimeoutSeconds ?? 120}s`];
  const child = spawn(process.execPath, args, { stdio: ['ignore', 'pipe', 'pipe'] });
  child.on('error', () => undefined); // seen through the exit code and stderr
  options.defer(() => stopChild(child, 5000, 'kubeplug drain'), 'stop kubeplug drain');
  let stdout = '';
  let stderr = '';
  child.stdout?.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
  let partial = '';
  child.stderr?.on('data', (chunk: Buffer) => {
    stderr += chunk.toString();
    const lines = (partial + chunk.toString()).split('\n');
    partial = lines.pop() ?? '';
    for (const line of lines) if (line.trim() !== '') options.step?.(`  kubeplug drain: ${line}`);
  });
  return { child, startedAt: Date.now(), stdout: () => stdout, stderr: () => stderr };
}

/** Drain lines saying an eviction of `servedName` was refused and will be retried. */
function refusalsOf(stderr: string, servedName: string): string[] {
  return stderr.split('\n').filter((line) => line.includes(`default/${servedName}`) && /will retry/.test(line));
}

/**
 * Runs the demonstration on a started cluster of at least three nodes
 * (the first is drained, the second gets the replacement) and returns what
 * it saw. Throws {@link DrainDemoError} when a step is not reached in time.
 */
export async function runDrainDemo(options: DrainDemoOptions): Promise<DrainDemoRecord> {
  const [drained, spare, third] = options.cluster.nodes;
  if (drained === undefined || spare === undefined || third === undefined) throw new DrainDemoError('the demonstration needs a cluster of three nodes');
  const demo = new DrainDemo(options, drained);

  demo.step(`writing PodDisruptionBudget web (minAvailable 2, selector app=web) to the manifest folder of ${options.cluster.nodes.map((node) => node.name).join(', ')}`);
  await Promise.all(options.cluster.nodes.map((node) => node.kubelet.writeManifest('web-pdb.json', demoBudget)));
  demo.step(`starting the app: web-0 and web-1 on ${drained.name}, web-2 on ${third.name}`);
  await Promise.all([demo.placePod(drained, 'web-0'), demo.placePod(drained, 'web-1'), demo.placePod(third, 'web-2')]);
  const before = await demo.look('before the drain');

  demo.step(`running kubeplug drain --kubelet ${drained.url} --timeout ${options.drainTimeoutSeconds ?? 120}s`);
  const drain = startDrain(options, drained);
  const ownPods = demo.placed.filter((placed) => placed.node === drained);
  // Blocked: one of the drained node's pods evicted, the other still running and refused at least twice (a retry after 5 s).
  const { waiting, evicted } = await waitFor(
    'the drain evicts one pod and is refused the other',
    demo.waitMs,
    async () => {
      if (hasExited(drain.child)) throw new DrainDemoError(`kubeplug drain ended (exit ${drain.child.exitCode}) before it was refused; stderr:\n${drain.stderr()}\nstdout:\n${drain.stdout()}`);
      const states = await demo.podStates();
      const stateOf = (placed: PlacedPod): PodState | undefined => states.find((state) => state.pod === `${placed.node.name}/${placed.name}`);
      const evictedPod = ownPods.find((placed) => stateOf(placed)?.reason === 'Evicted');
      const waitingPod = ownPods.find((placed) => placed !== evictedPod && stateOf(placed)?.phase === 'Running');
      if (evictedPod === undefined || waitingPod === undefined) return undefined;
      return refusalsOf(drain.stderr(), `${waitingPod.name}-${drained.name}`).length >= 2 ? { waiting: waitingPod, evicted: evictedPod } : undefined;
    },
    () => `${demo.describePods()}; drain stderr: ${drain.stderr().split('\n').slice(-4).join(' | ')}`,
  );
  const blockedAtMs = Date.now() - drain.startedAt;
  demo.step(`the drain is blocked: ${drained.name}/${evicted.name} was evicted, ${drained.name}/${waiting.name} is refused by the budget`);
  const servedName = `${waiting.name}-${drained.name}`;
  const eviction = await httpRequestOverSocket(drained.readOnlySocket, {
    method: 'POST',
    path: `/api/v1/namespaces/default/pods/${servedName}/eviction`,
    body: { apiVersion: 'policy/v1', kind: 'Eviction', metadata: { name: servedName, namespace: 'default' } },
    timeoutMs: 10_000,
  });
  const directEviction = { status: eviction.status, body: JSON.parse(eviction.body) as unknown };
  demo.step(`an eviction of ${servedName} sent by hand answers ${eviction.status}: ${(directEviction.body as { message?: string }).message ?? eviction.body}`);
  const blockedLook = await demo.look('while the drain waits');
  const blocked = {
    ...blockedLook,
    drainRunning: !hasExited(drain.child),
    waitingPod: `${drained.name}/${waiting.name}`,
    evictedPod: `${drained.name}/${evicted.name}`,
    refusalLines: refusalsOf(drain.stderr(), servedName),
    directEviction,
  };

  demo.step(`playing the controller: starting the replacement web-3 on ${spare.name}`);
  await demo.placePod(spare, 'web-3');
  const replacementReadyAtMs = Date.now() - drain.startedAt;
  const replacement = (await demo.podStates()).find((state) => state.pod === `${spare.name}/web-3`) as PodState;
  demo.step(`${spare.name}/web-3 is Ready at ${replacement.ip}; waiting for the drain to finish`);
  const drainWaitMs = (options.drainTimeoutSeconds ?? 120) * 1000 + 30_000;
  if (!(await exitsWithin(drain.child, drainWaitMs))) throw new DrainDemoError(`kubeplug drain still runs ${Math.round(drainWaitMs / 1000)} s after the replacement was Ready; stderr:\n${drain.stderr()}`);
  const drainEndedAtMs = Date.now() - drain.startedAt;
  demo.step(`kubeplug drain exited ${drain.child.exitCode}: ${drain.stdout().trim()}`);
  const afterLook = await demo.look('after the drain');
  return {
    drainedNode: drained.name,
    replacementNode: spare.name,
    before,
    blocked,
    replacement,
    after: { ...afterLook, drainExitCode: drain.child.exitCode, drainStdout: drain.stdout(), drainStderr: drain.stderr() },
    timeline: { blockedAtMs, replacementReadyAtMs, drainEndedAtMs },
  };
}

/** What in a record falls short of the demonstration's claims, one sentence each; empty when it all held. */
export function drainDemoShortfalls(record: DrainDemoRecord): string[] {
  const looks: [string, ClusterLook][] = [
    ['before the drain', record.before],
    ['while the drain waited', record.blocked],
    ['after the drain', record.after],
  ];
  const problems = looks.flatMap(([when, look]) => [
    ...look.reach.filter((outcome) => !outcome.ok).map((outcome) => `${when}: ${outcome.path} failed: ${outcome.detail ?? ''}`),
    ...look.sharedIps.map((shared) => `${when}: IP shared by two pods: ${shared}`),
  ]);
  if (!record.blocked.drainRunning) problems.push('the drain did not wait for the budget');
  if (record.blocked.directEviction.status !== 429) problems.push(`an eviction while blocked answered ${record.blocked.directEviction.status}, not 429`);
  if (record.after.drainExitCode !== 0) problems.push(`kubeplug drain exited ${record.after.drainExitCode}, not 0`);
  const notEvicted = record.after.pods.filter((pod) => pod.pod.startsWith(`${record.drainedNode}/`) && pod.reason !== 'Evicted');
  if (notEvicted.length > 0) problems.push(`not evicted: ${notEvicted.map((pod) => `${pod.pod} (${pod.phase})`).join(', ')}`);
  return problems;
}
