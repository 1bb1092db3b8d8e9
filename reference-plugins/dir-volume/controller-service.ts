import {
  ControllerServiceCapability_RPC_Type as Rpc,
  GrpcStatusError,
  type AsyncServiceImplementation,
  type ControllerService,
  type ControllerServiceCapability,
  type ValidateVolumeCapabilitiesResponse,
  type VolumeCondition,
} from '../../specs/csi/index.js';
import { allocationUnitBytes, minimumVolumeBytes } from './capacity-range.js';
import { imageSize } from './disk-image.js';
import type { DriverContext } from './driver-context.js';
import { pageOf } from './pagination.js';
import { invalidArgument, requireField } from './request-fields.js';
import { createSnapshot, deleteSnapshot, getSnapshot, listSnapshots } from './snapshot-operations.js';
import type { VolumeRecord } from './state-store.js';
import { isThisNode } from './topology.js';
import { isProblem, parseCapability } from './volume-capabilities.js';
import { isVolumeId } from './volume-ids.js';
import { checkParameters, createVolume, deleteVolume, expandVolume, volumeMessage } from './volume-provisioning.js';

/** The controller RPCs the driver implements in full; nothing else is advertised. */
export const controllerCapabilities: readonly Rpc[] = [
  Rpc.CREATE_DELETE_VOLUME,
  Rpc.LIST_VOLUMES,
  Rpc.GET_CAPACITY,
  Rpc.CREATE_DELETE_SNAPSHOT,
  Rpc.LIST_SNAPSHOTS,
  Rpc.GET_SNAPSHOT,
  Rpc.CLONE_VOLUME,
  Rpc.EXPAND_VOLUME,
  Rpc.VOLUME_CONDITION,
  Rpc.GET_VOLUME,
  Rpc.SINGLE_NODE_MULTI_WRITER,
];

/** The controller's view of a volume's health: its image is there and as large as recorded. */
async function controllerCondition(context: DriverContext, record: VolumeRecord): Promise<VolumeCondition> {
  const size = await imageSize(context.store.layout.volumeImage(record.id));
  if (size === undefined) return { abnormal: true, message: `the image of volume ${record.id} is missing` };
  if (size < record.capacityBytes) return { abnormal: true, message: `the image of volume ${record.id} holds ${size} bytes, less than its ${record.capacityBytes}` };
  return { abnormal: false, message: 'image present at full size' };
}

function notFound(id: string): GrpcStatusError {
  return new GrpcStatusError({ code: 'NOT_FOUND', message: `volume ${id} does not exist` });
}

/**
 * The Controller service: each handler validates its request, takes the
 * per-volume lock where it changes something, then acts (see
 * volume-provisioning.ts and snapshot-operations.ts).
 */
export function createControllerService(context: DriverContext): AsyncServiceImplementation<typeof ControllerService> {
  return {
    createVolume: (request) => createVolume(context, request),
    deleteVolume: (request) => deleteVolume(context, request),
    controllerExpandVolume: (request) => expandVolume(context, request),
    createSnapshot: (request) => createSnapshot(context, request),
    deleteSnapshot: (request) => deleteSnapshot(context, request),
    listSnapshots: (request) => listSnapshots(context, request),
    getSnapshot: (request) => getSnapshot(context, request),

    async controllerGetCapabilities() {
      const capabilities: ControllerServiceCapability[] = controllerCapabilities.map((type) => ({ type: { $case: 'rpc', value: { type } } }));
      return { capabilities };
    },

    /** Confirms the capabilities when the volume can serve every one; otherwise says why, unconfirmed. */
    async validateVolumeCapabilities(request): Promise<ValidateVolumeCapabilitiesResponse> {
      const id = requireField(request.volumeId, 'volume_id');
      if (request.volumeCapabilities.length === 0) throw invalidArgument('volume_capabilities is required');
      const record = isVolumeId(id) ? context.store.volume(id) : undefined;
      if (record === undefined) throw notFound(id);
      for (const [index, capability] of request.volumeCapabilities.entries()) {
        const parsed = parseCapability(capability, `volume_capabilities[${index}]`);
        if (isProblem(parsed)) return { message: `${parsed.field} ${parsed.reason}` };
        if (!record.accessTypes.includes(parsed.accessType)) return { message: `volume ${id} was created for ${record.accessTypes.join(', ')} access, not ${parsed.accessType}` };
      }
      if (Object.keys(request.volumeContext).length > 0) return { message: 'volume_context does not match: this driver sets none' };
      try {
        checkParameters(request.parameters, 'parameters');
      } catch (error) {
        return { message: error instanceof Error ? error.message : String(error) };
      }
      if (Object.keys(request.mutableParameters).length > 0) return { message: 'mutable_parameters are not supported' };
      return { confirmed: { volumeContext: {}, volumeCapabilities: request.volumeCapabilities, parameters: request.parameters, mutableParameters: {} }, message: '' };
    },

    async listVolumes(request) {
      const page = pageOf({ records: context.store.volumes(), maxEntries: request.maxEntries, startingToken: request.startingToken, isToken: isVolumeId });
      const entries = await Promise.all(
        page.records.map(async (record) => ({
          volume: volumeMessage(context, record),
          status: { publishedNodeIds: [], volumeCondition: await controllerCondition(context, record) },
        })),
      );
      return { entries, nextToken: page.nextToken };
    },

    async controllerGetVolume(request) {
      const id = requireField(request.volumeId, 'volume_id');
      const record = isVolumeId(id) ? context.store.volume(id) : undefined;
      if (record === undefined) throw notFound(id);
      return { volume: volumeMessage(context, record), status: { publishedNodeIds: [], volumeCondition: await controllerCondition(context, record) } };
    },

    /** What is left to provision; 0 for capabilities or a topology this driver cannot serve. */
    async getCapacity(request) {
      checkParameters(request.parameters, 'parameters');
      const servable =
        request.volumeCapabilities.every((capability, index) => !isProblem(parseCapability(capability, `volume_capabilities[${index}]`))) &&
        (request.accessibleTopology === undefined || isThisNode(request.accessibleTopology, context.nodeId));
      const available = servable ? context.capacity.availableBytes() : 0;
      const largest = Math.floor(available / allocationUnitBytes) * allocationUnitBytes;
      return {
        availableCapacity: BigInt(available),
        maximumVolumeSize: BigInt(largest),
        minimumVolumeSize: BigInt(minimumVolumeBytes),
      };
    },
  };
}
