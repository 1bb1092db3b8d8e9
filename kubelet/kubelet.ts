/**
 * The reference kubelet's wiring: static pod manifests in, CRI and CSI calls
 * out, /pods, /healthz and /events served. One level-triggered loop compares
 * what the manifests want with what CRI reports, every sync period and at
 * once when a manifest changes, a probe verdict flips or a back-off ends; the
 * pod workers (kubelet/runtime) act, the prober probes, and the status of
 * every pod is generated from a fresh observation. Nothing the kubelet needs
 * after a restart lives only here: it is all in CRI labels and annotations
 * and under --root-dir, so a new kubelet adopts what an old one started.
 * Upstream: kubernetes/kubernetes v1.34 pkg/kubelet/kubelet.go (syncLoop,
 * syncLoopIteration), pkg/kubelet/config/file.go (the file source).
 */
import fs from 'node:fs';
import { callUnary, createClient, criApiVersion, ImageServiceClient, RuntimeServiceClient, waitForConnection } from '../specs/cri/index.js';
import type { Pod, PodStatus } from './api/pod-types.js';
import { defaultKubeletParts } from './default-parts.js';
import { KubeletUrlError, parseKubeletUrl, type KubeletAddress } from './disruption/cluster-view.js';
import { DisruptionService } from './disruption/disruption-service.js';
import { DisruptionState } from './disruption/disruption-state.js';
import { evictedPodFailure, podStoppedRunning, withCordonCondition, withEvictionMarks } from './disruption/pod-marks.js';
import { createEventRecorder, type EventRecorder } from './events/event-recorder.js';
import type { KubeletParts, ObservedPod, ObservedSandbox } from './kubelet-parts.js';
import { describeManifestErrors, loadManifests, type ManifestLoad } from './manifest/index.js';
import { createProbeManager } from './prober/probe-manager.js';
import { observePods } from './runtime/observe-pods.js';
import { PodWorkers, type PodSyncResult } from './runtime/pod-worker.js';
import { startReadOnlyServer } from './server/read-only-server.js';
import { closeCsiClients, connectCsiDriver, type CsiClients } from './volumes/csi-clients.js';

/** How the kubelet runs (the `kubeplug kubelet` flags). */
export interface KubeletOptions {
  /** --pod-manifest-path: the static pod folder. */
  readonly podManifestPath: string;
  /** --container-runtime-endpoint: unix:///… of the CRI RuntimeService. */
  readonly containerRuntimeEndpoint: string;
  /** --image-service-endpoint; the runtime endpoint when unset. */
  readonly imageServiceEndpoint?: string;
  /** --csi-endpoint NAME=unix:///…, by driver name. */
  readonly csiEndpoints?: Readonly<Record<string, string>>;
  /** --root-dir: the kubelet's state folder (volumes, pod log folders). */
  readonly rootDir: string;
  /** --node-name. */
  readonly nodeName: string;
  /** --read-only-port; 0 picks a free port. */
  readonly readOnlyPort: number;
  /** --address the read-only port listens on; 0.0.0.0 when unset. */
  readonly address?: string;
  /** --read-only-socket: also serve the read-only endpoints on this unix socket (a kubeplug addition). */
  readonly readOnlySocket?: string;
  /** --max-container-restart-period in seconds; 300 when unset. */
  readonly maxContainerRestartPeriodSeconds?: number;
  /** --sync-frequency in seconds; 1 when unset. */
  readonly syncFrequencySeconds?: number;
  /** --cgroup-parent for pod sandboxes. */
  readonly cgroupParent?: string;
  /** status.hostIP; unset when undefined. */
  readonly hostIP?: string;
  /** Where diagnostics go (one line each); silent when unset. */
  readonly log?: (line: string) => void;
  /** How long to wait for the CRI endpoints at start; 10 s when unset. */
  readonly connectTimeoutMs?: number;
  /** --peer-kubelet URL (repeatable): the other nodes whose pods disruption budgets count (http://HOST:PORT or unix:///path). */
  readonly peerKubelets?: readonly string[];
}

/** A started kubelet. */
export interface RunningKubelet {
  /** The read-only port bound. */
  readonly port: number;
  readonly events: EventRecorder;
  /** Runs one sync round now (tests); resolves when it is done. */
  syncNow(): Promise<void>;
  /** Stops the loop, the prober and the server; pods keep running, as with a real kubelet. */
  close(): Promise<void>;
}

/** A start-up problem tied to one option (the CLI names the flag). */
export class KubeletOptionsError extends Error {
  readonly option: keyof KubeletOptions;
  constructor(option: keyof KubeletOptions, message: string) {
    super(message);
    this.name = 'KubeletOptionsError';
    this.option = option;
  }
}

/** Stands in for a manifest that could not be read as a pod, so its event has an object to name. */
function placeholderPod(file: string): Pod {
  return { metadata: { name: file, namespace: 'default', uid: '' }, spec: { containers: [] } };
}

/** The /pods entry of a refused manifest. @see KUBELET-MANIFEST-007 */
function refusedPod(pod: Pod, message: string, hostIP: string | undefined): Pod {
  const status: PodStatus = { phase: 'Failed', reason: 'InvalidManifest', message, ...(hostIP === undefined ? {} : { hostIP }) };
  return { ...pod, status };
}

/** The newest ready sandbox (sandboxes are listed newest first). */
function currentSandboxOf(observed: ObservedPod | undefined): ObservedSandbox | undefined {
  return observed?.sandboxes.find((sandbox) => sandbox.ready);
}

const emptyWaiting: ReadonlyMap<string, { reason: string; message?: string }> = new Map();

/**
 * Starts the kubelet: connects to CRI (and CSI), binds the read-only port,
 * then syncs until {@link RunningKubelet.close}.
 */
export async function startKubelet(options: KubeletOptions, parts: Partial<KubeletParts> = {}): Promise<RunningKubelet> {
  const allParts: KubeletParts = { ...defaultKubeletParts, ...parts };
  const log = options.log ?? (() => {});
  const syncMs = Math.max(100, (options.syncFrequencySeconds ?? 1) * 1000);
  const maxRestartPeriodMs = (options.maxContainerRestartPeriodSeconds ?? 300) * 1000;
  const connectTimeoutMs = options.connectTimeoutMs ?? 10_000;
  let peers: KubeletAddress[];
  try {
    peers = (options.peerKubelets ?? []).map(parseKubeletUrl);
  } catch (error) {
    if (error instanceof KubeletUrlError) throw new KubeletOptionsError('peerKubelets', error.message);
    throw error;
  }

  const runtime = createClient(RuntimeServiceClient, options.containerRuntimeEndpoint);
  const imageEndpoint = options.imageServiceEndpoint ?? options.containerRuntimeEndpoint;
  const images = createClient(ImageServiceClient, imageEndpoint);
  const csi = new Map<string, CsiClients>();
  for (const [driver, endpoint] of Object.entries(options.csiEndpoints ?? {})) csi.set(driver, connectCsiDriver(endpoint));
  const closeClients = (): void => {
    runtime.close();
    images.close();
    for (const clients of csi.values()) closeCsiClients(clients);
  };
  let runtimeName = '';
  let state: DisruptionState;
  try {
    await waitForConnection(runtime, options.containerRuntimeEndpoint, connectTimeoutMs).catch((error: Error) => {
      throw new KubeletOptionsError('containerRuntimeEndpoint', error.message);
    });
    await waitForConnection(images, imageEndpoint, connectTimeoutMs).catch((error: Error) => {
      throw new KubeletOptionsError('imageServiceEndpoint', error.message);
    });
    fs.mkdirSync(options.rootDir, { recursive: true });
    state = await DisruptionState.load(options.rootDir, log);
    runtimeName = (await callUnary(runtime, runtime.version, { version: criApiVersion }, { deadline: new Date(Date.now() + connectTimeoutMs) })).runtimeName;
  } catch (error) {
    closeClients();
    throw error;
  }

  const events = createEventRecorder({ host: options.nodeName });
  const probes = createProbeManager({ runtime, parts: allParts, events });
  const workers = new PodWorkers({
    runtime,
    images,
    csi,
    parts: allParts,
    probes,
    events,
    rootDir: options.rootDir,
    nodeName: options.nodeName,
    maxRestartPeriodMs,
    ...(options.cgroupParent === undefined ? {} : { cgroupParent: options.cgroupParent }),
  });

  // What /pods serves: the last computed list, replaced whole after each round.
  let served: Pod[] = [];
  const statuses = new Map<string, PodStatus>();
  const results = new Map<string, PodSyncResult>();
  const inFlight = new Map<string, { late: boolean }>();
  // FailedValidation is recorded once per file version (file name, UID or error text).
  let reported = new Set<string>();

  /** The pods as of now: the last round's list, with evictions accepted (or being decided) since then already marked. */
  const currentPods = (): Pod[] =>
    served.map((pod) => {
      const record = state.visibleEviction(pod.metadata.uid ?? '');
      return record === undefined || pod.metadata.deletionTimestamp !== undefined ? pod : withEvictionMarks(pod, record);
    });
  const disruption = new DisruptionService({
    parts: allParts,
    podManifestPath: options.podManifestPath,
    nodeName: options.nodeName,
    state,
    peers,
    localPods: currentPods,
    onChange: () => trigger(),
  });

  let server;
  try {
    server = await startReadOnlyServer({
      port: options.readOnlyPort,
      ...(options.address === undefined ? {} : { address: options.address }),
      ...(options.readOnlySocket === undefined ? {} : { socketPath: options.readOnlySocket }),
      pods: currentPods,
      events,
      disruption,
    });
  } catch (error) {
    probes.close();
    closeClients();
    throw new KubeletOptionsError('readOnlyPort', `cannot listen on ${options.address ?? '0.0.0.0'}:${options.readOnlyPort}: ${(error as Error).message}`);
  }

  let closed = false;
  let round: Promise<void> | undefined;
  let again = false;
  let tickTimer: NodeJS.Timeout | undefined;
  let wakeTimer: NodeJS.Timeout | undefined;
  let wakeAt = Number.POSITIVE_INFINITY;
  let debounceTimer: NodeJS.Timeout | undefined;

  const desiredFrom = (loads: readonly ManifestLoad[]): { desired: Map<string, Pod>; refused: Pod[] } => {
    const desired = new Map<string, Pod>();
    const refused: Pod[] = [];
    const stillReported = new Set<string>();
    for (const load of loads) {
      // Validation is a part (a broken kubelet may skip it), so it is asked again here.
      const errors = load.budget !== undefined ? allParts.validateDisruptionBudget(load.budget) : load.pod === undefined ? load.errors : allParts.validatePod(load.pod);
      if (load.budget !== undefined && errors.length === 0) continue;
      if (load.pod !== undefined && errors.length === 0) {
        const record = state.eviction(load.pod.metadata.uid ?? '');
        desired.set(load.pod.metadata.uid ?? '', record === undefined ? load.pod : withEvictionMarks(load.pod, record));
        continue;
      }
      const message = describeManifestErrors({ file: load.file, errors });
      const key = `${load.file}\0${load.pod?.metadata.uid ?? ''}\0${message}`;
      stillReported.add(key);
      if (!reported.has(key)) {
        const what = load.budget !== undefined ? 'PodDisruptionBudget' : 'pod';
        events.record(load.pod ?? placeholderPod(load.file), undefined, 'Warning', 'FailedValidation', `Error validating ${what} from file ${message}`);
        log(`manifest ${load.file} refused: ${message}`);
      }
      if (load.pod !== undefined) refused.push(refusedPod(load.pod, message, options.hostIP));
    }
    reported = stillReported;
    return { desired, refused };
  };

  const startSync = (uid: string, pod: Pod | undefined, observed: ObservedPod | undefined): Promise<void> => {
    const marker = { late: false };
    inFlight.set(uid, marker);
    return workers
      .sync(uid, pod, observed)
      .then(
        (result) => {
          results.set(uid, result);
          if (result.nextSyncAt !== undefined) wakeBy(result.nextSyncAt);
        },
        (error: unknown) => log(`sync of pod ${pod?.metadata.name ?? uid} failed: ${error instanceof Error ? error.message : String(error)}`),
      )
      .finally(() => {
        inFlight.delete(uid);
        // A sync that outlived its round (a long preStop, a slow pull) gets its status refreshed at once.
        if (marker.late) trigger();
      });
  };

  const syncRound = async (): Promise<void> => {
    const loads = await loadManifests(options.podManifestPath, options.nodeName);
    const { desired, refused } = desiredFrom(loads);
    // An eviction is forgotten with its pod's manifest (a changed manifest is a new UID).
    await state.forgetEvictionsExcept(new Set(desired.keys()));
    const observed = await observePods(runtime);
    const syncs: Promise<void>[] = [];
    const markers: { late: boolean }[] = [];
    for (const uid of new Set([...desired.keys(), ...observed.keys()])) {
      if (inFlight.has(uid)) continue;
      const pod = desired.get(uid);
      if (pod === undefined) probes.removePod(uid);
      // A cordoned node starts no pod it has not started yet (no sandbox for its UID).
      if (pod !== undefined && state.unschedulable && (observed.get(uid)?.sandboxes.length ?? 0) === 0) continue;
      syncs.push(startSync(uid, pod, observed.get(uid)));
      markers.push(inFlight.get(uid)!);
    }
    let waiting: NodeJS.Timeout | undefined;
    await Promise.race([Promise.allSettled(syncs), new Promise<void>((resolve) => (waiting = setTimeout(resolve, syncMs)))]);
    clearTimeout(waiting);
    for (const marker of markers) marker.late = true;

    const fresh = await observePods(runtime);
    const now = new Date();
    const items: Pod[] = [];
    for (const [uid, pod] of desired) {
      const observedPod = fresh.get(uid);
      // As the pod workers do: only the current sandbox's running containers are probed.
      const sandbox = currentSandboxOf(observedPod);
      if (sandbox !== undefined) probes.syncPod(pod, sandbox.ip, observedPod?.containers.filter((container) => container.state === 'running' && container.sandboxId === sandbox.id) ?? []);
      const result = results.get(uid);
      const evicted = state.eviction(uid) !== undefined && podStoppedRunning(observedPod);
      const podFailed = evicted ? evictedPodFailure : result?.podFailed;
      const generated = allParts.generatePodStatus({
        pod,
        observed: observedPod,
        probes: probes.lookup,
        waiting: result?.waiting ?? emptyWaiting,
        previous: statuses.get(uid),
        now,
        deadlineExceeded: result?.deadlineExceeded ?? false,
        ...(podFailed === undefined ? {} : { podFailed }),
        ...(options.hostIP === undefined ? {} : { hostIP: options.hostIP }),
        ...(runtimeName === '' ? {} : { runtimeName }),
      });
      statuses.set(uid, generated);
      const held = state.unschedulable && (observedPod?.sandboxes.length ?? 0) === 0 && pod.metadata.deletionTimestamp === undefined;
      const status = held ? withCordonCondition(generated, options.nodeName, now) : generated;
      items.push(pod.metadata.deletionTimestamp === undefined ? { ...pod, status } : withEvictionMarks({ ...pod, status }, state.eviction(uid)!));
    }
    for (const uid of [...statuses.keys()]) if (!desired.has(uid)) statuses.delete(uid);
    for (const uid of [...results.keys()]) if (!desired.has(uid) && !fresh.has(uid) && !inFlight.has(uid)) results.delete(uid);
    served = [...items, ...refused];
    // Volumes of pods removed while no kubelet ran have no sync to tear them down.
    await workers.collectOrphanedVolumes(new Set([...desired.keys(), ...fresh.keys(), ...inFlight.keys()]));
  };

  const runRounds = async (): Promise<void> => {
    do {
      again = false;
      try {
        await syncRound();
      } catch (error) {
        log(`sync failed: ${error instanceof Error ? error.message : String(error)}`);
      }
    } while (again && !closed);
  };

  /** Runs a round now, or right after the one running. */
  const trigger = (): void => {
    if (closed) return;
    if (round !== undefined) {
      again = true;
      return;
    }
    if (tickTimer !== undefined) clearTimeout(tickTimer);
    round = runRounds().finally(() => {
      round = undefined;
      if (closed) return;
      tickTimer = setTimeout(trigger, syncMs);
    });
  };

  /** Makes sure a round runs at `at` (ms since the epoch), e.g. when a back-off ends. */
  function wakeBy(at: number): void {
    if (closed || at >= wakeAt) return;
    if (wakeTimer !== undefined) clearTimeout(wakeTimer);
    wakeAt = at;
    wakeTimer = setTimeout(() => {
      wakeAt = Number.POSITIVE_INFINITY;
      wakeTimer = undefined;
      trigger();
    }, Math.max(0, at - Date.now()));
  }

  const triggerSoon = (): void => {
    if (debounceTimer !== undefined) clearTimeout(debounceTimer);
    debounceTimer = setTimeout(trigger, 50);
  };

  probes.onChange(() => triggerSoon());
  let watcher: fs.FSWatcher | undefined;
  try {
    watcher = fs.watch(options.podManifestPath, { persistent: false }, () => triggerSoon());
    watcher.on('error', () => watcher?.close());
  } catch {
    // A folder that does not exist yet is read on every period instead.
    log(`cannot watch ${options.podManifestPath}; reading it every ${syncMs} ms`);
  }
  trigger();

  return {
    port: server.port,
    events,
    async syncNow() {
      trigger();
      while (round !== undefined) await round;
    },
    async close() {
      if (closed) return;
      closed = true;
      watcher?.close();
      for (const timer of [tickTimer, wakeTimer, debounceTimer]) if (timer !== undefined) clearTimeout(timer);
      probes.close();
      await round?.catch(() => {});
      await server.close();
      closeClients();
    },
  };
}
