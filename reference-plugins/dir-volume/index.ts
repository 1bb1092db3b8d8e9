/**
 * dir-volume: kubeplug's reference CSI driver. Identity, Controller and Node
 * on one unix socket; each volume is a sparse ext4 image under the root,
 * mounted through a loop device. Started by `kubeplug serve csi` or in
 * process with {@link startDirVolumeDriver}.
 */
import fs from 'node:fs/promises';
import path from 'node:path';
import {
  bindService,
  ControllerService,
  IdentityService,
  NodeService,
  PluginCapability_Service_Type,
  PluginCapability_VolumeExpansion_Type,
  serve,
  socketPathOf,
  type PluginCapability,
} from '../../specs/csi/index.js';
import { createControllerService } from './controller-service.js';
import type { CrashPoint } from './crash-points.js';
import { CapacityBudget, type DriverContext } from './driver-context.js';
import { createMountServerSystem } from './mount-server/mount-server-system.js';
import type { VolumeSystem } from './volume-system.js';
import { createIdentityService, serviceCapability } from './identity-service.js';
import { createNodeService } from './node-service.js';
import { OperationLocks } from './operation-locks.js';
import { recoverState, type RecoveryReport } from './recovery.js';
import { StateStore } from './state-store.js';
import { isValidNodeId } from './topology.js';
import { kitVersion } from '../../runner/kit-version.js';

export { dirVolumeDriverName } from './identity-service.js';
export { crashPoints, isCrashPoint, type CrashPoint } from './crash-points.js';
export { nodeTopologyKey } from './topology.js';
export { defaultVolumeBytes, allocationUnitBytes, minimumVolumeBytes } from './capacity-range.js';
export { controllerCapabilities } from './controller-service.js';
export { nodeCapabilities } from './node-service.js';
export type { RecoveryReport } from './recovery.js';

/** Options for {@link startDirVolumeDriver}. */
export interface DirVolumeDriverOptions {
  /** `unix:///path.sock` or a socket path. */
  readonly endpoint: string;
  /** The folder holding every image and record; nothing is written outside it except the mounts a CO asks for. */
  readonly root: string;
  /** This node's ID: also its topology segment, so at most 63 characters, alphanumeric at both ends. */
  readonly nodeId: string;
  /** Total bytes the driver may allocate to volumes and snapshots; without it, the free space of the root's filesystem. */
  readonly capacityBytes?: number;
  /** Reported by NodeGetInfo and enforced at NodeStageVolume; 0 means no limit. */
  readonly maxVolumesPerNode?: number;
  /** GetPluginInfo's vendor_version; kubeplug's own version when unset. */
  readonly vendorVersion?: string;
  /** For tests only: where to SIGKILL the process (see crash-points.ts). */
  readonly crashAt?: CrashPoint;
  /** Where log lines go (one per line, never secrets); stderr when unset. */
  readonly log?: (line: string) => void;
  /**
   * How mounts and loop devices are made; the resident mount server when
   * built (`npm run build`), else mount(8) and losetup(8). Closed with the driver.
   */
  readonly volumeSystem?: VolumeSystem;
}

/** A running driver. */
export interface RunningDirVolumeDriver {
  readonly socketPath: string;
  /** What the start-up reconciliation found and repaired. */
  readonly recovery: RecoveryReport;
  /** Stops serving, waiting briefly for calls in flight, and removes the socket. Mounts and volumes stay. */
  close(): Promise<void>;
}

/** The plugin capabilities: a controller, topology (volumes live on one node) and offline expansion. */
export const pluginCapabilities: readonly PluginCapability[] = [
  serviceCapability(PluginCapability_Service_Type.CONTROLLER_SERVICE),
  serviceCapability(PluginCapability_Service_Type.VOLUME_ACCESSIBILITY_CONSTRAINTS),
  { type: { $case: 'volumeExpansion', value: { type: PluginCapability_VolumeExpansion_Type.OFFLINE } } },
];

/** Options a driver refuses to start with. */
export class DirVolumeOptionsError extends Error {
  constructor(
    readonly option: string,
    message: string,
  ) {
    super(message);
    this.name = 'DirVolumeOptionsError';
  }
}

function checkOptions(options: DirVolumeDriverOptions): void {
  if (!isValidNodeId(options.nodeId)) {
    throw new DirVolumeOptionsError('nodeId', `node ID ${JSON.stringify(options.nodeId)} must be 1 to 63 characters, alphanumeric at both ends, with only '-', '_' and '.' between`);
  }
  if (options.capacityBytes !== undefined && !(Number.isSafeInteger(options.capacityBytes) && options.capacityBytes > 0)) {
    throw new DirVolumeOptionsError('capacityBytes', `capacity must be a positive whole number of bytes, not ${options.capacityBytes}`);
  }
  const max = options.maxVolumesPerNode ?? 0;
  if (!(Number.isSafeInteger(max) && max >= 0)) throw new DirVolumeOptionsError('maxVolumesPerNode', `max volumes per node must be a whole number ≥ 0, not ${max}`);
}

/**
 * Starts the driver: opens its state under `root`, reconciles it with the
 * disk and the mount table (finishing or undoing whatever a crash cut
 * short), then serves Identity, Controller and Node on the endpoint.
 */
export async function startDirVolumeDriver(options: DirVolumeDriverOptions): Promise<RunningDirVolumeDriver> {
  checkOptions(options);
  // Before anything is created under the root: a bad endpoint must leave no trace.
  socketPathOf(options.endpoint);
  const log = options.log ?? ((line: string) => void process.stderr.write(`${line}\n`));
  const root = path.resolve(options.root);
  const store = await StateStore.open(root);
  const system = options.volumeSystem ?? createMountServerSystem();
  const context: DriverContext = {
    root,
    nodeId: options.nodeId,
    maxVolumesPerNode: options.maxVolumesPerNode ?? 0,
    store,
    locks: new OperationLocks(),
    capacity: new CapacityBudget(store, options.capacityBytes),
    crashAt: options.crashAt,
    system,
    log,
  };
  const recovery = await recoverState(context);
  const repaired = Object.entries(recovery).filter(([, items]) => (items as string[]).length > 0);
  if (repaired.length > 0) log(`dir-volume: recovered state: ${repaired.map(([what, items]) => `${what}: ${(items as string[]).join(', ')}`).join('; ')}`);

  // Only errors without a gRPC status reach here; the message names paths and commands, never request secrets.
  const onInternalError = (method: string, error: unknown): void => log(`dir-volume: ${method}: ${error instanceof Error ? error.message : String(error)}`);
  const identity = createIdentityService({
    vendorVersion: options.vendorVersion ?? kitVersion(),
    capabilities: pluginCapabilities,
    // Ready while the state folder can be written: every mutating RPC needs it.
    checkReady: () => fs.access(store.layout.volumesDir, fs.constants.W_OK).then(() => true, () => false),
  });
  const server = await serve({
    endpoint: options.endpoint,
    services: [
      bindService(IdentityService, identity, onInternalError),
      bindService(ControllerService, createControllerService(context), onInternalError),
      bindService(NodeService, createNodeService(context), onInternalError),
    ],
  });
  return {
    socketPath: server.socketPath,
    recovery,
    close: async () => {
      await server.close();
      await system.close();
    },
  };
}
