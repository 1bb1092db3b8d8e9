/**
 * Cordon and uncordon: set spec.unschedulable on each kubelet's Node, as
 * kubectl's CordonHelper does (kubernetes/kubernetes
 * staging/src/k8s.io/kubectl/pkg/drain/cordon.go at dd7e566d: read the Node,
 * patch only when the value differs; staging/src/k8s.io/kubectl/pkg/cmd/drain/drain.go
 * at 1c9cf914, RunCordonOrUncordon: "cordoned" / "already cordoned").
 */
import { KubeletClientError } from './kubelet-client-error.js';
import type { KubeletClient } from './kubelet-client.js';

/** What became of one kubelet's Node. */
export type NodeScheduleResult =
  | { readonly kubelet: string; readonly node: string; readonly outcome: 'cordoned' | 'already cordoned' | 'uncordoned' | 'already uncordoned' }
  | { readonly kubelet: string; readonly node: string | undefined; readonly outcome: 'failed'; readonly error: KubeletClientError };

/** Options of {@link setNodesUnschedulable}. */
export interface SetUnschedulableOptions {
  readonly kubelets: readonly KubeletClient[];
  /** true cordons, false uncordons. */
  readonly unschedulable: boolean;
  readonly signal?: AbortSignal;
  /** One progress line per node. */
  readonly log?: (line: string) => void;
}

/** Cordons or uncordons every kubelet's Node, all at once; one result per kubelet, in the order given. */
export function setNodesUnschedulable(options: SetUnschedulableOptions): Promise<NodeScheduleResult[]> {
  const verb = options.unschedulable ? 'cordon' : 'uncordon';
  return Promise.all(
    options.kubelets.map(async (client): Promise<NodeScheduleResult> => {
      let nodeName: string | undefined;
      try {
        const node = await client.getNode(options.signal);
        nodeName = node.metadata.name;
        const already = (node.spec?.unschedulable ?? false) === options.unschedulable;
        if (!already) await client.setUnschedulable(nodeName, options.unschedulable, options.signal);
        const outcome = `${already ? 'already ' : ''}${verb}ed` as 'cordoned' | 'already cordoned' | 'uncordoned' | 'already uncordoned';
        options.log?.(`node/${nodeName} ${outcome} (kubelet ${client.url})`);
        return { kubelet: client.url, node: nodeName, outcome };
      } catch (error) {
        const failure = KubeletClientError.from(error, client.url);
        options.log?.(`error: unable to ${verb} node${nodeName === undefined ? '' : ` ${nodeName}`}: ${failure.message}`);
        return { kubelet: client.url, node: nodeName, outcome: 'failed', error: failure };
      }
    }),
  );
}
