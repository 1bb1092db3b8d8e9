/**
 * The policy/v1 and meta/v1 objects of disruption budgets, evictions and
 * cordons, in the API's JSON shape (field names as kubernetes/api
 * policy/v1/types.go, core/v1/types.go and apimachinery meta/v1/types.go
 * declare them, kubernetes master): what the kubelet reads from its manifest
 * folder and what its HTTP endpoints answer.
 */

/** A number of pods, or a percentage of them written as "NN%" (intstr.IntOrString). */
export type IntOrPercent = number | string;

/** One matchExpressions entry of a label selector. */
export interface LabelSelectorRequirement {
  key: string;
  operator: 'In' | 'NotIn' | 'Exists' | 'DoesNotExist';
  values?: string[];
}

/** meta/v1 LabelSelector: every matchLabels pair and every expression must hold (an empty selector selects everything). */
export interface LabelSelector {
  matchLabels?: Record<string, string>;
  matchExpressions?: LabelSelectorRequirement[];
}

export type UnhealthyPodEvictionPolicy = 'IfHealthyBudget' | 'AlwaysAllow';

export interface PodDisruptionBudgetSpec {
  minAvailable?: IntOrPercent;
  maxUnavailable?: IntOrPercent;
  /** null or absent selects no pod; {} selects every pod of the namespace (policy/v1). */
  selector?: LabelSelector | null;
  unhealthyPodEvictionPolicy?: UnhealthyPodEvictionPolicy;
}

/** meta/v1 Condition. */
export interface BudgetCondition {
  type: 'DisruptionAllowed';
  status: 'True' | 'False';
  observedGeneration?: number;
  lastTransitionTime: string;
  reason: string;
  message: string;
}

export interface PodDisruptionBudgetStatus {
  observedGeneration: number;
  disruptionsAllowed: number;
  currentHealthy: number;
  desiredHealthy: number;
  expectedPods: number;
  conditions: BudgetCondition[];
}

export interface PodDisruptionBudget {
  apiVersion: 'policy/v1';
  kind: 'PodDisruptionBudget';
  metadata: { name: string; namespace: string; generation?: number; labels?: Record<string, string>; annotations?: Record<string, string> };
  spec: PodDisruptionBudgetSpec;
  status?: PodDisruptionBudgetStatus;
}

export interface PodDisruptionBudgetList {
  apiVersion: 'policy/v1';
  kind: 'PodDisruptionBudgetList';
  metadata: Record<string, never>;
  items: PodDisruptionBudget[];
}

/** policy/v1 Eviction, the body of POST …/pods/{name}/eviction. */
export interface Eviction {
  apiVersion?: string;
  kind?: string;
  metadata: { name: string; namespace?: string };
  deleteOptions?: { gracePeriodSeconds?: number };
}

/** meta/v1 StatusCause; `reason` is the JSON name of Go's Type field. */
export interface StatusCause {
  reason?: string;
  message?: string;
  field?: string;
}

/** meta/v1 Status, the answer of every non-object response. */
export interface ApiStatus {
  kind: 'Status';
  apiVersion: 'v1';
  metadata: Record<string, never>;
  status: 'Success' | 'Failure';
  message?: string;
  reason?: string;
  details?: { name?: string; kind?: string; group?: string; causes?: StatusCause[]; retryAfterSeconds?: number };
  code: number;
}

/** The part of core/v1 Node the kubelet serves: its name and whether it is cordoned. */
export interface Node {
  apiVersion: 'v1';
  kind: 'Node';
  metadata: { name: string };
  spec: { unschedulable: boolean };
}

export interface NodeList {
  apiVersion: 'v1';
  kind: 'NodeList';
  metadata: Record<string, never>;
  items: Node[];
}
