/**
 * The summary `kubeplug drain` prints on stdout when it ends: each node
 * drained or not, and for each pod left, why (the budget that blocked it,
 * the refusal, the kubelet that stopped answering).
 */
import { formatDuration } from './drain-duration.js';
import { drainSucceeded, podLabel, type DrainResult, type PodDrainResult } from './drain-nodes.js';

/** Why one pod is still on its node, in a sentence. */
export function describeLeftPod(result: PodDrainResult, timeoutMs: number, ended: DrainResult['ended']): string {
  const when = ended === 'interrupted' ? 'when interrupted' : `at the timeout (${formatDuration(timeoutMs)})`;
  const tries = `${result.attempts} eviction request${result.attempts === 1 ? '' : 's'}`;
  switch (result.outcome) {
    case 'blocked':
      return result.budget.name === undefined
        ? `still refused (429) ${when} after ${tries}: ${result.budget.message}`
        : `blocked by PodDisruptionBudget ${result.pod.namespace}/${result.budget.name} ${when} after ${tries}: ${result.budget.message}`;
    case 'terminating':
      return `eviction accepted, but the pod had not terminated ${when}`;
    case 'failed':
      return result.message;
    case 'not evicted':
      return `not evicted: no answer yet ${when}`;
    default:
      return result.outcome;
  }
}

/** The summary lines (no trailing newline on the last). */
export function formatDrainSummary(result: DrainResult, timeoutMs: number): string {
  const lines: string[] = [];
  for (const node of result.nodes) {
    if (node.outcome === 'failed') {
      lines.push(`node${node.node === undefined ? '' : `/${node.node}`} (kubelet ${node.kubelet}) not drained: could not cordon: ${node.error.message}`);
      continue;
    }
    const listFailure = result.listFailures.find((failure) => failure.kubelet === node.kubelet && failure.node === node.node);
    if (listFailure !== undefined) {
      lines.push(`node/${node.node} (kubelet ${node.kubelet}) cordoned, not drained: could not list its pods: ${listFailure.message}`);
      continue;
    }
    const pods = result.pods.filter((pod) => pod.pod.kubelet === node.kubelet && pod.pod.node === node.node);
    const left = pods.filter((pod) => pod.outcome !== 'evicted' && pod.outcome !== 'already gone');
    const evicted = pods.length - left.length;
    if (left.length === 0) {
      lines.push(`node/${node.node} drained (${evicted} pod${evicted === 1 ? '' : 's'} evicted)`);
      continue;
    }
    lines.push(`node/${node.node} (kubelet ${node.kubelet}) cordoned, not drained: ${left.length} of ${pods.length} pod${pods.length === 1 ? '' : 's'} left`);
    for (const pod of left) lines.push(`  pod ${podLabel(pod.pod)}: ${describeLeftPod(pod, timeoutMs, result.ended)}`);
  }
  if (!drainSucceeded(result) && result.ended === 'interrupted') lines.push('interrupted: the nodes stay cordoned (kubeplug uncordon undoes it)');
  return lines.join('\n');
}
