/**
 * The kubelet under test as a {@link KubeletSubject}: starts its node (see
 * kubelet-node.ts) and turns manifests in and /pods, /events and the spy
 * proxies' call logs out into the calls the cases make.
 */
import fs from 'node:fs';
import path from 'node:path';
import { callUnary } from '../../specs/cri/index.js';
import { packageRoot } from '../../specs/registry/index.js';
import type { CleanupFailure, JsonValue } from '../framework/index.js';
import { execInPod, kubeletReads, manifestWrites } from './kubelet-access.js';
import { startKubeletNode, type KubeletNode, type KubeletNodeOptions } from './kubelet-node.js';
import type { KubeletSubject, RecordedCall } from './kubelet-subject.js';
import { sandboxStoppedInCallLog } from './pod-manifests.js';
import type { KubeletRunSettings } from './run-config.js';

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

/**
 * Starts the node and the kubelet per `settings` and returns the subject.
 * Capabilities: `csi` (a CSI driver is wired), `restart` (the harness owns
 * the kubelet process and can kill and restart it), `own-node` (the node
 * runs only the suite's pods, so a cordon or a drain touches nothing else).
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

  const reads = kubeletReads((urlPath, timeoutMs) => node.get(urlPath, timeoutMs), nodeName);

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
    capabilities: new Set(['csi', 'restart', 'own-node']),
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
    readOnlyRequest: (method, urlPath, body, contentType) =>
      node.request({ method, path: urlPath, ...(body === undefined ? {} : { rawBody: body }), ...(contentType === undefined ? {} : { contentType }), timeoutMs: 30_000 }),
    kubeletUrl: `unix://${node.readOnlySocket}`,
    drainCmd: settings.drainCmd,
    async stopPodSandbox(sandboxId) {
      await callUnary(node.runtime.runtime, node.runtime.runtime.stopPodSandbox, { podSandboxId: sandboxId }, { deadline: new Date(Date.now() + 30_000) });
    },
    ...manifestWrites(node.manifestsDir),
    ...reads,
    sandboxStopped: async (podUid) => sandboxStoppedInCallLog(subject, podUid),
    criCalls: (): readonly RecordedCall[] => node.recorder.calls('cri'),
    csiCalls: (): readonly RecordedCall[] => node.recorder.calls('csi'),
    async exec(podName, container, command) {
      // Through the runtime's own client, not the spy: the call log holds the kubelet's calls only.
      return execInPod({ runtime: node.runtime.runtime, nodeName, pod: await reads.pod(podName), podName, container, command });
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
