import path from 'node:path';
import type { Client } from '@grpc/grpc-js';
import {
  ControllerClient,
  GroupControllerClient,
  IdentityClient,
  NodeClient,
  callUnary,
  controllerCapabilityName,
  createClient,
  nodeCapabilityName,
  pluginCapabilityName,
  waitForConnection,
  type GrpcStatusError,
} from '../../specs/csi/index.js';
import type { JsonValue, Subject } from '../framework/index.js';
import { removeEmptyFolders } from './remove-empty-folders.js';
import { loadCsiRunConfig, type CsiRunConfig } from './run-config.js';

/** Which part of the plugin a socket serves. */
export type CsiEndpointRole = 'node' | 'controller';

/** One socket of the plugin under test, with a client per CSI service. */
export interface CsiEndpoint {
  readonly role: CsiEndpointRole;
  readonly endpoint: string;
  readonly identity: IdentityClient;
  readonly controller: ControllerClient;
  readonly groupController: GroupControllerClient;
  readonly node: NodeClient;
}

/** A CSI plugin under test, as the suite sees it. */
export interface CsiSubject extends Subject {
  /** Every distinct socket: the node one, and the controller one when it differs. */
  readonly endpoints: readonly CsiEndpoint[];
  readonly nodeEndpoint: CsiEndpoint;
  readonly controllerEndpoint: CsiEndpoint;
  /** Deadline for one call, so a hung plugin fails a case instead of hanging the run. */
  readonly callTimeoutMs: number;
  /** Folders, secrets, parameters and the restart command the run was given. */
  readonly config: CsiRunConfig;
  /** Closes the clients and removes the folders the run made (only those left empty). */
  close(): void;
}

/** Options for {@link connectCsiSubject}. */
export interface ConnectCsiOptions {
  /** Socket of the node plugin (or of the whole plugin). */
  readonly endpoint: string;
  /** Socket of the controller plugin when it listens apart. */
  readonly controllerEndpoint?: string;
  readonly connectTimeoutMs?: number;
  readonly callTimeoutMs?: number;
  /** Defaults to csi-sanity's: fresh temp folders, no secrets, no parameters. */
  readonly config?: CsiRunConfig;
}

/**
 * Connects to a CSI plugin and learns what it advertises (plugin, controller
 * and node capabilities) and who it says it is. A discovery call that fails is
 * noted in the identity, not thrown: judging that failure is the cases' job.
 * An endpoint that accepts no connection is thrown as EndpointUnreachableError.
 */
export async function connectCsiSubject(options: ConnectCsiOptions): Promise<CsiSubject> {
  const callTimeoutMs = options.callTimeoutMs ?? 10_000;
  const config = options.config ?? loadCsiRunConfig({});
  const open = (role: CsiEndpointRole, endpoint: string): CsiEndpoint => ({
    role,
    endpoint,
    identity: createClient(IdentityClient, endpoint),
    controller: createClient(ControllerClient, endpoint),
    groupController: createClient(GroupControllerClient, endpoint),
    node: createClient(NodeClient, endpoint),
  });
  const nodeEndpoint = open('node', options.endpoint);
  const separateController =
    options.controllerEndpoint !== undefined && options.controllerEndpoint !== options.endpoint;
  const controllerEndpoint = separateController ? open('controller', options.controllerEndpoint) : nodeEndpoint;
  const endpoints = separateController ? [nodeEndpoint, controllerEndpoint] : [nodeEndpoint];
  const close = (): void => {
    for (const endpoint of endpoints) {
      for (const client of clientsOf(endpoint)) client.close();
    }
    if (config.ownsDirs) removeEmptyFolders(path.dirname(config.mountDir));
  };

  try {
    for (const endpoint of endpoints) {
      await waitForConnection(endpoint.identity, endpoint.endpoint, options.connectTimeoutMs ?? 5000);
    }
  } catch (error) {
    close();
    throw error;
  }

  const deadline = (): Date => new Date(Date.now() + callTimeoutMs);
  const problems: string[] = [];
  const attempt = async <T>(what: string, call: () => Promise<T>): Promise<T | undefined> => {
    try {
      return await call();
    } catch (error) {
      problems.push(`${what}: ${(error as GrpcStatusError).code} ${(error as Error).message}`);
      return undefined;
    }
  };

  const capabilities = new Set<string>();
  for (const endpoint of endpoints) {
    const plugin = await attempt(`GetPluginCapabilities at ${endpoint.endpoint}`, () =>
      callUnary(endpoint.identity, endpoint.identity.getPluginCapabilities, {}, { deadline: deadline() }),
    );
    plugin?.capabilities.forEach((capability) => capabilities.add(pluginCapabilityName(capability)));
  }
  if (capabilities.has('plugin.service.CONTROLLER_SERVICE')) {
    const controller = await attempt('ControllerGetCapabilities', () =>
      callUnary(controllerEndpoint.controller, controllerEndpoint.controller.controllerGetCapabilities, {}, { deadline: deadline() }),
    );
    controller?.capabilities.forEach((capability) => capabilities.add(controllerCapabilityName(capability)));
  }
  const node = await attempt('NodeGetCapabilities', () =>
    callUnary(nodeEndpoint.node, nodeEndpoint.node.nodeGetCapabilities, {}, { deadline: deadline() }),
  );
  node?.capabilities.forEach((capability) => capabilities.add(nodeCapabilityName(capability)));

  const info = await attempt('GetPluginInfo', () =>
    callUnary(nodeEndpoint.identity, nodeEndpoint.identity.getPluginInfo, {}, { deadline: deadline() }),
  );
  const identity: { [key: string]: JsonValue } = {
    endpoint: options.endpoint,
    ...(separateController ? { controllerEndpoint: options.controllerEndpoint ?? '' } : {}),
    ...(info === undefined ? {} : { name: info.name, vendorVersion: info.vendorVersion, manifest: info.manifest }),
    capabilities: [...capabilities].sort(),
    ...(problems.length === 0 ? {} : { discoveryProblems: problems }),
  };

  return { capabilities, identity, endpoints, nodeEndpoint, controllerEndpoint, callTimeoutMs, config, close };
}

function clientsOf(endpoint: CsiEndpoint): Client[] {
  return [endpoint.identity, endpoint.controller, endpoint.groupController, endpoint.node];
}
