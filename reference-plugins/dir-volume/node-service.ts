import fs from 'node:fs/promises';
import {
  GrpcStatusError,
  NodeServiceCapability_RPC_Type as Rpc,
  VolumeUsage_Unit,
  type AsyncServiceImplementation,
  type NodeGetVolumeStatsRequest,
  type NodeGetVolumeStatsResponse,
  type NodeService,
} from '../../specs/csi/index.js';
import { imageSize } from './disk-image.js';
import type { DriverContext } from './driver-context.js';
import { listLoopDevices } from './loop-devices.js';
import { readMountTable } from './mount-table.js';
import { publishVolume, unpublishVolume } from './node-publishing.js';
import { requireNodeVolume } from './node-requests.js';
import { isStageLive, stageVolume, unstageVolume } from './node-staging.js';
import { requireField, requireNodePath } from './request-fields.js';
import { nodeTopology } from './topology.js';
import { mountOfImage } from './volume-usage.js';

/** The node RPCs the driver implements in full. No EXPAND_VOLUME: expansion is offline, done by the controller. */
export const nodeCapabilities: readonly Rpc[] = [Rpc.STAGE_UNSTAGE_VOLUME, Rpc.GET_VOLUME_STATS, Rpc.VOLUME_CONDITION, Rpc.SINGLE_NODE_MULTI_WRITER];

/**
 * NodeGetVolumeStats: BYTES and INODES from statfs(2) of a staged or
 * published filesystem; a block volume's size in bytes. The path must be
 * where this volume is staged or published, else NOT_FOUND.
 */
async function volumeStats(context: DriverContext, request: NodeGetVolumeStatsRequest): Promise<NodeGetVolumeStatsResponse> {
  const volumeId = requireField(request.volumeId, 'volume_id');
  const volumePath = requireNodePath(request.volumePath, 'volume_path', context.root);
  if (request.stagingTargetPath !== '') requireNodePath(request.stagingTargetPath, 'staging_target_path', context.root);
  requireNodeVolume(context, volumeId);
  const stage = context.store.stage(volumeId);
  const publication = context.store.publish(volumePath);
  const staged = stage !== undefined && stage.stagingPath === volumePath;
  const published = publication !== undefined && publication.volumeId === volumeId;
  if (!staged && !published) throw new GrpcStatusError({ code: 'NOT_FOUND', message: `volume ${volumeId} is neither staged nor published at ${volumePath}` });
  const accessType = staged ? stage.accessType : publication!.accessType;
  const image = context.store.layout.volumeImage(volumeId);
  const [table, loops] = await Promise.all([readMountTable(), listLoopDevices()]);
  const live = staged && accessType === 'block' ? isStageLive(stage, image, table, loops) : mountOfImage(table, loops, volumePath, image) !== undefined;
  if (!live) {
    return { usage: [], volumeCondition: { abnormal: true, message: `volume ${volumeId} is recorded at ${volumePath} but the mount table does not show it there` } };
  }
  const volumeCondition = { abnormal: false, message: `mounted at ${volumePath}` };
  if (accessType === 'block') {
    const size = (await imageSize(image)) ?? 0;
    return { usage: [{ unit: VolumeUsage_Unit.BYTES, total: BigInt(size), available: 0n, used: 0n }], volumeCondition };
  }
  const stats = await fs.statfs(volumePath, { bigint: true });
  return {
    usage: [
      { unit: VolumeUsage_Unit.BYTES, total: stats.blocks * stats.bsize, available: stats.bavail * stats.bsize, used: (stats.blocks - stats.bfree) * stats.bsize },
      { unit: VolumeUsage_Unit.INODES, total: stats.files, available: stats.ffree, used: stats.files - stats.ffree },
    ],
    volumeCondition,
  };
}

/** The Node service: staging and publishing (node-staging.ts, node-publishing.ts), stats, info. */
export function createNodeService(context: DriverContext): AsyncServiceImplementation<typeof NodeService> {
  return {
    nodeStageVolume: (request) => stageVolume(context, request),
    nodeUnstageVolume: (request) => unstageVolume(context, request),
    nodePublishVolume: (request) => publishVolume(context, request),
    nodeUnpublishVolume: (request) => unpublishVolume(context, request),
    nodeGetVolumeStats: (request) => volumeStats(context, request),
    async nodeGetCapabilities() {
      return { capabilities: nodeCapabilities.map((type) => ({ type: { $case: 'rpc', value: { type } } })) };
    },
    async nodeGetInfo() {
      return { nodeId: context.nodeId, maxVolumesPerNode: BigInt(context.maxVolumesPerNode), accessibleTopology: nodeTopology(context.nodeId) };
    },
  };
}
