/**
 * How the harness reaches a kubelet, whichever way it came to be under test:
 * manifests written into its folder, /pods and /events read over its
 * read-only port, and commands run in pods through the real runtime. Both
 * subjects (started by the harness, or attached to) are built on these.
 */
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import type { KubeletEvent, Pod, PodList } from '../../kubelet/api/pod-types.js';
import { ListContainersRequest, callUnary, type RuntimeServiceClient } from '../../specs/cri/index.js';
import { CaseSkipped } from '../framework/index.js';
import type { KubeletSubject } from './kubelet-subject.js';
import type { HttpAnswer } from './read-only-port.js';

/** How often /pods is polled while a case waits for a pod. */
const pollIntervalMs = 200;

/** A GET on the kubelet's read-only port. */
export type KubeletGet = (urlPath: string, timeoutMs?: number) => Promise<HttpAnswer>;

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

/** The read side of a kubelet subject: /pods, one pod, waiting for a pod, /events. */
export type KubeletReads = Pick<KubeletSubject, 'pods' | 'pod' | 'waitForPod' | 'events'>;

/** Builds {@link KubeletReads} over `get`; static pods are looked up as `<name>-<nodeName>`. */
export function kubeletReads(get: KubeletGet, nodeName: string): KubeletReads {
  const readJson = async (urlPath: string): Promise<unknown> => {
    const answer = await get(urlPath, 10_000);
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
  return {
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
          // `ready` asked for something this run cannot observe: no amount of waiting helps.
          if (error instanceof CaseSkipped) throw error;
          lastError = (error as Error).message;
        }
        if (Date.now() >= until) break;
        await sleep(Math.min(pollIntervalMs, Math.max(0, until - Date.now())));
      }
      throw new Error(`pod ${name}: not ${what} within ${timeoutMs} ms; last seen: ${describePodStatus(last)}${lastError === undefined ? '' : ` (last error: ${lastError})`}`);
    },
    async events(): Promise<KubeletEvent[]> {
      const answer = (await readJson('/events')) as { items?: KubeletEvent[] } | KubeletEvent[];
      if (Array.isArray(answer)) return answer;
      if (answer !== null && typeof answer === 'object' && Array.isArray(answer.items)) return answer.items;
      throw new Error(`GET /events answered neither an EventList nor a list: ${JSON.stringify(answer).slice(0, 300)}`);
    },
  };
}

/** Writing and removing manifests in the kubelet's manifest folder. */
export type ManifestWrites = Pick<KubeletSubject, 'writeManifest' | 'removeManifest'>;

/** Builds {@link ManifestWrites} for the folder `manifestsDir`. */
export function manifestWrites(manifestsDir: string): ManifestWrites {
  return {
    async writeManifest(fileName, content) {
      const text = typeof content === 'string' ? content : `${JSON.stringify(content, null, 2)}\n`;
      // A dot name: the kubelet ignores it (KUBELET-MANIFEST-001) until the rename makes it whole at once.
      const temporary = path.join(manifestsDir, `.${fileName}.${randomBytes(4).toString('hex')}.tmp`);
      const handle = await fs.promises.open(temporary, 'w');
      try {
        await handle.writeFile(text);
        await handle.sync();
      } finally {
        await handle.close();
      }
      await fs.promises.rename(temporary, path.join(manifestsDir, fileName));
    },
    async removeManifest(fileName) {
      await fs.promises.rm(path.join(manifestsDir, fileName), { force: true });
    },
  };
}

/**
 * Runs `command` in the running container `container` of static pod
 * `podName` through the runtime's ExecSync (never through the kubelet).
 */
export async function execInPod(options: {
  runtime: RuntimeServiceClient;
  nodeName: string;
  pod: Pod | undefined;
  podName: string;
  container: string;
  command: readonly string[];
}): Promise<{ exitCode: number; stdout: string; stderr: string }> {
  const { runtime } = options;
  const containerId = await runningContainerId(options);
  const answer = await callUnary(runtime, runtime.execSync, { containerId, cmd: [...options.command], timeout: 30n }, { deadline: new Date(Date.now() + 40_000) });
  return { exitCode: answer.exitCode, stdout: answer.stdout.toString('utf8'), stderr: answer.stderr.toString('utf8') };
}

/**
 * The CRI ID of a pod's running container named `container`: from /pods
 * when it names one, else from the runtime's list by the kubelet's labels.
 */
async function runningContainerId(options: { runtime: RuntimeServiceClient; nodeName: string; pod: Pod | undefined; podName: string; container: string }): Promise<string> {
  const { runtime, pod, podName, container, nodeName } = options;
  const statuses = [...(pod?.status?.initContainerStatuses ?? []), ...(pod?.status?.containerStatuses ?? [])];
  const fromStatus = statuses.find((status) => status.name === container && status.state?.running !== undefined)?.containerID;
  if (fromStatus !== undefined && fromStatus !== '') return bareContainerId(fromStatus);
  const listed = await callUnary(
    runtime,
    runtime.listContainers,
    ListContainersRequest.fromPartial({
      filter: { labelSelector: { 'io.kubernetes.pod.name': `${podName}-${nodeName}`, 'io.kubernetes.container.name': container }, state: { state: 1 } },
    }),
  );
  const found = listed.containers[0];
  if (found === undefined) throw new Error(`no running container ${container} in pod ${podName}-${nodeName}: ${describePodStatus(pod)}`);
  return found.id;
}
