/**
 * The real kubelet's behaviours, one per {@link KubeletParts} entry: the
 * manifest validation and status generation (kubelet/manifest,
 * kubelet/status), the pod actions and back-off (kubelet/runtime), and the
 * small decisions defined here (image pulls, probe tallies and gating,
 * lifecycle hooks, the stop timeout), and the disruption budget math
 * (kubelet/disruption). Broken-kubelet fixtures replace one.
 */
import type { ImagePullPolicy } from './api/pod-types.js';
import type { HookKind, KubeletParts } from './kubelet-parts.js';
import { budgetSelectsPod, computeBudgetStatus, decideEviction, isPodHealthy, scaleBudgetValue } from './disruption/budget-math.js';
import { validateDisruptionBudget } from './disruption/validate-budget.js';
import { validatePod } from './manifest/index.js';
import { initialProbeVerdict, mayProbe, tallyProbe } from './prober/probe-parts.js';
import { computePodActions } from './runtime/compute-pod-actions.js';
import { defaultRestartBackoff } from './runtime/container-backoff.js';
import { generatePodStatus } from './status/index.js';

/**
 * Always pulls; IfNotPresent pulls only a missing image; Never never pulls.
 * Upstream: kubernetes/kubernetes v1.34 pkg/kubelet/images/image_manager.go (shouldPullImage).
 * @see KUBELET-PLUGIN-001
 */
export function shouldPullImage(policy: ImagePullPolicy, present: boolean): boolean {
  if (policy === 'Always') return true;
  if (policy === 'IfNotPresent') return !present;
  return false;
}

/**
 * Runs the hook.
 * @see KUBELET-HOOK-001
 * @see KUBELET-HOOK-005
 */
export async function runLifecycleHook(_kind: HookKind, run: () => Promise<void>): Promise<void> {
  await run();
}

export { initialProbeVerdict, mayProbe, tallyProbe };

/** The least StopContainer timeout (upstream's minimumGracePeriodInSeconds). */
export const minimumStopTimeoutSeconds = 2;

/**
 * What is left of the grace period after preStop, never less than 2 s
 * (kubernetes/kubernetes v1.34 pkg/kubelet/kuberuntime/kuberuntime_container.go killContainer).
 * @see KUBELET-HOOK-006
 */
export function stopTimeoutSeconds(gracePeriodSeconds: number, preStopElapsedSeconds: number): number {
  return Math.max(minimumStopTimeoutSeconds, Math.ceil(gracePeriodSeconds - preStopElapsedSeconds));
}

/** The reference kubelet's parts. */
export const defaultKubeletParts: KubeletParts = {
  validatePod,
  computePodActions,
  generatePodStatus,
  restartBackoff: defaultRestartBackoff,
  shouldPullImage,
  initialProbeVerdict,
  tallyProbe,
  mayProbe,
  runLifecycleHook,
  stopTimeoutSeconds,
  validateDisruptionBudget,
  budgetSelectsPod,
  isPodHealthy,
  scaleBudgetValue,
  computeBudgetStatus,
  decideEviction,
};
