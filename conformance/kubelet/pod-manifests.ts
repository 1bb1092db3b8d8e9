/**
 * Test pods of the kubelet suite and the ways cases look at them: builders
 * for static pod manifests (unique names, the suite's busybox image), a
 * manifest written for the length of a case, lookups in a pod's status, and
 * the spy proxies' CRI call log narrowed to one pod.
 */
import { CaseSkipped, type CaseContext } from '../framework/index.js';
import type {
  ConditionStatus,
  Container,
  ContainerStatus,
  KubeletEvent,
  Pod,
  PodConditionType,
  PodSpec,
} from '../../kubelet/api/pod-types.js';
import type { KubeletSubject, RecordedCall } from './kubelet-subject.js';

type Ctx = CaseContext<KubeletSubject>;

/** CRI label carrying the pod UID on sandboxes and containers. @see KUBELET-PLUGIN-006 */
export const podUidLabel = 'io.kubernetes.pod.uid';

/**
 * A container script that runs until it is stopped and exits 0 on SIGTERM at
 * once (the shell's `wait` returns as soon as the trap fires, unlike a
 * foreground sleep).
 */
export const untilStopped = 'trap "exit 0" TERM; while true; do sleep 3600 & wait $!; done';

/** A container script that ignores SIGTERM, so only the grace period's end (SIGKILL) stops it. */
export const ignoringSigterm = 'trap "" TERM; while true; do sleep 1; done';

/** Grace period of test pods unless a case sets its own: short, so removal is quick even when a container ignores SIGTERM. */
export const testGraceSeconds = 2;

/** A static pod a case writes: the manifest's name, its file, and the manifest itself. */
export interface TestPod {
  /** metadata.name in the manifest (the kubelet serves it as `<name>-<nodeName>`). */
  readonly name: string;
  readonly fileName: string;
  readonly manifest: Pod;
}

/** A pod spec as cases give it: everything of PodSpec, the grace period defaulting to {@link testGraceSeconds}. */
export type TestPodSpec = PodSpec;

/** Builds a static pod manifest named `<prefix>-<run>-<n>` (unique in the run), namespace default. */
export function testPod(ctx: Ctx, prefix: string, spec: TestPodSpec): TestPod {
  const name = ctx.uniqueName(prefix);
  const manifest: Pod = {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: { name, namespace: 'default', labels: { 'kubeplug.io/suite': 'kubelet' } },
    spec: { terminationGracePeriodSeconds: testGraceSeconds, ...spec },
  };
  return { name, fileName: `${name}.json`, manifest };
}

/** A container of the suite's busybox image running `sh -c script`. */
export function shellContainer(subject: KubeletSubject, name: string, script: string, extra: Partial<Container> = {}): Container {
  return { name, image: subject.images.busybox, imagePullPolicy: 'IfNotPresent', command: ['sh', '-c', script], ...extra };
}

/** A container that runs until stopped (exit 0 on SIGTERM). */
export function sleeperContainer(subject: KubeletSubject, name: string, extra: Partial<Container> = {}): Container {
  return shellContainer(subject, name, untilStopped, extra);
}

/**
 * A script serving HTTP on `port` from `dir` (busybox httpd in the
 * foreground), after writing `index.html` there. Runs until stopped.
 */
export function httpServerScript(port: number, dir = '/tmp/www'): string {
  return `mkdir -p ${dir} && echo ok > ${dir}/index.html && exec busybox httpd -f -p ${port} -h ${dir}`;
}

/**
 * A script answering every HTTP request on `port` with 200 and appending the
 * request's first line to `logFile`, one connection at a time (busybox nc
 * has no keep-listening flag here, so a loop relaunches it).
 */
export function requestRecorderScript(port: number, logFile: string): string {
  return (
    `trap "exit 0" TERM; touch ${logFile}; while true; do ` +
    `printf 'HTTP/1.0 200 OK\\r\\nContent-Length: 2\\r\\n\\r\\nok' | busybox nc -l -p ${port} | head -n 1 >> ${logFile} & wait $!; ` +
    `done`
  );
}

/** The name the kubelet serves a static pod under: `<name>-<nodeName>`. @see KUBELET-MANIFEST-002 */
export function podNamed(subject: KubeletSubject, name: string): string {
  return `${name}-${subject.nodeName}`;
}

/** An image reference in the run's registry that no one pushed. */
export function absentImage(ctx: Ctx): string {
  const reference = ctx.subject.images.busybox;
  const slash = reference.lastIndexOf('/');
  const registry = slash < 0 ? '' : reference.slice(0, slash + 1);
  return `${registry}${ctx.uniqueName('absent')}:1`;
}

/** Waits `ms`, or less if the case's deadline aborts it. */
export function pause(ctx: Ctx, ms: number): Promise<void> {
  return new Promise((resolve) => {
    const timer = setTimeout(() => {
      ctx.signal.removeEventListener('abort', stop);
      resolve();
    }, ms);
    const stop = (): void => {
      clearTimeout(timer);
      resolve();
    };
    ctx.signal.addEventListener('abort', stop, { once: true });
  });
}

/** Budget for something the kubelet should do within `seconds`, plus a few syncs of slack. */
export function budgetMs(subject: KubeletSubject, seconds: number): number {
  return Math.round(seconds * 1000 + 5 * subject.syncMs + 3000);
}

/**
 * Removes the manifest (if still there), waits until the pod has left /pods
 * and, as a pod may leave /pods while it is still being stopped (upstream's
 * pod manager forgets a removed static pod at once), until the kubelet's
 * StopPodSandbox (or RemovePodSandbox) of its latest sandbox has returned.
 * @see KUBELET-MANIFEST-009 KUBELET-PLUGIN-005
 */
export async function removePod(ctx: Ctx, pod: TestPod): Promise<void> {
  const { subject } = ctx;
  const uid = (await subject.pod(pod.name).catch(() => undefined))?.metadata.uid;
  await subject.removeManifest(pod.fileName).catch((error: unknown) => {
    if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
  });
  const grace = pod.manifest.spec.terminationGracePeriodSeconds ?? 30;
  const budget = budgetMs(subject, grace + 10);
  const deadline = Date.now() + budget;
  while ((await subject.pod(pod.name)) !== undefined) {
    if (Date.now() > deadline) throw new Error(`pod ${pod.name} is still in /pods ${Math.round(budget / 1000)} s after its manifest was removed`);
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
  while (!(await subject.sandboxStopped(uid))) {
    if (Date.now() > deadline) throw new Error(`pod ${pod.name}: no StopPodSandbox of its sandbox returned within ${Math.round(budget / 1000)} s of its manifest's removal`);
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
}

/** Whether the kubelet's calls show the pod's latest sandbox stopped or removed (true when it never had one). */
export function sandboxStoppedInCallLog(subject: KubeletSubject, uid: string | undefined): boolean {
  const calls = podCalls(subject, uid);
  const lastRun = calls.filter((call) => call.method === 'RunPodSandbox').at(-1);
  if (lastRun === undefined) return true;
  return calls.some((call) => (call.method === 'StopPodSandbox' || call.method === 'RemovePodSandbox') && call.sandboxId === lastRun.sandboxId && !call.failed);
}

/** Writes the manifest and registers its removal (and the wait for the pod to leave /pods) as cleanup. */
export async function withManifest(ctx: Ctx, pod: TestPod): Promise<void> {
  ctx.defer(() => removePod(ctx, pod), `remove pod ${pod.name}`);
  await ctx.subject.writeManifest(pod.fileName, pod.manifest);
}

/** Writes several manifests, each removed after the case. */
export async function withManifests(ctx: Ctx, pods: readonly TestPod[]): Promise<void> {
  for (const pod of pods) await withManifest(ctx, pod);
}

/**
 * Waits until the pod satisfies `ready`; on timeout records a failed check
 * (for `ids`, naming the last status seen) and stops the case.
 */
export async function awaitPod(
  ctx: Ctx,
  pod: TestPod,
  what: string,
  ready: (pod: Pod) => boolean,
  options: { timeoutMs: number; ids?: readonly string[] },
): Promise<Pod> {
  try {
    return await ctx.subject.waitForPod(pod.name, ready, options.timeoutMs, what);
  } catch (error) {
    // `ready` asked for something this run cannot observe: the case is skipped, not failed.
    if (error instanceof CaseSkipped) throw error;
    const last = await ctx.subject.pod(pod.name).catch(() => undefined);
    ctx.require(false, {
      ...(options.ids === undefined ? {} : { ids: options.ids }),
      what: `${what} (within ${Math.round(options.timeoutMs / 1000)} s)`,
      expected: what,
      got: { error: error instanceof Error ? error.message : String(error), status: last?.status ?? 'not in /pods' },
    });
  }
}

/** One look at a pod while a case watches it. */
export interface PodSample {
  /** ms since the epoch. */
  readonly at: number;
  readonly pod: Pod | undefined;
}

/**
 * Samples the pod every `everyMs` for `forMs` (or until `until` holds of a
 * sample) and returns every sample, for invariants that must hold throughout.
 */
export async function samplePod(
  ctx: Ctx,
  pod: TestPod,
  options: { forMs: number; everyMs?: number; until?: (pod: Pod) => boolean },
): Promise<PodSample[]> {
  const samples: PodSample[] = [];
  const end = Date.now() + options.forMs;
  while (Date.now() < end && !ctx.signal.aborted) {
    const seen = await ctx.subject.pod(pod.name);
    samples.push({ at: Date.now(), pod: seen });
    if (seen !== undefined && options.until?.(seen) === true) break;
    await pause(ctx, options.everyMs ?? 250);
  }
  return samples;
}

/** The status of container `name` (app, init or sidecar), or undefined. */
export function containerStatus(pod: Pod | undefined, name: string): ContainerStatus | undefined {
  const status = pod?.status;
  return (status?.containerStatuses ?? []).find((item) => item.name === name) ?? (status?.initContainerStatuses ?? []).find((item) => item.name === name);
}

/** The status (True/False/Unknown) of condition `type`, or undefined when the pod lacks it. */
export function conditionStatus(pod: Pod | undefined, type: PodConditionType): ConditionStatus | undefined {
  return pod?.status?.conditions?.find((condition) => condition.type === type)?.status;
}

/** The condition `type` itself, for its reason. */
export function condition(pod: Pod | undefined, type: PodConditionType): NonNullable<NonNullable<Pod['status']>['conditions']>[number] | undefined {
  return pod?.status?.conditions?.find((item) => item.type === type);
}

/** A short view of a container status for evidence. */
export function stateView(status: ContainerStatus | undefined): unknown {
  if (status === undefined) return 'no status';
  return { state: status.state, lastState: status.lastState, ready: status.ready, started: status.started, restartCount: status.restartCount, containerID: status.containerID };
}

/** A short view of a pod's status for evidence: phase, conditions, container states. */
export function podView(pod: Pod | undefined): unknown {
  if (pod === undefined) return 'not in /pods';
  const status = pod.status;
  const containers = [...(status?.initContainerStatuses ?? []), ...(status?.containerStatuses ?? [])];
  return {
    phase: status?.phase,
    reason: status?.reason,
    conditions: Object.fromEntries((status?.conditions ?? []).map((item) => [item.type, item.reason === undefined ? item.status : `${item.status} (${item.reason})`])),
    containers: Object.fromEntries(containers.map((item) => [item.name, { ...item.state, restartCount: item.restartCount, ready: item.ready }])),
  };
}

/** The waiting reason of a container, or undefined when it is not waiting. */
export function waitingReason(pod: Pod | undefined, name: string): string | undefined {
  return containerStatus(pod, name)?.state.waiting?.reason;
}

/** Whether container `name` is running. */
export function isRunning(pod: Pod | undefined, name: string): boolean {
  return containerStatus(pod, name)?.state.running !== undefined;
}

/** Whether the pod is in a terminal phase. */
export function isTerminal(pod: Pod | undefined): boolean {
  return pod?.status?.phase === 'Succeeded' || pod?.status?.phase === 'Failed';
}

/** The restart count of container `name` (0 when it has no status). */
export function restartCount(pod: Pod | undefined, name: string): number {
  return containerStatus(pod, name)?.restartCount ?? 0;
}

/** Events about the pod (by UID, or by name when the event carries no UID), optionally of one reason. */
export async function podEvents(ctx: Ctx, pod: Pod, reason?: string): Promise<KubeletEvent[]> {
  const uid = pod.metadata.uid;
  const events = await ctx.subject.events();
  return events.filter(
    (event) =>
      (uid !== undefined && event.involvedObject.uid !== '' ? event.involvedObject.uid === uid : event.involvedObject.name === pod.metadata.name) &&
      (reason === undefined || event.reason === reason),
  );
}

// ---- the CRI call log, one pod at a time ----

/** Reads a nested field of a recorded (JSON) message. */
function field(value: unknown, ...path: string[]): unknown {
  let current = value;
  for (const key of path) {
    if (current === null || typeof current !== 'object') return undefined;
    current = (current as Record<string, unknown>)[key];
  }
  return current;
}

function stringField(value: unknown, ...path: string[]): string | undefined {
  const found = field(value, ...path);
  return typeof found === 'string' ? found : undefined;
}

/** A CRI call of one pod, with the container it concerns when it concerns one. */
export interface PodCall {
  readonly call: RecordedCall;
  readonly method: string;
  /** Container name (CreateContainer's metadata.name, or the name of the container the ID belongs to). */
  readonly container?: string;
  readonly containerId?: string;
  readonly sandboxId?: string;
  readonly startedAt: number;
  readonly endedAt: number;
  readonly failed: boolean;
}

/**
 * The CRI calls the kubelet made for the pod with UID `uid`, in order:
 * RunPodSandbox whose config carries the UID label, CreateContainer into
 * those sandboxes (or labelled with the UID), and every call naming one of
 * those sandbox or container IDs.
 */
export function podCalls(subject: KubeletSubject, uid: string | undefined): PodCall[] {
  if (uid === undefined) return [];
  const sandboxes = new Set<string>();
  const containers = new Map<string, string>();
  const out: PodCall[] = [];
  for (const call of [...subject.criCalls()].sort((a, b) => a.seq - b.seq)) {
    const base = { call, method: call.method, startedAt: call.startedAt, endedAt: call.endedAt, failed: call.code !== undefined };
    if (call.method === 'RunPodSandbox') {
      if (stringField(call.request, 'config', 'labels', podUidLabel) !== uid) continue;
      const sandboxId = stringField(call.response, 'podSandboxId');
      if (sandboxId !== undefined && sandboxId !== '') sandboxes.add(sandboxId);
      out.push({ ...base, ...(sandboxId === undefined ? {} : { sandboxId }) });
      continue;
    }
    if (call.method === 'CreateContainer') {
      const sandboxId = stringField(call.request, 'podSandboxId') ?? '';
      const labelled = stringField(call.request, 'config', 'labels', podUidLabel) === uid;
      if (!sandboxes.has(sandboxId) && !labelled) continue;
      const name = stringField(call.request, 'config', 'metadata', 'name') ?? '';
      const containerId = stringField(call.response, 'containerId');
      if (containerId !== undefined && containerId !== '') containers.set(containerId, name);
      out.push({ ...base, container: name, sandboxId, ...(containerId === undefined ? {} : { containerId }) });
      continue;
    }
    const containerId = stringField(call.request, 'containerId');
    if (containerId !== undefined && containers.has(containerId)) {
      out.push({ ...base, containerId, container: containers.get(containerId) ?? '' });
      continue;
    }
    const sandboxId = stringField(call.request, 'podSandboxId');
    if (sandboxId !== undefined && sandboxes.has(sandboxId)) out.push({ ...base, sandboxId });
  }
  return out;
}

/** The pod's calls of `method`, optionally for one container. */
export function callsOf(calls: readonly PodCall[], method: string, container?: string): PodCall[] {
  return calls.filter((call) => call.method === method && (container === undefined || call.container === container));
}

/** ExecSync's command of a recorded call. */
export function execCommand(call: PodCall): string[] {
  const cmd = field(call.call.request, 'cmd');
  return Array.isArray(cmd) ? cmd.map(String) : [];
}

/** ExecSync's exit code, or undefined when the call failed. */
export function execExitCode(call: PodCall): number | undefined {
  const code = field(call.call.response, 'exitCode');
  if (call.failed) return undefined;
  return typeof code === 'number' ? code : 0;
}

/** The `timeout` of an ExecSync or StopContainer request, in seconds (int64 recorded as a string). */
export function requestTimeoutSeconds(call: PodCall): number | undefined {
  const timeout = field(call.call.request, 'timeout');
  if (typeof timeout === 'number') return timeout;
  if (typeof timeout === 'string' && timeout !== '') return Number(timeout);
  return timeout === undefined ? 0 : undefined;
}

/** ExecSync calls whose command includes `marker` (to tell a probe's or hook's calls from others). */
export function execsWith(calls: readonly PodCall[], container: string, marker: string): PodCall[] {
  return callsOf(calls, 'ExecSync', container).filter((call) => execCommand(call).join(' ').includes(marker));
}

/** A short view of calls for evidence: method, container, ms after `origin`. */
export function callsView(calls: readonly PodCall[], origin = calls[0]?.startedAt ?? 0): string[] {
  return calls.map((call) => `${call.method}${call.container === undefined ? '' : `(${call.container})`} @${call.startedAt - origin}ms..${call.endedAt - origin}ms${call.failed ? ` ${call.call.code ?? ''}` : ''}`);
}

/** The pod's lifecycle calls only (sandbox and container create/start/stop/remove), for evidence. */
export function lifecycleCalls(calls: readonly PodCall[]): PodCall[] {
  return calls.filter((call) => /^(RunPodSandbox|CreateContainer|StartContainer|StopContainer|RemoveContainer|StopPodSandbox|RemovePodSandbox)$/.test(call.method));
}

/** The runtime's container ID inside a "<runtime>://<id>" containerID. */
export function runtimeContainerId(containerID: string | undefined): string | undefined {
  if (containerID === undefined) return undefined;
  const at = containerID.indexOf('://');
  return at < 0 ? containerID : containerID.slice(at + 3);
}
