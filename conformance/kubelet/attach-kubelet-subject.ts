/**
 * A kubelet already running, as a {@link KubeletSubject}: the harness writes
 * manifests into its folder, reads /pods, /events and /healthz from its
 * read-only URL, pushes the suite's image to the registry its runtime pulls
 * from, and runs commands and stops sandboxes through that runtime's own
 * endpoint. It sees none of the kubelet's calls (no spy proxy sits between
 * the kubelet and its plugins) and does not own its process, so what needs
 * either ends the case as skipped, with the reason and the way to check it.
 */
import fs from 'node:fs';
import path from 'node:path';
import { ListPodSandboxRequest, PodSandboxState, RuntimeServiceClient, callUnary, createClient, waitForConnection } from '../../specs/cri/index.js';
import { EndpointUnreachableError } from '../../specs/grpc/index.js';
import { CaseSkipped, type CleanupFailure, type JsonValue } from '../framework/index.js';
import { checkKubeletAnswers, type KubeletAttachSettings } from './attach-config.js';
import { execInPod, kubeletReads, manifestWrites } from './kubelet-access.js';
import { pushKubeletSuiteImages } from './kubelet-images.js';
import type { KubeletSubject, RecordedCall } from './kubelet-subject.js';
import { getFromKubelet, requestToKubelet } from './kubelet-url.js';
import { KubeletRunConfigError } from './run-config.js';
import { podUidLabel } from './pod-manifests.js';

/** The kubelet's sync period the suite assumes (upstream's --sync-frequency is 1 minute, but pod changes wake its workers at once). */
const assumedSyncMs = 1000;

/** Why each thing this mode cannot observe is skipped, as the report shows it. */
export const attachedSkipReasons = {
  criCalls: 'attached to a running kubelet: no spy proxy sees its CRI calls; run with --kubelet-cmd to check this',
  csiCalls: 'attached to a running kubelet: no spy proxy sees its CSI calls; run with --kubelet-cmd to check this',
  restart: 'attached to a running kubelet: the harness does not own its process and cannot kill and restart it; run with --kubelet-cmd to check this',
  hostPathDir: 'attached to a running kubelet without --host-path-dir: no folder is known that the harness, the kubelet and the runtime see at the same path',
  rootDir: "attached to a running kubelet without --root-dir: the harness does not know where the kubelet keeps pods' volumes",
  ownNode: "attached to a running kubelet: its node may run pods that are not the suite's, which a cordon would hold and a drain would evict; run with --kubelet-cmd to check this",
} as const;

/** An attached subject the runner can close. */
export interface KubeletAttachSubject extends KubeletSubject {
  /** Closes the runtime client; the kubelet, its runtime and the registry are left as they were. */
  close(): void;
  /** Resolves once {@link close} is done (never with failures: nothing of the harness runs). */
  closed(): Promise<CleanupFailure[]>;
}

/** Options for {@link attachKubeletSubject}. */
export interface AttachKubeletOptions {
  /** How long the kubelet and the runtime may take to answer first. */
  readonly connectTimeoutMs?: number;
  /** On SIGINT or SIGTERM while the run is on, remove the manifests the suite wrote and exit with 130 (the CLI's choice; tests leave it off). */
  readonly exitOnSignal?: boolean;
}

/**
 * Checks that the kubelet answers /healthz and the runtime accepts a
 * connection, pushes the suite's image to the registry, and returns the
 * subject. Anything unreachable throws {@link KubeletRunConfigError} naming
 * the flag.
 */
export async function attachKubeletSubject(settings: KubeletAttachSettings, options: AttachKubeletOptions = {}): Promise<KubeletAttachSubject> {
  const healthz = await checkKubeletAnswers(settings.kubeletUrl, options.connectTimeoutMs ?? 5000);
  const runtime = createClient(RuntimeServiceClient, settings.runtimeEndpoint);
  try {
    await waitForConnection(runtime, settings.runtimeEndpoint, options.connectTimeoutMs ?? 5000);
  } catch (error) {
    runtime.close();
    if (error instanceof EndpointUnreachableError) throw new KubeletRunConfigError(`--runtime-endpoint: ${error.message}`);
    throw error;
  }
  let version;
  let images;
  try {
    version = await callUnary(runtime, runtime.version, { version: 'v1' }, { deadline: new Date(Date.now() + 10_000) }).catch((error: unknown) => {
      throw new KubeletRunConfigError(`--runtime-endpoint: Version failed: ${(error as Error).message}`);
    });
    images = await pushKubeletSuiteImages(settings.registry).catch((error: unknown) => {
      throw new KubeletRunConfigError(`--registry: cannot push the suite's image to ${settings.registry}: ${(error as Error).message}`);
    });
  } catch (error) {
    runtime.close();
    throw error;
  }

  const { nodeName } = settings;
  const get = (urlPath: string, timeoutMs?: number): ReturnType<typeof getFromKubelet> => getFromKubelet(settings.kubeletUrl, urlPath, timeoutMs);
  const reads = kubeletReads(get, nodeName);
  const identity: { [key: string]: JsonValue } = {
    name: 'attached kubelet',
    mode: 'attached',
    kubeletUrl: settings.kubeletUrl.text,
    manifestDir: settings.manifestDir,
    healthz: `${healthz.status} ${healthz.body.trim().slice(0, 100)}`,
    runtime: { endpoint: settings.runtimeEndpoint, name: version.runtimeName, version: version.runtimeVersion },
    csiDriver: settings.csiDriver ?? null,
    registry: settings.registry,
    nodeName,
    maxRestartPeriodSeconds: settings.maxRestartPeriodSeconds,
    rootDir: settings.rootDir ?? null,
    hostPathDir: settings.hostPathDir ?? null,
  };
  // The manifests the suite has written and not yet removed: an interrupted run must not leave its pods on someone's kubelet.
  const written = new Set<string>();
  const writes = manifestWrites(settings.manifestDir);
  const onSignal = (signal: NodeJS.Signals): void => {
    process.stderr.write(`kubeplug certify kubelet: ${signal}, removing the suite's ${written.size} manifest(s) from ${settings.manifestDir}\n`);
    for (const fileName of written) fs.rmSync(path.join(settings.manifestDir, fileName), { force: true });
    process.exit(130);
  };
  if (options.exitOnSignal === true) {
    process.once('SIGINT', onSignal);
    process.once('SIGTERM', onSignal);
  }
  let closing: Promise<CleanupFailure[]> | undefined;
  const close = (): Promise<CleanupFailure[]> => {
    closing ??= Promise.resolve().then(() => {
      process.off('SIGINT', onSignal);
      process.off('SIGTERM', onSignal);
      runtime.close();
      return [];
    });
    return closing;
  };

  return {
    capabilities: new Set(settings.csiDriver === undefined ? [] : ['csi']),
    unobservable: new Map([
      ['restart', attachedSkipReasons.restart],
      ['own-node', attachedSkipReasons.ownNode],
    ]),
    identity,
    nodeName,
    images,
    maxRestartPeriodSeconds: settings.maxRestartPeriodSeconds,
    csiDriver: settings.csiDriver,
    syncMs: assumedSyncMs,
    get hostPathDir(): string {
      if (settings.hostPathDir === undefined) throw new CaseSkipped(attachedSkipReasons.hostPathDir);
      return settings.hostPathDir;
    },
    get rootDir(): string {
      if (settings.rootDir === undefined) throw new CaseSkipped(attachedSkipReasons.rootDir);
      return settings.rootDir;
    },
    readOnlyGet: (urlPath) => get(urlPath, 10_000),
    readOnlyRequest: (method, urlPath, body, contentType) =>
      requestToKubelet(settings.kubeletUrl, { method, path: urlPath, ...(body === undefined ? {} : { rawBody: body }), ...(contentType === undefined ? {} : { contentType }), timeoutMs: 30_000 }),
    kubeletUrl: settings.kubeletUrl.text,
    drainCmd: settings.drainCmd,
    async writeManifest(fileName, content) {
      written.add(fileName);
      await writes.writeManifest(fileName, content);
    },
    async removeManifest(fileName) {
      await writes.removeManifest(fileName);
      written.delete(fileName);
    },
    ...reads,
    async sandboxStopped(podUid) {
      if (podUid === undefined) return true;
      // No call log here: the runtime's own view of the pod's sandboxes (none left, or none ready) stands in for the kubelet's StopPodSandbox.
      const listed = await callUnary(runtime, runtime.listPodSandbox, ListPodSandboxRequest.fromPartial({ filter: { labelSelector: { [podUidLabel]: podUid } } }), {
        deadline: new Date(Date.now() + 10_000),
      });
      return listed.items.every((sandbox) => sandbox.state !== PodSandboxState.SANDBOX_READY);
    },
    criCalls(): readonly RecordedCall[] {
      throw new CaseSkipped(attachedSkipReasons.criCalls);
    },
    csiCalls(): readonly RecordedCall[] {
      throw new CaseSkipped(attachedSkipReasons.csiCalls);
    },
    async exec(podName, container, command) {
      return execInPod({ runtime, nodeName, pod: await reads.pod(podName), podName, container, command });
    },
    async stopPodSandbox(sandboxId) {
      await callUnary(runtime, runtime.stopPodSandbox, { podSandboxId: sandboxId }, { deadline: new Date(Date.now() + 30_000) });
    },
    restartKubelet(): Promise<void> {
      return Promise.reject(new CaseSkipped(attachedSkipReasons.restart));
    },
    close: () => void close(),
    closed: close,
  };
}
