/**
 * ControllerPublishVolume for a driver that has none: proxy overrides
 * (conformance/fixtures/csi-driver/csi-proxy.ts) that keep an in-memory
 * attach table in front of kubeplug's dir-volume driver, as a cloud disk
 * driver's controller would, with PUBLISH_UNPUBLISH_VOLUME, PUBLISH_READONLY
 * and LIST_VOLUMES_PUBLISHED_NODES advertised. The Controller cases about
 * publishing are proved on it, and on copies broken in one way each.
 */
import { createHash } from 'node:crypto';
import {
  callUnary,
  ControllerServiceCapability_RPC_Type as Rpc,
  GrpcStatusError,
  type ControllerPublishVolumeRequest,
  type GrpcStatusName,
} from '../../specs/csi/index.js';
import type { CsiOverrides, CsiUpstream } from '../../conformance/fixtures/csi-driver/csi-proxy.js';

/** A way to break the attach table, and the Controller rules it then breaks. */
export type AttachDefect =
  | 'none'
  | 'publish-not-idempotent'
  | 'unknown-node-accepted'
  | 'readonly-flip-accepted'
  | 'unpublish-unknown-internal'
  | 'published-nodes-not-listed';

/** The rule IDs each defect must fail, exactly. */
export const attachDefectBreaks: Readonly<Record<AttachDefect, readonly string[]>> = {
  none: [],
  'publish-not-idempotent': ['CSI-CTRL-030'],
  'unknown-node-accepted': ['CSI-CTRL-032'],
  'readonly-flip-accepted': ['CSI-CTRL-033'],
  'unpublish-unknown-internal': ['CSI-CTRL-038', 'CSI-CTRL-039', 'CSI-CTRL-040'],
  'published-nodes-not-listed': ['CSI-CTRL-050'],
};

interface Attachment {
  readonly nodeId: string;
  readonly readonly: boolean;
  readonly capability: string;
}

const fail = (code: GrpcStatusName, message: string): never => {
  throw new GrpcStatusError({ code, message });
};

/** The overrides, with one defect or none; the table lives as long as the returned object. */
export function attachTableOverrides(defect: AttachDefect): (upstream: CsiUpstream) => CsiOverrides {
  return (upstream) => {
    const attachments = new Map<string, Attachment>();
    const nodeInfo = () => callUnary(upstream.node, upstream.node.nodeGetInfo, {});
    const publishedNodes = (volumeId: string): string[] => {
      const attachment = attachments.get(volumeId);
      return attachment === undefined ? [] : [attachment.nodeId];
    };
    const publish = async (request: ControllerPublishVolumeRequest) => {
      if (request.volumeId === '') fail('INVALID_ARGUMENT', 'volume_id is required');
      if (request.nodeId === '') fail('INVALID_ARGUMENT', 'node_id is required');
      if (request.volumeCapability === undefined) fail('INVALID_ARGUMENT', 'volume_capability is required');
      await callUnary(upstream.controller, upstream.controller.controllerGetVolume, { volumeId: request.volumeId });
      const node = await nodeInfo();
      if (request.nodeId !== node.nodeId && defect !== 'unknown-node-accepted') fail('NOT_FOUND', `no node ${request.nodeId}`);
      const wanted: Attachment = { nodeId: request.nodeId, readonly: request.readonly, capability: JSON.stringify(request.volumeCapability) };
      const existing = attachments.get(request.volumeId);
      const publishContext = { attachment: createHash('sha256').update(`${request.volumeId}@${request.nodeId}`).digest('hex').slice(0, 16) };
      if (existing !== undefined) {
        if (existing.nodeId !== wanted.nodeId) fail('FAILED_PRECONDITION', `volume ${request.volumeId} is published at node ${existing.nodeId}`);
        const same = existing.readonly === wanted.readonly && existing.capability === wanted.capability;
        if (defect === 'publish-not-idempotent' || (!same && defect !== 'readonly-flip-accepted')) {
          fail('ALREADY_EXISTS', `volume ${request.volumeId} is published at ${existing.nodeId} with other properties`);
        }
        attachments.set(request.volumeId, wanted);
        return { publishContext };
      }
      const atNode = [...attachments.values()].filter((attachment) => attachment.nodeId === request.nodeId).length;
      if (node.maxVolumesPerNode > 0n && BigInt(atNode) >= node.maxVolumesPerNode) fail('RESOURCE_EXHAUSTED', `node ${request.nodeId} has ${atNode} volumes attached`);
      attachments.set(request.volumeId, wanted);
      return { publishContext };
    };
    return {
      controller: {
        controllerGetCapabilities: async (request, forward) => {
          const answer = await forward(request);
          const added = [Rpc.PUBLISH_UNPUBLISH_VOLUME, Rpc.PUBLISH_READONLY, Rpc.LIST_VOLUMES_PUBLISHED_NODES];
          return { capabilities: [...answer.capabilities, ...added.map((type) => ({ type: { $case: 'rpc' as const, value: { type } } }))] };
        },
        controllerPublishVolume: (request) => publish(request),
        controllerUnpublishVolume: async (request) => {
          if (request.volumeId === '') fail('INVALID_ARGUMENT', 'volume_id is required');
          const attachment = attachments.get(request.volumeId);
          const matches = attachment !== undefined && (request.nodeId === '' || attachment.nodeId === request.nodeId);
          if (!matches && defect === 'unpublish-unknown-internal') fail('INTERNAL', `no attachment of ${request.volumeId}`);
          if (matches) attachments.delete(request.volumeId);
          return {};
        },
        controllerExpandVolume: async (request, forward) => {
          // dir-volume expands OFFLINE only: an attached volume is in use.
          if (attachments.has(request.volumeId)) fail('FAILED_PRECONDITION', `volume ${request.volumeId} is published`);
          return forward(request);
        },
        deleteVolume: async (request, forward) => {
          if (attachments.has(request.volumeId)) fail('FAILED_PRECONDITION', `volume ${request.volumeId} is published`);
          return forward(request);
        },
        listVolumes: async (request, forward) => {
          const answer = await forward(request);
          return {
            ...answer,
            entries: answer.entries.map((entry) => ({
              ...entry,
              status: {
                volumeCondition: entry.status?.volumeCondition,
                publishedNodeIds: defect === 'published-nodes-not-listed' ? [] : publishedNodes(entry.volume?.volumeId ?? ''),
              },
            })),
          };
        },
        controllerGetVolume: async (request, forward) => {
          const answer = await forward(request);
          return { ...answer, status: { volumeCondition: answer.status?.volumeCondition, publishedNodeIds: publishedNodes(request.volumeId) } };
        },
      },
    };
  };
}
