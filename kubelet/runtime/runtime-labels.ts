/**
 * What the kubelet remembers about a pod and its containers lives in CRI
 * labels and annotations, as the real kubelet keeps it, so a restarted kubelet
 * rebuilds everything it needs from ListPodSandbox and ListContainers.
 *
 * Keys carried over from kubernetes/kubernetes (v1.33):
 * pkg/kubelet/types/labels.go (io.kubernetes.pod.*, io.kubernetes.container.name)
 * and pkg/kubelet/kuberuntime/labels.go (the container annotations). The
 * io.kubeplug.* keys are kubeplug's own additions.
 *
 * @see KUBELET-PLUGIN-006
 */
import type { Container, LifecycleHandler, Pod } from '../api/pod-types.js';

/** Label and annotation keys, as data. */
export const runtimeKeys = {
  podName: 'io.kubernetes.pod.name',
  podNamespace: 'io.kubernetes.pod.namespace',
  podUid: 'io.kubernetes.pod.uid',
  containerName: 'io.kubernetes.container.name',
  containerHash: 'io.kubernetes.container.hash',
  containerRestartCount: 'io.kubernetes.container.restartCount',
  podTerminationGracePeriod: 'io.kubernetes.pod.terminationGracePeriod',
  containerTerminationMessagePath: 'io.kubernetes.container.terminationMessagePath',
  containerPreStopHandler: 'io.kubernetes.container.preStopHandler',
  /** kubeplug: marks sandboxes and containers this kubelet manages ("true"). */
  managedBy: 'io.kubeplug.kubelet.managed',
  /** kubeplug: init, sidecar or app. */
  containerKind: 'io.kubeplug.container.kind',
  /** kubeplug: how many back-off steps the crash loop that created this container had taken (0 for a first start). */
  containerCrashStreak: 'io.kubeplug.container.crashStreak',
} as const;

/** The value of {@link runtimeKeys.managedBy} on everything this kubelet creates. */
export const managedByValue = 'true';

export type ContainerKind = 'init' | 'sidecar' | 'app';

/** Labels every sandbox of a pod carries: the pod's own labels plus the identity keys. */
export function sandboxLabels(pod: Pod): Record<string, string> {
  return {
    ...(pod.metadata.labels ?? {}),
    [runtimeKeys.podName]: pod.metadata.name,
    [runtimeKeys.podNamespace]: pod.metadata.namespace ?? 'default',
    [runtimeKeys.podUid]: pod.metadata.uid ?? '',
    [runtimeKeys.managedBy]: managedByValue,
  };
}

/** Annotations of a sandbox: the pod's own, as upstream passes them. */
export function sandboxAnnotations(pod: Pod): Record<string, string> {
  return { ...(pod.metadata.annotations ?? {}) };
}

/** Labels of a container: identity only (upstream newContainerLabels). */
export function containerLabels(pod: Pod, container: Container): Record<string, string> {
  return {
    [runtimeKeys.podName]: pod.metadata.name,
    [runtimeKeys.podNamespace]: pod.metadata.namespace ?? 'default',
    [runtimeKeys.podUid]: pod.metadata.uid ?? '',
    [runtimeKeys.containerName]: container.name,
    [runtimeKeys.managedBy]: managedByValue,
  };
}

/** What a container's annotations record. */
export interface ContainerAnnotationValues {
  readonly hash: string;
  readonly restartCount: number;
  readonly terminationGracePeriodSeconds: number;
  readonly terminationMessagePath: string;
  readonly preStop?: LifecycleHandler;
  readonly kind: ContainerKind;
  readonly crashStreak: number;
}

/** Encodes a container's annotations (upstream newContainerAnnotations, plus kubeplug's kind and crash streak). */
export function encodeContainerAnnotations(values: ContainerAnnotationValues): Record<string, string> {
  const annotations: Record<string, string> = {
    [runtimeKeys.containerHash]: values.hash,
    [runtimeKeys.containerRestartCount]: String(values.restartCount),
    [runtimeKeys.podTerminationGracePeriod]: String(values.terminationGracePeriodSeconds),
    [runtimeKeys.containerTerminationMessagePath]: values.terminationMessagePath,
    [runtimeKeys.containerKind]: values.kind,
    [runtimeKeys.containerCrashStreak]: String(values.crashStreak),
  };
  if (values.preStop !== undefined) annotations[runtimeKeys.containerPreStopHandler] = JSON.stringify(values.preStop);
  return annotations;
}

function nonNegativeInteger(text: string | undefined, fallback: number): number {
  if (text === undefined || !/^\d+$/.test(text)) return fallback;
  return Number(text);
}

/** Reads a container's annotations back; anything missing or malformed takes a safe default (0, 30 s grace, app). */
export function decodeContainerAnnotations(annotations: Readonly<Record<string, string>>): ContainerAnnotationValues {
  const kindText = annotations[runtimeKeys.containerKind];
  const kind: ContainerKind = kindText === 'init' || kindText === 'sidecar' ? kindText : 'app';
  let preStop: LifecycleHandler | undefined;
  const preStopText = annotations[runtimeKeys.containerPreStopHandler];
  if (preStopText !== undefined) {
    try {
      const parsed: unknown = JSON.parse(preStopText);
      if (typeof parsed === 'object' && parsed !== null) preStop = parsed as LifecycleHandler;
    } catch {
      // A malformed handler is dropped: the container is then stopped without preStop.
    }
  }
  return {
    hash: annotations[runtimeKeys.containerHash] ?? '',
    restartCount: nonNegativeInteger(annotations[runtimeKeys.containerRestartCount], 0),
    terminationGracePeriodSeconds: nonNegativeInteger(annotations[runtimeKeys.podTerminationGracePeriod], 30),
    terminationMessagePath: annotations[runtimeKeys.containerTerminationMessagePath] ?? '/dev/termination-log',
    ...(preStop === undefined ? {} : { preStop }),
    kind,
    crashStreak: nonNegativeInteger(annotations[runtimeKeys.containerCrashStreak], 0),
  };
}

/** The crash streak a container's annotations record (0 when absent). */
export function crashStreakOf(annotations: Readonly<Record<string, string>>): number {
  return nonNegativeInteger(annotations[runtimeKeys.containerCrashStreak], 0);
}

/**
 * A stable hash of a container's spec (FNV-1a over its canonical JSON), as
 * upstream's io.kubernetes.container.hash lets a kubelet tell a changed
 * container from the one running.
 */
export function containerHash(container: Container): string {
  let hash = 0x811c9dc5;
  for (const char of canonicalJson(container)) {
    hash ^= char.charCodeAt(0);
    hash = Math.imul(hash, 0x01000193) >>> 0;
  }
  return hash.toString(16).padStart(8, '0');
}

function canonicalJson(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(',')}]`;
  if (typeof value === 'object' && value !== null) {
    const entries = Object.entries(value as Record<string, unknown>)
      .filter(([, inner]) => inner !== undefined)
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    return `{${entries.map(([key, inner]) => `${JSON.stringify(key)}:${canonicalJson(inner)}`).join(',')}}`;
  }
  return JSON.stringify(value) ?? 'null';
}

/** The identity of a pod as its sandbox or container labels give it, or undefined when a key is missing. */
export function podIdentityOf(labels: Readonly<Record<string, string>>): { uid: string; name: string; namespace: string } | undefined {
  const uid = labels[runtimeKeys.podUid];
  const name = labels[runtimeKeys.podName];
  const namespace = labels[runtimeKeys.podNamespace];
  if (uid === undefined || uid === '' || name === undefined || namespace === undefined) return undefined;
  return { uid, name, namespace };
}
