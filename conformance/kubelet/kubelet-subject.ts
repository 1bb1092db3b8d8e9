/**
 * The kubelet under test as the kubelet suite's cases see it: manifests go
 * in, /pods and /events come out, and the spy proxies between the kubelet and
 * its plugins tell which CRI and CSI calls it made, in order.
 *
 * Two implementations: one where the harness starts the kubelet on a node of
 * its own (connect-kubelet-subject.ts), and one attached to a kubelet already
 * running (attach-kubelet-subject.ts). What the attached one cannot observe
 * (call logs, restarts, folders it was not told of) throws `CaseSkipped` when
 * a case asks for it, so the case ends skipped and certification is blocked.
 */
import type { Subject } from '../framework/index.js';
import type { KubeletEvent, Pod, PodList } from '../../kubelet/api/pod-types.js';

/** One gRPC call the kubelet made to a plugin, as the spy proxy saw it. */
export interface RecordedCall {
  /** Sequence number across every call of the run (CRI and CSI share it). */
  readonly seq: number;
  /** e.g. "RunPodSandbox", "NodePublishVolume" (no service prefix). */
  readonly method: string;
  readonly request: unknown;
  readonly response?: unknown;
  /** gRPC status code name when the call failed, e.g. "NOT_FOUND". */
  readonly code?: string;
  /** ms since the epoch. */
  readonly startedAt: number;
  readonly endedAt: number;
}

export interface KubeletSubject extends Subject {
  /** The --node-name the kubelet runs with (static pods are named "<name>-<nodeName>"). */
  readonly nodeName: string;
  /** Test images in the registry the runtime pulls from: busybox-static based, with sh, sleep, nc, httpd, wget. */
  readonly images: { readonly busybox: string };
  /** The --max-container-restart-period the kubelet runs with, in seconds. */
  readonly maxRestartPeriodSeconds: number;
  /** The CSI driver name the kubelet knows (undefined when no CSI driver is wired). */
  readonly csiDriver: string | undefined;
  /** Writes a manifest atomically (temp file + rename) as `<fileName>` in the manifest directory; objects become JSON, strings are written as given. */
  writeManifest(fileName: string, pod: object | string): Promise<void>;
  removeManifest(fileName: string): Promise<void>;
  /** GET /pods. */
  pods(): Promise<PodList>;
  /** The pod named `name` (the manifest's metadata.name; the node suffix is added) in /pods, or undefined. */
  pod(name: string, namespace?: string): Promise<Pod | undefined>;
  /** Polls /pods until `ready(pod)` holds; resolves with the pod, or rejects naming the last status seen after `timeoutMs`. */
  waitForPod(name: string, ready: (pod: Pod) => boolean, timeoutMs: number, what: string): Promise<Pod>;
  /** GET /events. */
  events(): Promise<KubeletEvent[]>;
  /** Every CRI call so far. Attached: throws `CaseSkipped` (no spy proxy). */
  criCalls(): readonly RecordedCall[];
  /** Every CSI call so far. Attached: throws `CaseSkipped` (no spy proxy). */
  csiCalls(): readonly RecordedCall[];
  /**
   * Whether the latest sandbox of the pod with UID `podUid` has been stopped
   * or removed (true when it never had one or the UID is unknown): from the
   * kubelet's calls when a spy sees them, else from the runtime's list.
   */
  sandboxStopped(podUid: string | undefined): Promise<boolean>;
  /** Runs a command in a running container of a pod through the real runtime's ExecSync (not through the kubelet). */
  exec(podName: string, container: string, command: readonly string[]): Promise<{ exitCode: number; stdout: string; stderr: string }>;
  /** Kills the kubelet process with `signal` and starts it again with the same command; resolves when /healthz answers. Attached: throws `CaseSkipped`. */
  restartKubelet(signal?: 'SIGKILL' | 'SIGTERM'): Promise<void>;
  /** Milliseconds one kubelet sync may take to notice a change (the suite's polling budget is a multiple of it). */
  readonly syncMs: number;
  /** A folder on the node, the same path for the harness, the kubelet and the runtime, that cases may use as hostPath volumes' source. Attached without --host-path-dir: reading it throws `CaseSkipped`. */
  readonly hostPathDir: string;
  /** The kubelet's --root-dir, as the harness sees it (to look for what a pod left behind). Attached without --root-dir: reading it throws `CaseSkipped`. */
  readonly rootDir: string;
  /** A raw GET on the kubelet's read-only port (e.g. /healthz), for cases that judge the answer itself. */
  readOnlyGet(path: string): Promise<{ status: number; body: string }>;
  /**
   * A raw request on the kubelet's read-only port (an eviction, a budget
   * list, the Node and its cordon), for cases that judge the answer
   * themselves; `body` is sent as JSON unless `contentType` says otherwise.
   */
  readOnlyRequest(method: 'GET' | 'POST' | 'PATCH', path: string, body?: string, contentType?: string): Promise<{ status: number; body: string }>;
  /** The URL a client outside the node reaches the kubelet's read-only port by (`unix:///…sock` or `http://HOST:PORT`), as `kubeplug drain --kubelet` takes it. */
  readonly kubeletUrl: string;
  /** The drain command template the KUBELET-DRAIN cases run, with placeholders {kubelet-url} and {timeout} (see run-config.ts). */
  readonly drainCmd: string;
  /** Stops a pod sandbox behind the kubelet's back, through the real runtime (not the spy), as if it had died. */
  stopPodSandbox(sandboxId: string): Promise<void>;
}
