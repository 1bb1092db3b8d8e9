/**
 * The UID of a static pod, derived as upstream derives it: an MD5 over the
 * node name, the manifest's source and the pod object, hex encoded. The pod
 * object is hashed in a canonical JSON form (keys sorted), so re-indenting a
 * file or turning YAML into JSON keeps the pod, while any change of a value
 * makes a new pod.
 * Source: kubernetes/kubernetes pkg/kubelet/config/common.go (applyDefaults).
 */
import { createHash } from 'node:crypto';

/** JSON text with object keys sorted at every level, undefined members dropped. */
export function canonicalJson(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map((item) => canonicalJson(item ?? null)).join(',')}]`;
  if (typeof value === 'object' && value !== null) {
    const entries = Object.entries(value as Record<string, unknown>)
      .filter(([, member]) => member !== undefined)
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    return `{${entries.map(([key, member]) => `${JSON.stringify(key)}:${canonicalJson(member)}`).join(',')}}`;
  }
  return JSON.stringify(value) ?? 'null';
}

export interface StaticPodUidOptions {
  /** The manifest's document as parsed (before defaults and renaming). */
  readonly document: unknown;
  readonly nodeName: string;
  /** Where the manifest came from (its file name): two files holding the same pod are two pods. */
  readonly source: string;
}

/**
 * The static pod's UID: 32 lowercase hex digits.
 * @see KUBELET-MANIFEST-002
 */
export function staticPodUid(options: StaticPodUidOptions): string {
  const hash = createHash('md5');
  hash.update(`host:${options.nodeName}`);
  hash.update(`file:${options.source}`);
  hash.update(canonicalJson(options.document));
  return hash.digest('hex');
}
