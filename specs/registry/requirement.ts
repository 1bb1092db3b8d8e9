/** Requirement levels, strongest first (RFC 2119 words as the specs use them). */
export const requirementLevels = ['MUST', 'SHOULD', 'MAY'] as const;
export type RequirementLevel = (typeof requirementLevels)[number];

/** The interfaces kubeplug specifies, each with a SPEC.md and an ID prefix. */
export const interfaceNames = ['cri', 'cni', 'csi', 'kubelet'] as const;
export type InterfaceName = (typeof interfaceNames)[number];

/** ID prefix per interface: `CSI-IDENT-001` belongs to csi. */
export const idPrefixes: Readonly<Record<InterfaceName, string>> = {
  cri: 'CRI',
  cni: 'CNI',
  csi: 'CSI',
  kubelet: 'KUBELET',
};

/**
 * The form every requirement ID takes: `<IFACE>-<AREA>-<NNN>`. CNI's spec also
 * holds the Kubernetes network model's guarantees under `KUBE-NET-*`.
 */
export const requirementIdPattern = /^(?:CRI|CNI|CSI|KUBELET|KUBE)-[A-Z][A-Z0-9]*(?:-[A-Z][A-Z0-9]*)*-\d{3}$/;

/**
 * Who a rule binds. `plugin` rules (the default) are what `kubeplug certify`
 * judges; `runtime` rules bind the caller (a container runtime, a CO, the
 * kubelet) and are checked by kubeplug's own tests of its invoker and
 * kubelet; `network` rules bind a cluster's network as a whole.
 */
export const bindingParties = ['plugin', 'runtime', 'network'] as const;
export type BindingParty = (typeof bindingParties)[number];

/** One normative rule, as written in a SPEC.md. */
export interface Requirement {
  readonly id: string;
  readonly iface: InterfaceName;
  readonly level: RequirementLevel;
  /** One sentence naming the rule. */
  readonly title: string;
  /** The rule in kubeplug's words. */
  readonly rule: string;
  /** Where upstream states it: repository, version, path, section. */
  readonly source: string;
  /** Who the rule binds (`- Binds:` line; plugin when absent). */
  readonly binds: BindingParty;
  /** The `##` section the requirement sits in. */
  readonly section: string;
  /** Why no case can check it, when that is so. */
  readonly notChecked?: string;
  /** Where it is written, for error messages. */
  readonly location: { readonly file: string; readonly line: number };
}
