/**
 * The gRPC clients the kubelet holds for one CSI driver, and how they are
 * made from `--csi-endpoint NAME=unix:///…`; the same clients the CSI suite
 * uses (conformance/csi/csi-subject.ts), from kubeplug/csi.
 */
import { ControllerClient, createClient, IdentityClient, NodeClient } from '../../specs/csi/index.js';

/** One CSI driver's services on its endpoint. */
export interface CsiClients {
  readonly identity: IdentityClient;
  readonly controller: ControllerClient;
  readonly node: NodeClient;
}

/** A `--csi-endpoint` value: the driver's name and its endpoint. */
export interface CsiEndpointFlag {
  readonly driver: string;
  readonly endpoint: string;
}

/** Reads `NAME=unix:///path`; throws a usage error naming the value otherwise. */
export function parseCsiEndpointFlag(value: string): CsiEndpointFlag {
  const equals = value.indexOf('=');
  const driver = equals < 0 ? '' : value.slice(0, equals);
  const endpoint = equals < 0 ? '' : value.slice(equals + 1);
  if (driver === '' || !endpoint.startsWith('unix://')) throw new Error(`--csi-endpoint ${JSON.stringify(value)}: expected NAME=unix:///path/to/socket`);
  return { driver, endpoint };
}

/** Clients for every service of the driver at `endpoint` (no connection is made yet). */
export function connectCsiDriver(endpoint: string): CsiClients {
  return {
    identity: createClient(IdentityClient, endpoint),
    controller: createClient(ControllerClient, endpoint),
    node: createClient(NodeClient, endpoint),
  };
}

/** Closes the channels of {@link connectCsiDriver}. */
export function closeCsiClients(clients: CsiClients): void {
  clients.identity.close();
  clients.controller.close();
  clients.node.close();
}
