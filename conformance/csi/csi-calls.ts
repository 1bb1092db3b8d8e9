import type { Client } from '@grpc/grpc-js';
import {
  ControllerService,
  GroupControllerService,
  NodeService,
  type RequestOf,
  type ResponseOf,
} from '../../specs/csi/index.js';
import type { CaseContext } from '../framework/index.js';
import type { CsiEndpoint, CsiSubject } from './csi-subject.js';
import { recordCall, type CallOutcome } from './record-call.js';

type Ctx = CaseContext<CsiSubject>;
type Definition = Readonly<Record<string, { readonly path: string }>>;

/** RPC names of the Controller service, as the generated client spells them (`createVolume`). */
export type ControllerRpc = keyof typeof ControllerService;
/** RPC names of the Node service (`nodeStageVolume`). */
export type NodeRpc = keyof typeof NodeService;
/** RPC names of the GroupController service. */
export type GroupControllerRpc = keyof typeof GroupControllerService;

/** The request message of a Controller RPC. */
export type ControllerRequest<K extends ControllerRpc> = RequestOf<(typeof ControllerService)[K]>;
/** The response message of a Controller RPC. */
export type ControllerResponse<K extends ControllerRpc> = ResponseOf<(typeof ControllerService)[K]>;
/** The request message of a Node RPC. */
export type NodeRequest<K extends NodeRpc> = RequestOf<(typeof NodeService)[K]>;
/** The response message of a Node RPC. */
export type NodeResponse<K extends NodeRpc> = ResponseOf<(typeof NodeService)[K]>;
/** The request message of a GroupController RPC. */
export type GroupControllerRequest<K extends GroupControllerRpc> = RequestOf<(typeof GroupControllerService)[K]>;
/** The response message of a GroupController RPC. */
export type GroupControllerResponse<K extends GroupControllerRpc> = ResponseOf<(typeof GroupControllerService)[K]>;

/**
 * Calls one Controller RPC on the controller endpoint (or the one given) and
 * records it as evidence; failures come back as values with their status.
 */
export function callController<K extends ControllerRpc>(
  ctx: Ctx,
  rpc: K,
  request: ControllerRequest<K>,
  endpoint: CsiEndpoint = ctx.subject.controllerEndpoint,
): Promise<CallOutcome<ControllerResponse<K>>> {
  return callRpc(ctx, endpoint, endpoint.controller, ControllerService, rpc, request);
}

/** Calls one Node RPC on the node endpoint, recorded. @see callController */
export function callNode<K extends NodeRpc>(
  ctx: Ctx,
  rpc: K,
  request: NodeRequest<K>,
  endpoint: CsiEndpoint = ctx.subject.nodeEndpoint,
): Promise<CallOutcome<NodeResponse<K>>> {
  return callRpc(ctx, endpoint, endpoint.node, NodeService, rpc, request);
}

/** Calls one GroupController RPC on the controller endpoint, recorded. @see callController */
export function callGroupController<K extends GroupControllerRpc>(
  ctx: Ctx,
  rpc: K,
  request: GroupControllerRequest<K>,
  endpoint: CsiEndpoint = ctx.subject.controllerEndpoint,
): Promise<CallOutcome<GroupControllerResponse<K>>> {
  return callRpc(ctx, endpoint, endpoint.groupController, GroupControllerService, rpc, request);
}

function callRpc<Req, Res>(
  ctx: Ctx,
  endpoint: CsiEndpoint,
  client: Client,
  definition: Definition,
  rpc: string,
  request: Req,
): Promise<CallOutcome<Res>> {
  const method = (client as unknown as Record<string, Parameters<typeof recordCall<Client, Req, Res>>[1]['method']>)[rpc];
  if (method === undefined) throw new Error(`the generated client has no RPC ${rpc}`);
  // "/csi.v1.Controller/CreateVolume" -> "Controller/CreateVolume", the name evidence shows.
  const name = (definition[rpc]?.path ?? rpc).replace(/^\/csi\.v1\./, '');
  return recordCall<Client, Req, Res>(ctx, { endpoint, client, method, name }, request);
}
