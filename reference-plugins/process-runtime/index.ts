/**
 * process-runtime: kubeplug's reference CRI runtime. RuntimeService and
 * ImageService on one unix socket; pods are pause containers in a network
 * namespace set up through CNI, containers run through runc or crun under
 * kubeplug-shim, on an overlay of the image's layers. Started by
 * `kubeplug serve cri` or in process with {@link startProcessRuntime}.
 *
 * Root layout (`--root DIR`): `images/` (the image store), `sandboxes/<id>/`
 * (sandbox.json, hostname, hosts, resolv.conf, netns, bundle/, exit,
 * shim.pid), `containers/<id>/` (container.json, bundle/, upper/, work/,
 * exit, shim.pid), `oci/` (runc's --root), `cni/cache/`, `pause-rootfs/`.
 */
import { CniInvoker } from '../../specs/cni/index.js';
import { ImageServiceService, serve, socketPathOf, type ServiceBinding } from '../../specs/cri/index.js';
import { kitVersion } from '../../runner/kit-version.js';
import { createImageService } from './images/image-service.js';
import { ImageStore } from './images/image-store.js';
import { OciRuntime } from './oci/oci-runtime.js';
import { preparePauseRootfs } from './oci/pause-rootfs.js';
import { checkRuntimeOptions, type ProcessRuntimeOptions } from './runtime-config.js';
import { ContainerEvents } from './runtime/container-events.js';
import { ExitWatcher } from './runtime/exit-watcher.js';
import type { ImageLookup } from './runtime/image-lookup.js';
import { pauseRootfsOf } from './runtime/oci-bundles.js';
import { OperationLocks } from './runtime/operation-locks.js';
import { recoverState, type RecoveryReport } from './runtime/recovery.js';
import { rootLayout } from './runtime/root-layout.js';
import type { RuntimeContext } from './runtime/runtime-context.js';
import { bindRuntimeService } from './runtime/runtime-service.js';
import { RuntimeState } from './runtime/runtime-state.js';
import { createStreamingHandlers, startStreamingServer, streamingRuntimeOf, type StreamingServer } from './streaming/index.js';

export { ProcessRuntimeOptionsError, knownOciRuntimes, type ProcessRuntimeOptions } from './runtime-config.js';
export { runtimeName } from './runtime/runtime-service.js';
export type { RecoveryReport } from './runtime/recovery.js';
export type { ImageLookup, RuntimeImage } from './runtime/image-lookup.js';

/** A running runtime. */
export interface RunningProcessRuntime {
  readonly socketPath: string;
  /** What start-up found and repaired. */
  readonly recovery: RecoveryReport;
  /** Base URL of the streaming server that Exec, Attach and PortForward answer with. */
  readonly streamingUrl: string;
  /** Stops serving and watching. Sandboxes, containers and shims stay: a later start adopts them. */
  close(): Promise<void>;
}

/**
 * Starts the runtime: opens the image store, rebuilds sandboxes and
 * containers from the root and the system (adopting running shims, rolling
 * back operations a crash cut short), then serves RuntimeService and
 * ImageService on the endpoint.
 */
export async function startProcessRuntime(options: ProcessRuntimeOptions): Promise<RunningProcessRuntime> {
  checkRuntimeOptions(options);
  // Before anything is created under the root: a bad endpoint must leave no trace.
  socketPathOf(options.endpoint);
  const log = options.log ?? ((line: string) => void process.stderr.write(`${line}\n`));
  const layout = rootLayout(options.root);
  const state = new RuntimeState();
  let store: ImageStore | undefined;
  let images: ImageLookup;
  if (options.images === undefined) {
    store = await ImageStore.open({
      root: layout.imagesDir,
      ...(options.registryMirrors === undefined ? {} : { registryMirrors: options.registryMirrors }),
      ...(options.insecureRegistries === undefined ? {} : { insecureRegistries: options.insecureRegistries }),
      layersInUse: () => new Set([...state.containers.values()].flatMap((c) => c.record.layerDirs)),
      log,
    });
    images = store;
  } else {
    images = options.images;
  }
  const exits = new ExitWatcher(log, options.exitCheckIntervalMs ?? 1000);
  const ctx: RuntimeContext = {
    layout,
    state,
    oci: new OciRuntime({ binary: options.ociRuntime ?? 'runc', stateRoot: layout.ociStateDir }),
    images,
    cni: new CniInvoker({ cniPath: [...options.cniPath], cacheDir: layout.cniCacheDir }),
    cniConfDir: options.cniConfDir,
    events: new ContainerEvents(),
    exits,
    locks: new OperationLocks(),
    podCidr: '',
    log,
  };
  let recovery: RecoveryReport;
  try {
    await preparePauseRootfs(pauseRootfsOf(ctx));
    recovery = await recoverState(ctx);
  } catch (error) {
    exits.close();
    throw error;
  }
  const repaired = Object.entries(recovery).filter(([what, ids]) => what !== 'sandboxes' && what !== 'containers' && (ids as string[]).length > 0);
  if (repaired.length > 0) log(`process-runtime: recovered state: ${repaired.map(([what, ids]) => `${what}: ${(ids as string[]).join(', ')}`).join('; ')}`);

  // Only errors without a gRPC status reach here; messages name paths and commands, never credentials.
  const onInternalError = (method: string, error: unknown): void => log(`process-runtime: ${method}: ${error instanceof Error ? error.message : String(error)}`);
  let streaming: StreamingServer;
  try {
    streaming = await startStreamingServer({ address: options.streamingAddress ?? '127.0.0.1:0', runtime: streamingRuntimeOf(ctx), log });
  } catch (error) {
    exits.close();
    throw error;
  }
  const services: ServiceBinding[] = [bindRuntimeService(ctx, kitVersion(), onInternalError, createStreamingHandlers(streaming))];
  if (store !== undefined) services.push({ definition: ImageServiceService, handlers: createImageService(store, { onInternalError }) });
  let server;
  try {
    server = await serve({ endpoint: options.endpoint, services });
  } catch (error) {
    exits.close();
    await streaming.close();
    throw error;
  }
  return {
    socketPath: server.socketPath,
    streamingUrl: streaming.baseUrl,
    recovery,
    close: async () => {
      exits.close();
      await server.close();
      await streaming.close();
    },
  };
}
