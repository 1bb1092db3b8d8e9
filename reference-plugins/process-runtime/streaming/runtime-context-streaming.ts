import { ContainerState, PodSandboxState } from '../../../specs/cri/index.js';
import { containerStateOf, sandboxStateOf } from '../runtime/cri-views.js';
import { containerPaths, sandboxPaths } from '../runtime/root-layout.js';
import type { RuntimeContext } from '../runtime/runtime-context.js';
import { OciStreamingRuntime } from './oci-streaming-runtime.js';

/**
 * The process runtime's StreamingRuntime: containers and sandboxes looked
 * up in the runtime's state (exit files checked first, so a container that
 * has just exited is not running), exec and attach through the OCI runtime.
 */
export function streamingRuntimeOf(ctx: RuntimeContext): OciStreamingRuntime {
  return new OciStreamingRuntime({
    oci: ctx.oci,
    async findContainer(idOrPrefix) {
      const entry = ctx.state.findContainer(idOrPrefix);
      if (entry === undefined) return undefined;
      await ctx.exits.check(entry.record.id);
      return {
        id: entry.record.id,
        running: containerStateOf(entry) === ContainerState.CONTAINER_RUNNING,
        bundle: containerPaths(ctx.layout, entry.record.id).bundle,
        logPath: entry.record.logPath,
      };
    },
    async findSandbox(idOrPrefix) {
      const entry = ctx.state.findSandbox(idOrPrefix);
      if (entry === undefined) return undefined;
      return {
        id: entry.record.id,
        ready: sandboxStateOf(entry) === PodSandboxState.SANDBOX_READY,
        netnsPath: entry.record.hostNetwork ? undefined : sandboxPaths(ctx.layout, entry.record.id).netns,
      };
    },
  });
}
