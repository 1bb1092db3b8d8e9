import type { ContainerFilter, PodSandboxFilter } from '../../../specs/cri/index.js';
import { containerStateOf, sandboxStateOf } from './cri-views.js';
import type { ContainerEntry, SandboxEntry } from './runtime-state.js';

/** True when every pair of the selector is among the labels. */
export function labelsMatch(labels: Readonly<Record<string, string>>, selector: Readonly<Record<string, string>>): boolean {
  return Object.entries(selector).every(([key, value]) => labels[key] === value);
}

/** An ID filter matches the full ID or a prefix of it, as containerd's. */
function idMatches(id: string, wanted: string): boolean {
  return wanted === '' || id.startsWith(wanted);
}

/** Every field of the filter that is set must match (AND). @see CRI list filters */
export function sandboxMatches(entry: SandboxEntry, filter: PodSandboxFilter | undefined): boolean {
  if (filter === undefined) return true;
  return (
    idMatches(entry.record.id, filter.id) &&
    (filter.state === undefined || filter.state.state === sandboxStateOf(entry)) &&
    labelsMatch(entry.record.config.labels, filter.labelSelector)
  );
}

/** Every field of the filter that is set must match (AND). */
export function containerMatches(
  entry: ContainerEntry,
  filter: Pick<ContainerFilter, 'id' | 'podSandboxId' | 'labelSelector'> & { state?: ContainerFilter['state'] } | undefined,
): boolean {
  if (filter === undefined) return true;
  return (
    idMatches(entry.record.id, filter.id) &&
    idMatches(entry.record.sandboxId, filter.podSandboxId) &&
    (filter.state === undefined || filter.state.state === containerStateOf(entry)) &&
    labelsMatch(entry.record.config.labels, filter.labelSelector)
  );
}
