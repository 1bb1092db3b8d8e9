import {
  ImageServiceClient,
  RuntimeServiceClient,
  callUnary,
  createClient,
  socketPathOf,
  waitForConnection,
  type GrpcStatusError,
  type RuntimeConfigResponse,
  type StatusResponse,
  type VersionResponse,
} from '../../specs/cri/index.js';
import type { JsonValue, Subject } from '../framework/index.js';
import { prepareCriRun, type CriRun, type CriRunSettings } from './run-config.js';

/** The version the kubelet sends in VersionRequest (its kubeRuntimeAPIVersion); the runtime must echo it. @see CRI-RUNTIME-003 */
export const criApiVersionName = '0.1.0';

/** A container runtime under test, as the suite sees it. */
export interface CriSubject extends Subject {
  readonly runtimeEndpoint: string;
  readonly imageEndpoint: string;
  readonly runtime: RuntimeServiceClient;
  readonly images: ImageServiceClient;
  /** Deadline of one call, so a hung runtime fails a case instead of hanging the run. */
  readonly callTimeoutMs: number;
  /** What Version answered when the suite connected (cases check it again themselves). */
  readonly version?: VersionResponse;
  /** What Status answered when the suite connected. */
  readonly status?: StatusResponse;
  /** What RuntimeConfig answered, when the runtime implements it. */
  readonly runtimeConfig?: RuntimeConfigResponse;
  /** Registry, test images, cgroup parent, log folders and restart command of the run. */
  readonly run: CriRun;
  /** Closes the clients and releases what the run made (registry, folders). */
  close(): void;
}

/** Options for {@link connectCriSubject}. */
export interface ConnectCriOptions {
  /** RuntimeService socket (`--runtime-endpoint`). */
  readonly runtimeEndpoint: string;
  /** ImageService socket (`--image-endpoint`); the runtime endpoint when unset, as in critest. */
  readonly imageEndpoint?: string;
  readonly connectTimeoutMs?: number;
  readonly callTimeoutMs?: number;
  readonly settings: CriRunSettings;
}

/**
 * Connects to a CRI runtime, asks who it is (Version) and what it offers
 * (Status, RuntimeConfig), then prepares the run (registry and test images).
 * A discovery call that fails is noted in the identity, not thrown: judging it
 * is the cases' job. An endpoint that accepts no connection is thrown as
 * EndpointUnreachableError, a malformed one as EndpointError.
 */
export async function connectCriSubject(options: ConnectCriOptions): Promise<CriSubject> {
  const callTimeoutMs = options.callTimeoutMs ?? 10_000;
  const runtimeEndpoint = options.runtimeEndpoint;
  const imageEndpoint = options.imageEndpoint ?? runtimeEndpoint;
  // Both are parsed before any client exists, so a malformed endpoint is an EndpointError naming it.
  socketPathOf(runtimeEndpoint);
  socketPathOf(imageEndpoint);
  const runtime = createClient(RuntimeServiceClient, runtimeEndpoint);
  const images = createClient(ImageServiceClient, imageEndpoint);
  const closeClients = (): void => {
    runtime.close();
    images.close();
  };
  try {
    await waitForConnection(runtime, runtimeEndpoint, options.connectTimeoutMs ?? 5000);
    if (imageEndpoint !== runtimeEndpoint) await waitForConnection(images, imageEndpoint, options.connectTimeoutMs ?? 5000);
  } catch (error) {
    closeClients();
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
  const version = await attempt('Version', () => callUnary(runtime, runtime.version, { version: criApiVersionName }, { deadline: deadline() }));
  const status = await attempt('Status', () => callUnary(runtime, runtime.status, { verbose: false }, { deadline: deadline() }));
  const runtimeConfig = await attempt('RuntimeConfig', () => callUnary(runtime, runtime.runtimeConfig, {}, { deadline: deadline() }));

  let run: CriRun;
  try {
    run = await prepareCriRun(options.settings, { cgroupDriver: runtimeConfig?.linux?.cgroupDriver });
  } catch (error) {
    closeClients();
    throw error;
  }

  const capabilities = capabilitiesOf(status);
  const identity: { [key: string]: JsonValue } = {
    runtimeEndpoint,
    ...(imageEndpoint === runtimeEndpoint ? {} : { imageEndpoint }),
    ...(version === undefined
      ? {}
      : {
          name: version.runtimeName,
          version: version.runtimeVersion,
          runtimeApiVersion: version.runtimeApiVersion,
          kubeletApiVersion: version.version,
        }),
    capabilities: [...capabilities].sort(),
    registry: run.registry,
    ...(problems.length === 0 ? {} : { discoveryProblems: problems }),
  };
  return {
    capabilities,
    identity,
    runtimeEndpoint,
    imageEndpoint,
    runtime,
    images,
    callTimeoutMs,
    ...(version === undefined ? {} : { version }),
    ...(status === undefined ? {} : { status }),
    ...(runtimeConfig === undefined ? {} : { runtimeConfig }),
    run,
    close() {
      closeClients();
      // The runner does not wait: the registry's stop keeps the process alive until it is done.
      void run.close();
    },
  };
}

/**
 * What Status advertises, as flat names: `handler.<name>` per runtime
 * handler (`handler.` for the default one), `handler.<name>.recursive_read_only_mounts`
 * and `.user_namespaces` per feature, and `supplemental_groups_policy`.
 */
function capabilitiesOf(status: StatusResponse | undefined): Set<string> {
  const capabilities = new Set<string>();
  for (const handler of status?.runtimeHandlers ?? []) {
    capabilities.add(`handler.${handler.name}`);
    if (handler.features?.recursiveReadOnlyMounts === true) capabilities.add(`handler.${handler.name}.recursive_read_only_mounts`);
    if (handler.features?.userNamespaces === true) capabilities.add(`handler.${handler.name}.user_namespaces`);
  }
  if (status?.features?.supplementalGroupsPolicy === true) capabilities.add('supplemental_groups_policy');
  return capabilities;
}
