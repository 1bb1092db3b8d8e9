/**
 * The kubelet under test as a {@link KubeletSubject}: starts its node (see
 * kubelet-node.ts) and turns manifests in and /pods, /events and the spy
 * proxies' call logs out into the calls the cases make.
 */
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import type { KubeletEvent, Pod, PodList } from '../../kubelet/api/pod-types.js';
import { ListContainersRequest, callUnary } from '../../specs/cri/index.js';
import { packageRoot } from '../../specs/registry/index.js';
import type { CleanupFailure, JsonValue } from '../framework/index.js';
import { startKubeletNode, type KubeletNode, type KubeletNodeOptions } from './kubelet-node.js';
import type { KubeletSubject, RecordedCall } from './kubelet-subject.js';
import type { KubeletRunSettings } from './run-config.js';

/** How often /pods is polled while a case waits for a pod. */
const pollIntervalMs = 200;

/** The kubelet's sync period the suite assumes (the reference kubelet's --sync-frequency default). */
const assumedSyncMs = 1000;

/** A kubelet subject the runner can close, and wait for once closed. */
export interface KubeletRunSubject extends KubeletSubject {
  /** The node the kubelet runs on (runtime, registry, folders, call recorder). */
  readonly node: KubeletNode;
  /** Starts stopping everything; see {@link closed}. */
  close(): void;
  /** Resolves with the cleanup failures once everything {@link close} stops is stopped. */
  closed(): Promise<CleanupFailure[]>;
}

/** Options for {@link connectKubeletSubject}. */
export interface ConnectKubeletOptions extends KubeletNodeOptions {
  readonly settings: KubeletRunSettings;
  /** Stop the node and exit with 130 on SIGINT or SIGTERM while the run is on (the CLI's choice; tests leave it off). */
  readonly exitOnSignal?: boolean;
}

/** The version in kubeplug's package.json (the reference kubelet's version). */
function kubeplugVersion(): string {
  try {
    return (JSON.parse(fs.readFileSync(path.join(packageRoot(), 'package.json'), 'utf8')) as { version?: string }).version ?? 'unknown';
  } catch {
    return 'unknown';
  }
}

/** `containerd://abc` → `abc`. */
function bareContainerId(id: string): string {
  const at = id.indexOf('://');
  return at < 0 ? id : id.slice(at + 3);
}

/** A short account of a pod's status for a rejection message. */
export function describePodStatus(pod: Pod | undefined): string {
  if (pod === undefined) return 'not in /pods';
  const status = pod.status;
  const containers = [...(status?.initContainerStatuses ?? []), ...(status?.containerStatuses ?? [])].map((container) => {
    const [state, detail] = Object.entries(container.state ?? {})[0] ?? ['?', {}];
    const reason = (detail as { reason?: string } | undefined)?.reason;
    return `${container.name}=${state}${reason === undefined ? '' : `(${reason})`} ready=${container.ready} restarts=${container.restartCount}`;
  });
  const conditions = (status?.conditions ?? []).map((condition) => `${condition.type}=${condition.status}`);
  return `phase ${status?.phase ?? '?'}${status?.reason === undefined ? '' : ` reason ${status.reason}`}; ${containers.join(', ')}; ${conditions.join(' ')}`;
}

/**
 * Starts the node and the kubelet per `settings` and returns the subject.
 * Capabilities: `csi` (a CSI driver is wired), `restart` (the harness owns
 * the kubelet process and can kill and restart it).
 */
export async function connectKubeletSubject(options: ConnectKubeletOptions): Promise<KubeletRunSubject> {
  let stopRegistered: (() => Promise<CleanupFailure[]>) | undefined;
  const onSignal = (signal: NodeJS.Signals): void => {
    process.stderr.write(`kubeplug certify kubelet: ${signal}, stopping the node\n`);
    void (stopRegistered?.() ?? Promise.resolve([])).finally(() => process.exit(130));
  };
  if (options.exitOnSignal === true) {
    process.once('SIGINT', onSignal);
    process.once('SIGTERM', onSignal);
  }
  const removeSignalHandlers = (): void => {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
  };
  let node: KubeletNode;
  try {
    node = await startKubeletNode(options.settings, {
      ...options,
      registerStop: (stop) => {
        stopRegistered = stop;
        options.registerStop?.(stop);
      },
    });
  } catch (error) {
    removeSignalHandlers();
    throw error;
  }
  const { settings } = node;
  const nodeName = node.nodeName;
  let closing: Promise<CleanupFailure[]> | undefined;

  const readJson = async (urlPath: string): Promise<unknown> => {
    const answer = await node.get(urlPath, 10_000);
    if (answer.status !== 200) throw new Error(`GET ${urlPath} answered ${answer.status}: ${answer.body.slice(0, 300)}`);
    try {
      return JSON.parse(answer.body) as unknown;
    } catch {
      throw new Error(`GET ${urlPath} answered no JSON: ${answer.body.slice(0, 300)}`);
    }
  };
  const pods = async (): Promise<PodList> => {
    const list = (await readJson('/pods')) as PodList;
    if (list === null || typeof list !== 'object' || !Array.isArray(list.items)) throw new Error(`GET /pods answered no PodList: ${JSON.stringify(list).slice(0, 300)}`);
    return list;
  };
  const pod = async (name: string, namespace = 'default'): Promise<Pod | undefined> => {
    const wanted = `${name}-${nodeName}`;
    return (await pods()).items.find((item) => item.metadata.name === wanted && (item.metadata.namespace ?? 'default') === namespace);
  };

  const healthz = await node.get('/healthz').catch(() => undefined);
  const identity: { [key: string]: JsonValue } = {
    name: settings.defaultKubelet ? 'kubeplug kubelet' : path.basename(node.command.argv[0] ?? 'kubelet'),
    ...(settings.defaultKubelet ? { version: kubeplugVersion() } : {}),
    command: [...node.command.argv],
    healthz: healthz === undefined ? 'no answer' : `${healthz.status} ${healthz.body.trim().slice(0, 100)}`,
    runtime: { kind: node.runtime.kind, name: node.runtime.version.runtimeName, version: node.runtime.version.runtimeVersion },
    csiDriver: node.csiDriver,
    registry: node.registry,
    nodeName,
    maxRestartPeriodSeconds: settings.maxRestartPeriodSeconds,
  };

  const subject: KubeletRunSubject = {
    capabilities: new Set(['csi', 'restart']),
    identity,
    node,
    nodeName,
    images: node.images,
    maxRestartPeriodSeconds: settings.maxRestartPeriodSeconds,
    csiDriver: node.csiDriver,
    syncMs: assumedSyncMs,
    hostPathDir: node.hostPathDir,
    rootDir: node.rootDir,
    readOnlyGet: (urlPath) => node.get(urlPath, 10_000),
    async stopPodSandbox(sandboxId) {
      await callUnary(node.runtime.runtime, node.runtime.runtime.stopPodSandbox, { podSandboxId: sandboxId }, { deadline: new Date(Date.now() + 30_000) });
    },
    async writeManifest(fileName, content) {
      const text = typeof content === 'string' ? content : `${JSON.stringify(content, null, 2)}\n`;
      // A dot name: the kubelet ignores it (KUBELET-MANIFEST-001) until the rename makes it whole at once.
      const temporary = path.join(node.manifestsDir, `.${fileName}.${randomBytes(4).toString('hex')}.tmp`);
      const handle = await fs.promises.open(temporary, 'w');
      try {
        await handle.writeFile(text);
        await handle.sync();
      } finally {
        await handle.close();
      }
      await fs.promises.rename(temporary, path.join(node.manifestsDir, fileName));
    },
    async removeManifest(fileName) {
      await fs.promises.rm(path.join(node.manifestsDir, fileName), { force: true });
    },
    pods,
    pod,
    async waitForPod(name, ready, timeoutMs, what) {
      const until = Date.now() + timeoutMs;
      let last: Pod | undefined;
      let lastError: string | undefined;
      for (;;) {
        try {
          last = await pod(name);
          lastError = undefined;
          if (last !== undefined && ready(last)) return last;
        } catch (error) {
          lastError = (error as Error).message;
        }
        if (Date.now() >= until) break;
        await sleep(Math.min(pollIntervalMs, Math.max(0, until - Date.now())));
      }
      throw new Error(`pod ${name}: not ${what} within ${timeoutMs} ms; last seen: ${describePodStatus(last)}${lastError === undefined ? '' : ` (last error: ${lastError})`}`);
    },
    async events() {
      const answer = (await readJson('/events')) as { items?: KubeletEvent[] } | KubeletEvent[];
      if (Array.isArray(answer)) return answer;
      if (answer !== null && typeof answer === 'object' && Array.isArray(answer.items)) return answer.items;
      throw new Error(`GET /events answered neither an EventList nor a list: ${JSON.stringify(answer).slice(0, 300)}`);
    },
    criCalls: (): readonly RecordedCall[] => node.recorder.calls('cri'),
    csiCalls: (): readonly RecordedCall[] => node.recorder.calls('csi'),
    async exec(podName, container, command) {
      const containerId = await runningContainerId(node, await pod(podName), podName, container);
      // Through the runtime's own client, not the spy: the call log holds the kubelet's calls only.
      const answer = await callUnary(node.runtime.runtime, node.runtime.runtime.execSync, { containerId, cmd: [...command], timeout: 30n }, { deadline: new Date(Date.now() + 40_000) });
      return { exitCode: answer.exitCode, stdout: answer.stdout.toString('utf8'), stderr: answer.stderr.toString('utf8') };
    },
    restartKubelet: (signal = 'SIGKILL') => node.restartKubelet(signal),
    close() {
      removeSignalHandlers();
      closing ??= node.stop();
    },
    closed() {
      removeSignalHandlers();
      return (closing ??= node.stop());
    },
  };
  return subject;
}

/**
 * The CRI ID of a pod's running container named `container`: from /pods
 * when it names one, else from the runtime's list by the kubelet's labels.
 */
async function runningContainerId(node: KubeletNode, pod: Pod | undefined, podName: string, container: string): Promise<string> {
  const statuses = [...(pod?.status?.initContainerStatuses ?? []), ...(pod?.status?.containerStatuses ?? [])];
  const fromStatus = statuses.find((status) => status.name === container && status.state?.running !== undefined)?.containerID;
  if (fromStatus !== undefined && fromStatus !== '') return bareContainerId(fromStatus);
  const listed = await callUnary(
    node.runtime.runtime,
    node.runtime.runtime.listContainers,
    ListContainersRequest.fromPartial({
      filter: { labelSelector: { 'io.kubernetes.pod.name': `${podName}-${node.nodeName}`, 'io.kubernetes.container.name': container }, state: { state: 1 } },
    }),
  );
  const found = listed.containers[0];
  if (found === undefined) throw new Error(`no running container ${container} in pod ${podName}-${node.nodeName}: ${describePodStatus(pod)}`);
  return found.id;
}
