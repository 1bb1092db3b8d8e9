/**
 * The seams of the reference kubelet. Each behaviour the kubelet spec judges
 * is one replaceable function here, so the wiring (kubelet/kubelet.ts) stays
 * the same and a broken-kubelet fixture swaps exactly one part. The types
 * below are the contracts between the manifest, runtime, prober and status
 * code: everything the sync loop observes and decides is plain data.
 */
import type { IntOrPercent, PodDisruptionBudget, PodDisruptionBudgetStatus } from './api/disruption-types.js';
import type { FieldError } from './api/field-error.js';
import type { ImagePullPolicy, Pod, PodStatus } from './api/pod-types.js';

/** A CRI container of a pod as the kubelet last observed it (times in ms since the epoch, 0 when unset). */
export interface ObservedContainer {
  readonly id: string;
  /** The pod spec's container name (label io.kubernetes.container.name). */
  readonly name: string;
  /** CRI metadata.attempt: the restart count when this container was created. */
  readonly attempt: number;
  readonly sandboxId: string;
  readonly state: 'created' | 'running' | 'exited' | 'unknown';
  readonly createdAt: number;
  readonly startedAt: number;
  readonly finishedAt: number;
  readonly exitCode: number;
  /** CRI's reason (e.g. OOMKilled, Completed, Error) and message. */
  readonly reason: string;
  readonly message: string;
  readonly image: string;
  readonly imageRef: string;
  readonly labels: Readonly<Record<string, string>>;
  readonly annotations: Readonly<Record<string, string>>;
}

/** A CRI sandbox of a pod as last observed. */
export interface ObservedSandbox {
  readonly id: string;
  readonly attempt: number;
  readonly ready: boolean;
  readonly ip?: string;
  readonly additionalIps: readonly string[];
  readonly createdAt: number;
  readonly labels: Readonly<Record<string, string>>;
  readonly annotations: Readonly<Record<string, string>>;
}

/** Everything the runtime holds for one pod UID; both lists newest first. */
export interface ObservedPod {
  readonly uid: string;
  readonly name: string;
  readonly namespace: string;
  readonly sandboxes: readonly ObservedSandbox[];
  readonly containers: readonly ObservedContainer[];
}

/** What the prober knows of one container (by CRI container ID). */
export interface ProbeState {
  /** The startup probe has succeeded, or there is none (and the container runs). */
  readonly started: boolean;
  /** The readiness probe's current verdict (false until its first success). */
  readonly ready: boolean;
  /** Liveness reached failureThreshold: the container must be killed and restarted. */
  readonly livenessFailed: boolean;
  /** Startup reached failureThreshold. */
  readonly startupFailed: boolean;
}

export type ProbeLookup = (containerId: string) => ProbeState;

/** One container the sync must start, in this order (each after the previous one's postStart returned). */
export interface ContainerToStart {
  readonly name: string;
  readonly kind: 'init' | 'sidecar' | 'app';
  /** Restart count the new container carries (CRI metadata.attempt). */
  readonly attempt: number;
}

export interface ContainerToKill {
  readonly containerId: string;
  readonly name: string;
  /** Event-worthy cause, e.g. "LivenessProbeFailed", "StartupProbeFailed", "PodDeleted", "DeadlineExceeded". */
  readonly reason: string;
  readonly message: string;
}

/** What one sync decides for one pod; executed in the order of the fields. */
export interface PodActions {
  /** Kill every container and stop the sandbox (sandbox dead or changed, pod deleted, deadline, terminal). */
  readonly killPod: boolean;
  readonly createSandbox: boolean;
  /** The sandbox to use when none is created. */
  readonly sandboxId?: string;
  /** Attempt of the sandbox to create. */
  readonly sandboxAttempt: number;
  readonly containersToKill: readonly ContainerToKill[];
  readonly containersToStart: readonly ContainerToStart[];
  /** Containers held back by restart back-off, with the time they may start again (ms since the epoch). */
  readonly backingOff: readonly { readonly name: string; readonly until: number; readonly message: string }[];
  /** The pod cannot go on (e.g. an init container failed under restartPolicy Never). */
  readonly podFailed?: { readonly reason: string; readonly message: string };
  /** Exited containers to remove (older attempts no status needs). */
  readonly containersToRemove: readonly string[];
}

export interface ComputeActionsInput {
  /** The desired pod, defaulted; undefined when its manifest is gone (kill everything). */
  readonly pod: Pod | undefined;
  readonly observed: ObservedPod | undefined;
  readonly probes: ProbeLookup;
  readonly now: number;
  readonly maxRestartPeriodMs: number;
  readonly restartBackoff: RestartBackoff;
  readonly deadlineExceeded: boolean;
}

/** Delay before the next restart after `streak` consecutive crashes (streak 0: the first restart). */
export type RestartBackoff = (streak: number, capMs: number) => number;

export interface StatusInput {
  readonly pod: Pod;
  readonly observed: ObservedPod | undefined;
  readonly probes: ProbeLookup;
  /** Waiting reasons the kubelet tracks itself, by container name (ErrImagePull, CrashLoopBackOff, ContainerCreating…). */
  readonly waiting: ReadonlyMap<string, { readonly reason: string; readonly message?: string }>;
  /** The status served before this one, for transition times, terminal phases and Initialized never regressing. */
  readonly previous: PodStatus | undefined;
  readonly now: Date;
  readonly deadlineExceeded: boolean;
  readonly podFailed?: { readonly reason: string; readonly message: string };
  readonly hostIP?: string;
  /** The runtime's name (CRI Version runtime_name, e.g. "containerd"): the scheme of containerID "<runtime>://<id>"; "cri" when absent. */
  readonly runtimeName?: string;
}

export type ProbeKind = 'liveness' | 'readiness' | 'startup';
export type ProbeOutcome = 'success' | 'failure';

/** A probe's running count: the verdict flips only after `threshold` consecutive opposite outcomes. */
export interface ProbeTally {
  readonly verdict: ProbeOutcome;
  readonly lastOutcome?: ProbeOutcome;
  /** How many outcomes equal to lastOutcome came in a row. */
  readonly consecutive: number;
}

export interface ProbeThresholds {
  readonly successThreshold: number;
  readonly failureThreshold: number;
}

/** The lifecycle hooks a container can have. */
export type HookKind = 'postStart' | 'preStop';

/** What {@link KubeletParts.computeBudgetStatus} needs: one budget and the pods it selects, as plain data. */
export interface BudgetStatusInput {
  readonly budget: PodDisruptionBudget;
  /** Every pod of the cluster view the budget selects (by {@link KubeletParts.budgetSelectsPod}), terminal ones included. */
  readonly pods: readonly Pod[];
  /** The kubelet's {@link KubeletParts.isPodHealthy} (passed in so a fixture that swaps it changes the counts). */
  readonly isPodHealthy: (pod: Pod) => boolean;
  /** The kubelet's {@link KubeletParts.scaleBudgetValue}. */
  readonly scaleBudgetValue: (value: IntOrPercent, total: number) => number;
  /** Peer kubelets whose pods could not be read, each as "URL: why"; the DisruptionAllowed condition names them. */
  readonly unreachablePeers: readonly string[];
  readonly now: Date;
}

/** What {@link KubeletParts.decideEviction} needs. */
export interface EvictionDecisionInput {
  /** The pod to evict, with its status as /pods serves it now. */
  readonly pod: Pod;
  /** Every budget that selects the pod, each with its status computed now. */
  readonly budgets: readonly PodDisruptionBudget[];
  /** {@link KubeletParts.isPodHealthy} of the pod. */
  readonly podHealthy: boolean;
}

/**
 * The verdict on one eviction: allowed (HTTP 201, then graceful termination),
 * refused by a budget (HTTP 429 naming it with its desired and current
 * healthy counts), or more than one budget selects the pod (HTTP 500).
 */
export type EvictionDecision =
  | { readonly verdict: 'allow'; readonly why: 'not guarded' | 'no budget' | 'unhealthy pod' | 'budget allows' }
  | { readonly verdict: 'refuse'; readonly budget: string; readonly desiredHealthy: number; readonly currentHealthy: number }
  | { readonly verdict: 'multiple-budgets'; readonly budgets: readonly string[] };

/** The replaceable behaviours of the kubelet (see kubelet/default-parts.ts for the real ones). */
export interface KubeletParts {
  readonly validatePod: (pod: Pod) => FieldError[];
  readonly computePodActions: (input: ComputeActionsInput) => PodActions;
  readonly generatePodStatus: (input: StatusInput) => PodStatus;
  readonly restartBackoff: RestartBackoff;
  /** Whether to call PullImage, given the policy and whether ImageStatus found the image. */
  readonly shouldPullImage: (policy: ImagePullPolicy, present: boolean) => boolean;
  /** The verdict a probe has before its first result (readiness: failure, liveness and startup: success). */
  readonly initialProbeVerdict: (kind: ProbeKind) => ProbeOutcome;
  /** Folds one probe outcome into the tally. */
  readonly tallyProbe: (tally: ProbeTally, outcome: ProbeOutcome, thresholds: ProbeThresholds) => ProbeTally;
  /** Whether a liveness or readiness probe may run yet (startup gates both). */
  readonly mayProbe: (kind: ProbeKind, startupSucceeded: boolean) => boolean;
  /** Runs a lifecycle hook (calls `run`), or skips it; resolves when the hook is done. */
  readonly runLifecycleHook: (kind: HookKind, run: () => Promise<void>) => Promise<void>;
  /** StopContainer's timeout in seconds, given the grace period and the seconds preStop already used. */
  readonly stopTimeoutSeconds: (gracePeriodSeconds: number, preStopElapsedSeconds: number) => number;
  /** Field errors of a PodDisruptionBudget read from the manifest folder (empty: the budget is used). */
  readonly validateDisruptionBudget: (budget: PodDisruptionBudget) => FieldError[];
  /** Whether the budget covers the pod: same namespace and its selector matches (null selector: none, {}: all). */
  readonly budgetSelectsPod: (budget: PodDisruptionBudget, pod: Pod) => boolean;
  /** Whether a pod counts towards currentHealthy: Ready=True, not terminal, not being deleted (evicted). */
  readonly isPodHealthy: (pod: Pod) => boolean;
  /** A minAvailable / maxUnavailable value as a pod count out of `total`: integers as they are, percentages rounded up. */
  readonly scaleBudgetValue: (value: IntOrPercent, total: number) => number;
  /** A budget's status (expectedPods, currentHealthy, desiredHealthy, disruptionsAllowed, condition) from the pods it selects. */
  readonly computeBudgetStatus: (input: BudgetStatusInput) => PodDisruptionBudgetStatus;
  /** Whether an eviction may go ahead, given the budgets that select the pod (incl. unhealthyPodEvictionPolicy). */
  readonly decideEviction: (input: EvictionDecisionInput) => EvictionDecision;
}
