import type { JsonValue } from './evidence.js';

/**
 * What every subject (a plugin or kubelet under test) tells the engine: what
 * it advertises, and who it says it is. Suites extend it with their clients.
 */
export interface Subject {
  /** Capabilities the subject advertises, as flat names (see each suite's naming). */
  readonly capabilities: ReadonlySet<string>;
  /** Spec versions the subject says it supports, when the interface has several. */
  readonly specVersions?: ReadonlySet<string>;
  /** Identity as the subject reports it (name, version…), for the certificate. */
  readonly identity: { readonly [key: string]: JsonValue };
  /**
   * Capabilities this run cannot exercise although the subject may well
   * have them (e.g. the harness does not own the process it would restart),
   * each with the reason. A case needing one is skipped, which blocks
   * certification, instead of not-applicable, which does not.
   */
  readonly unobservable?: ReadonlyMap<string, string>;
}

/** What the machine running the suite can do. */
export interface Environment {
  readonly isRoot: boolean;
  /** Network namespaces can be created (`ip netns`). */
  readonly canCreateNetns: boolean;
  readonly platform: string;
  readonly arch: string;
  readonly kernel: string;
  readonly node: string;
}
