import type { PodDisruptionBudget, PodDisruptionBudgetSpec } from '../../../kubelet/api/disruption-types.js';
import type { Pod, PodPhase } from '../../../kubelet/api/pod-types.js';

/** A pod as /pods shows it, with the labels, phase and readiness given. */
export function podWith(options: { name?: string; namespace?: string; labels?: Record<string, string>; phase?: PodPhase; ready?: boolean; deleting?: boolean } = {}): Pod {
  const { name = 'web-node1', namespace = 'default', labels = { app: 'web' }, phase = 'Running', ready = true, deleting = false } = options;
  return {
    metadata: { name, namespace, uid: name, labels, ...(deleting ? { deletionTimestamp: '2026-01-01T00:00:00Z' } : {}) },
    spec: { containers: [{ name: 'c', image: 'busybox' }] },
    status: { phase, conditions: [{ type: 'Ready', status: ready ? 'True' : 'False' }] },
  };
}

/** A budget named `name` in `default` with the spec given (selector app=web unless set). */
export function budgetWith(spec: PodDisruptionBudgetSpec, name = 'web-pdb'): PodDisruptionBudget {
  return { apiVersion: 'policy/v1', kind: 'PodDisruptionBudget', metadata: { name, namespace: 'default' }, spec: { selector: { matchLabels: { app: 'web' } }, ...spec } };
}
