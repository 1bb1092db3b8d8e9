/**
 * The prober: one worker per (CRI container, probe kind), each probing on its
 * own period and folding outcomes into a tally through the kubelet's parts,
 * as upstream's prober manager and workers do (kubernetes/kubernetes v1.34
 * pkg/kubelet/prober/prober_manager.go, worker.go, prober.go). Verdicts are
 * kept by container ID for O(1) lookups; a verdict change is announced so
 * the pod syncs at once.
 */
import type { RuntimeServiceClient } from '../../specs/cri/index.js';
import type { Container, Pod, Probe } from '../api/pod-types.js';
import type { EventSink } from '../events/event-sink.js';
import type { KubeletParts, ObservedContainer, ProbeKind, ProbeState, ProbeTally } from '../kubelet-parts.js';
import type { ProbeManager } from './probe-manager-contract.js';
import { runProbeHandler, type ProbeAttempt, type ProbeTarget } from './probe-runner.js';

/** What the prober needs. */
export interface ProbeManagerDeps {
  /** For exec probes (ExecSync). */
  readonly runtime: RuntimeServiceClient;
  readonly parts: Pick<KubeletParts, 'initialProbeVerdict' | 'tallyProbe' | 'mayProbe'>;
  readonly events: EventSink;
  /** ms since the epoch; Date.now when unset. */
  readonly now?: () => number;
  /** Runs one attempt; the real runners when unset (tests may count or script attempts). */
  readonly runProbe?: (probe: Probe, target: ProbeTarget) => Promise<ProbeAttempt>;
}

/** The state of a container the prober does not know (not running, or not synced yet). */
const unknownContainer: ProbeState = { started: false, ready: false, livenessFailed: false, startupFailed: false };

const probeKinds: readonly ProbeKind[] = ['startup', 'liveness', 'readiness'];

const probeKindTitle: Readonly<Record<ProbeKind, string>> = { liveness: 'Liveness', readiness: 'Readiness', startup: 'Startup' };

function probeOf(container: Container, kind: ProbeKind): Probe | undefined {
  if (kind === 'liveness') return container.livenessProbe;
  if (kind === 'readiness') return container.readinessProbe;
  return container.startupProbe;
}

/** The spec container a running CRI container belongs to, with the field path events name it by. */
function specContainerOf(pod: Pod, name: string): { container: Container; fieldPath: string } | undefined {
  const app = pod.spec.containers.find((candidate) => candidate.name === name);
  if (app !== undefined) return { container: app, fieldPath: `spec.containers{${name}}` };
  // Only sidecars (restartable init containers) take probes; validation refuses them elsewhere.
  const sidecar = pod.spec.initContainers?.find((candidate) => candidate.name === name && candidate.restartPolicy === 'Always');
  if (sidecar !== undefined) return { container: sidecar, fieldPath: `spec.initContainers{${name}}` };
  return undefined;
}

interface ProbeWorker {
  readonly kind: ProbeKind;
  readonly probe: Probe;
  tally: ProbeTally;
  timer: NodeJS.Timeout | undefined;
  /** Liveness or startup reached failure: no more attempts for this container (a new container gets a new worker). */
  onHold: boolean;
}

interface ContainerEntry {
  readonly containerId: string;
  readonly podUid: string;
  readonly fieldPath: string;
  readonly container: Container;
  readonly startedAt: number;
  pod: Pod;
  podIp: string | undefined;
  startupSucceeded: boolean;
  readonly workers: Map<ProbeKind, ProbeWorker>;
  state: ProbeState;
  stopped: boolean;
}

function stateOf(entry: ContainerEntry): ProbeState {
  const startup = entry.workers.get('startup');
  const readiness = entry.workers.get('readiness');
  const liveness = entry.workers.get('liveness');
  const started = startup === undefined || entry.startupSucceeded;
  return {
    started,
    ready: started && (readiness === undefined || readiness.tally.verdict === 'success'),
    livenessFailed: liveness?.tally.verdict === 'failure',
    startupFailed: startup?.tally.verdict === 'failure',
  };
}

function sameState(a: ProbeState, b: ProbeState): boolean {
  return a.started === b.started && a.ready === b.ready && a.livenessFailed === b.livenessFailed && a.startupFailed === b.startupFailed;
}

/** Creates the prober; {@link ProbeManager.close} stops every worker. */
export function createProbeManager(deps: ProbeManagerDeps): ProbeManager {
  const now = deps.now ?? Date.now;
  const runProbe = deps.runProbe ?? ((probe: Probe, target: ProbeTarget) => runProbeHandler(deps.runtime, probe, target));
  const containers = new Map<string, ContainerEntry>();
  const containersOfPod = new Map<string, Set<string>>();
  const listeners: ((podUid: string) => void)[] = [];
  let closed = false;

  const announce = (podUid: string): void => {
    for (const listener of listeners) {
      try {
        listener(podUid);
      } catch {
        // A listener's failure is its own; the prober goes on.
      }
    }
  };

  const refresh = (entry: ContainerEntry): void => {
    const next = stateOf(entry);
    if (sameState(next, entry.state)) return;
    entry.state = next;
    announce(entry.podUid);
  };

  const schedule = (entry: ContainerEntry, worker: ProbeWorker, delayMs: number): void => {
    if (entry.stopped || closed) return;
    worker.timer = setTimeout(() => void attempt(entry, worker), Math.max(0, delayMs));
    worker.timer.unref();
  };

  const attempt = async (entry: ContainerEntry, worker: ProbeWorker): Promise<void> => {
    worker.timer = undefined;
    if (entry.stopped || closed || worker.onHold) return;
    const periodMs = (worker.probe.periodSeconds ?? 10) * 1000;
    // Startup gates liveness and readiness (and a started container's startup probe rests).
    if (!deps.parts.mayProbe(worker.kind, entry.startupSucceeded || !entry.workers.has('startup'))) {
      schedule(entry, worker, periodMs);
      return;
    }
    const dueAt = entry.startedAt + (worker.probe.initialDelaySeconds ?? 0) * 1000;
    if (now() < dueAt) {
      schedule(entry, worker, dueAt - now());
      return;
    }
    const attemptStartedAt = now();
    const result = await runProbe(worker.probe, {
      container: entry.container,
      containerId: entry.containerId,
      podIp: entry.podIp,
      timeoutSeconds: worker.probe.timeoutSeconds ?? 1,
    });
    if (entry.stopped || closed) return;
    if (result.outcome === 'failure') {
      deps.events.record(entry.pod, entry.fieldPath, 'Warning', 'Unhealthy', `${probeKindTitle[worker.kind]} probe failed: ${result.output.trim()}`);
    }
    worker.tally = deps.parts.tallyProbe(worker.tally, result.outcome, {
      successThreshold: worker.probe.successThreshold ?? 1,
      failureThreshold: worker.probe.failureThreshold ?? 3,
    });
    if (worker.kind === 'startup' && result.outcome === 'success' && worker.tally.verdict === 'success') entry.startupSucceeded = true;
    // As upstream's worker: a failed liveness or startup verdict holds until the container is replaced.
    if (worker.kind !== 'readiness' && worker.tally.verdict === 'failure') worker.onHold = true;
    refresh(entry);
    // Like upstream's ticker: periods are counted from each attempt's start, so a slow probe does not stretch them.
    schedule(entry, worker, periodMs - (now() - attemptStartedAt));
  };

  const stopEntry = (entry: ContainerEntry): void => {
    entry.stopped = true;
    for (const worker of entry.workers.values()) {
      if (worker.timer !== undefined) clearTimeout(worker.timer);
      worker.timer = undefined;
    }
    containers.delete(entry.containerId);
  };

  const addEntry = (pod: Pod, podUid: string, podIp: string | undefined, observed: ObservedContainer): ContainerEntry | undefined => {
    const found = specContainerOf(pod, observed.name);
    if (found === undefined) return undefined;
    const entry: ContainerEntry = {
      containerId: observed.id,
      podUid,
      fieldPath: found.fieldPath,
      container: found.container,
      startedAt: observed.startedAt > 0 ? observed.startedAt : now(),
      pod,
      podIp,
      startupSucceeded: false,
      workers: new Map(),
      state: unknownContainer,
      stopped: false,
    };
    for (const kind of probeKinds) {
      const probe = probeOf(found.container, kind);
      if (probe === undefined) continue;
      entry.workers.set(kind, { kind, probe, tally: { verdict: deps.parts.initialProbeVerdict(kind), consecutive: 0 }, timer: undefined, onHold: false });
    }
    entry.state = stateOf(entry);
    containers.set(observed.id, entry);
    for (const worker of entry.workers.values()) schedule(entry, worker, 0);
    return entry;
  };

  return {
    syncPod(pod, podIp, running) {
      if (closed) return;
      const podUid = pod.metadata.uid ?? '';
      const previous = containersOfPod.get(podUid) ?? new Set<string>();
      const current = new Set<string>();
      for (const observed of running) {
        if (observed.state !== 'running') continue;
        const existing = containers.get(observed.id);
        if (existing !== undefined) {
          existing.pod = pod;
          existing.podIp = podIp;
          current.add(observed.id);
        } else if (addEntry(pod, podUid, podIp, observed) !== undefined) {
          current.add(observed.id);
        }
      }
      for (const id of previous) {
        if (current.has(id)) continue;
        const entry = containers.get(id);
        if (entry !== undefined) stopEntry(entry);
      }
      if (current.size === 0) containersOfPod.delete(podUid);
      else containersOfPod.set(podUid, current);
    },
    lookup(containerId) {
      return containers.get(containerId)?.state ?? unknownContainer;
    },
    removePod(uid) {
      for (const id of containersOfPod.get(uid) ?? []) {
        const entry = containers.get(id);
        if (entry !== undefined) stopEntry(entry);
      }
      containersOfPod.delete(uid);
    },
    onChange(listener) {
      listeners.push(listener);
    },
    close() {
      closed = true;
      for (const entry of [...containers.values()]) stopEntry(entry);
      containersOfPod.clear();
      listeners.length = 0;
    },
  };
}
