import type {
  ControllerGetCapabilitiesResponse,
  GetPluginCapabilitiesResponse,
  GetPluginInfoResponse,
  GroupControllerGetCapabilitiesResponse,
  NodeGetCapabilitiesResponse,
  ProbeResponse,
} from '../../specs/csi/index.js';
import type { CaseContext } from '../framework/index.js';
import type { CsiEndpoint, CsiSubject } from './csi-subject.js';
import { recordCall, type CallOutcome } from './record-call.js';

type Ctx = CaseContext<CsiSubject>;

/** GetPluginInfo on one endpoint, recorded. */
export function getPluginInfo(ctx: Ctx, endpoint: CsiEndpoint): Promise<CallOutcome<GetPluginInfoResponse>> {
  const client = endpoint.identity;
  return recordCall(ctx, { endpoint, client, method: client.getPluginInfo, name: 'Identity/GetPluginInfo' }, {});
}

/** GetPluginCapabilities on one endpoint, recorded. */
export function getPluginCapabilities(
  ctx: Ctx,
  endpoint: CsiEndpoint,
): Promise<CallOutcome<GetPluginCapabilitiesResponse>> {
  const client = endpoint.identity;
  return recordCall(
    ctx,
    { endpoint, client, method: client.getPluginCapabilities, name: 'Identity/GetPluginCapabilities' },
    {},
  );
}

/** Probe on one endpoint, recorded. */
export function probe(ctx: Ctx, endpoint: CsiEndpoint): Promise<CallOutcome<ProbeResponse>> {
  const client = endpoint.identity;
  return recordCall(ctx, { endpoint, client, method: client.probe, name: 'Identity/Probe' }, {});
}

/** ControllerGetCapabilities on one endpoint, recorded. */
export function controllerGetCapabilities(
  ctx: Ctx,
  endpoint: CsiEndpoint,
): Promise<CallOutcome<ControllerGetCapabilitiesResponse>> {
  const client = endpoint.controller;
  return recordCall(
    ctx,
    { endpoint, client, method: client.controllerGetCapabilities, name: 'Controller/ControllerGetCapabilities' },
    {},
  );
}

/** GroupControllerGetCapabilities on one endpoint, recorded. */
export function groupControllerGetCapabilities(
  ctx: Ctx,
  endpoint: CsiEndpoint,
): Promise<CallOutcome<GroupControllerGetCapabilitiesResponse>> {
  const client = endpoint.groupController;
  return recordCall(
    ctx,
    {
      endpoint,
      client,
      method: client.groupControllerGetCapabilities,
      name: 'GroupController/GroupControllerGetCapabilities',
    },
    {},
  );
}

/** NodeGetCapabilities on one endpoint, recorded. */
export function nodeGetCapabilities(ctx: Ctx, endpoint: CsiEndpoint): Promise<CallOutcome<NodeGetCapabilitiesResponse>> {
  const client = endpoint.node;
  return recordCall(ctx, { endpoint, client, method: client.nodeGetCapabilities, name: 'Node/NodeGetCapabilities' }, {});
}
