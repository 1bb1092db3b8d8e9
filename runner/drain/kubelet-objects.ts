/**
 * The parts of the Kubernetes objects that drain reads and writes, as the
 * kubelet's read-only API answers them (k8s.io/api core/v1 Pod, Node,
 * policy/v1 Eviction, apimachinery meta/v1 Status; kubernetes/kubernetes
 * staging/src/k8s.io/api and staging/src/k8s.io/apimachinery/pkg/apis/meta/v1/types.go).
 */

/** metav1.StatusCause. */
export interface StatusCause {
  readonly reason?: string;
  /** The JSON key of StatusCause.Type is `reason` upstream; some servers also send `type`. */
  readonly type?: string;
  readonly message?: string;
  readonly field?: string;
}

/** metav1.Status, the body of every error answer. */
export interface StatusObject {
  readonly kind?: string;
  readonly apiVersion?: string;
  readonly status?: string;
  readonly message?: string;
  readonly reason?: string;
  readonly code?: number;
  readonly details?: {
    readonly name?: string;
    readonly kind?: string;
    readonly causes?: readonly StatusCause[];
    readonly retryAfterSeconds?: number;
  };
}

/** A core/v1 Node as far as cordoning goes. */
export interface NodeObject {
  readonly apiVersion?: string;
  readonly kind?: string;
  readonly metadata: { readonly name: string };
  readonly spec?: { readonly unschedulable?: boolean };
}

/** A core/v1 Pod as far as draining goes. */
export interface PodObject {
  readonly metadata: { readonly name: string; readonly namespace?: string; readonly uid?: string };
  readonly spec?: { readonly nodeName?: string };
  readonly status?: { readonly phase?: string; readonly reason?: string; readonly message?: string };
}

/** Phases after which a pod never runs again; drain leaves such pods alone. */
export const terminalPodPhases: ReadonlySet<string> = new Set(['Succeeded', 'Failed']);

/** Whether the pod has finished (Succeeded or Failed). */
export function isTerminalPod(pod: PodObject): boolean {
  return terminalPodPhases.has(pod.status?.phase ?? '');
}

/** The pod's namespace, "default" when the object leaves it out. */
export function podNamespace(pod: PodObject): string {
  return pod.metadata.namespace ?? 'default';
}
