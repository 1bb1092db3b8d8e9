import type { CniInvoker } from '../../../specs/cni/index.js';
import type { OciRuntime } from '../oci/oci-runtime.js';
import type { ContainerEvents } from './container-events.js';
import type { ImageLookup } from './image-lookup.js';
import type { OperationLocks } from './operation-locks.js';
import type { RootLayout } from './root-layout.js';
import type { RuntimeState } from './runtime-state.js';
import type { ExitWatcher } from './exit-watcher.js';

/** Everything the RuntimeService's operations share; one per running runtime, no globals. */
export interface RuntimeContext {
  readonly layout: RootLayout;
  readonly state: RuntimeState;
  readonly oci: OciRuntime;
  readonly images: ImageLookup;
  readonly cni: CniInvoker;
  /** Where the CNI network configuration is looked up (first file by name). */
  readonly cniConfDir: string;
  readonly events: ContainerEvents;
  readonly exits: ExitWatcher;
  readonly locks: OperationLocks;
  /** The pod CIDR the kubelet last gave through UpdateRuntimeConfig ('' until then). */
  podCidr: string;
  readonly log: (line: string) => void;
}
