import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { Client } from '@grpc/grpc-js';
import {
  callUnary,
  ControllerClient,
  ControllerExpandVolumeRequest,
  ControllerGetVolumeRequest,
  CreateSnapshotRequest,
  CreateVolumeRequest,
  DeleteSnapshotRequest,
  DeleteVolumeRequest,
  GetCapacityRequest,
  ListSnapshotsRequest,
  ListVolumesRequest,
  NodeGetVolumeStatsRequest,
  NodePublishVolumeRequest,
  NodeStageVolumeRequest,
  NodeUnpublishVolumeRequest,
  NodeUnstageVolumeRequest,
  ValidateVolumeCapabilitiesRequest,
  createClient,
  GrpcStatusError,
  IdentityClient,
  NodeClient,
  VolumeCapability_AccessMode_Mode as Mode,
  type GrpcStatusName,
  type VolumeCapability,
} from '../../../specs/csi/index.js';
import { startDirVolumeDriver, type DirVolumeDriverOptions, type RunningDirVolumeDriver } from '../../../reference-plugins/dir-volume/index.js';
import { parseMountInfo } from '../../../reference-plugins/dir-volume/mount-table.js';

/** True when this process can mount and attach loop devices. */
export const canMount = process.getuid?.() === 0 && fs.existsSync('/dev/loop-control');
/** Why the tests that mount are skipped, or false. */
export const skipUnlessRoot = canMount ? false : 'needs root and loop devices';

type Tap = { teardown(fn: () => unknown): void };

/** A mount capability with an access mode (SINGLE_NODE_WRITER unless told). */
export function mountCapability(mode: number = Mode.SINGLE_NODE_WRITER, mountFlags: string[] = []): VolumeCapability {
  return { accessType: { $case: 'mount', value: { fsType: '', mountFlags, volumeMountGroup: '' } }, accessMode: { mode } };
}

/** A block capability with an access mode (SINGLE_NODE_WRITER unless told). */
export function blockCapability(mode: number = Mode.SINGLE_NODE_WRITER): VolumeCapability {
  return { accessType: { $case: 'block', value: {} }, accessMode: { mode } };
}

/** Mount points currently under `dir`. */
export function mountsUnder(dir: string): string[] {
  return parseMountInfo(fs.readFileSync('/proc/self/mountinfo', 'utf8'))
    .map((entry) => entry.mountPoint)
    .filter((mountPoint) => mountPoint === dir || mountPoint.startsWith(`${dir}/`));
}

/** Loop devices whose backing file lies under `dir` (read from sysfs). */
export function loopsUnder(dir: string): string[] {
  return fs
    .readdirSync('/sys/block')
    .filter((name) => name.startsWith('loop'))
    .filter((name) => {
      try {
        return fs.readFileSync(`/sys/block/${name}/loop/backing_file`, 'utf8').trim().startsWith(`${dir}/`);
      } catch {
        return false;
      }
    });
}

/** Files under `dir`, relative, recursively (what a leak check compares). */
export function filesUnder(dir: string): string[] {
  if (!fs.existsSync(dir)) return [];
  return (fs.readdirSync(dir, { recursive: true }) as string[]).filter((name) => !fs.statSync(path.join(dir, name)).isDirectory()).sort();
}

/** Unmounts everything under `dir` (deepest first) and detaches every loop device backed by a file under it. */
export function releaseEverythingUnder(dir: string): void {
  for (const mountPoint of mountsUnder(dir).reverse()) spawnSync('umount', ['-l', mountPoint]);
  for (const name of loopsUnder(dir)) spawnSync('losetup', ['-d', `/dev/${name}`]);
}

/**
 * A scratch folder for one test: `root` for the driver, `node` for the CO's
 * staging and target paths. Teardown unmounts and detaches whatever is left
 * under it, then removes it, even after a failure.
 */
export function scratch(t: Tap): { dir: string; root: string; node: string; socket: string } {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'kp-dv-'));
  fs.mkdirSync(path.join(dir, 'node'));
  t.teardown(() => {
    releaseEverythingUnder(dir);
    fs.rmSync(dir, { recursive: true, force: true });
  });
  return { dir, root: path.join(dir, 'root'), node: path.join(dir, 'node'), socket: path.join(dir, 'csi.sock') };
}

/** Clients of one running driver. */
export interface DriverClients {
  readonly controller: ControllerClient;
  readonly node: NodeClient;
  readonly identity: IdentityClient;
}

/** Creates clients for an endpoint, closed in teardown. */
export function clientsFor(t: Tap, endpoint: string): DriverClients {
  const clients = { controller: createClient(ControllerClient, endpoint), node: createClient(NodeClient, endpoint), identity: createClient(IdentityClient, endpoint) };
  t.teardown(() => Object.values(clients).forEach((client: Client) => client.close()));
  return clients;
}

/** A driver started in this process on a scratch folder, with clients; stopped in teardown. */
export interface TestDriver extends DriverClients {
  readonly driver: RunningDirVolumeDriver;
  readonly dir: string;
  readonly root: string;
  /** Where the test, as CO, makes staging and target paths. */
  readonly nodeDir: string;
  readonly endpoint: string;
  /** Log lines the driver wrote. */
  readonly log: string[];
}

/** Starts the driver in process. */
export async function startTestDriver(t: Tap, options: Partial<Omit<DirVolumeDriverOptions, 'endpoint' | 'root'>> = {}): Promise<TestDriver> {
  const where = scratch(t);
  const log: string[] = [];
  const endpoint = `unix://${where.socket}`;
  const driver = await startDirVolumeDriver({ endpoint, root: where.root, nodeId: 'node-1', vendorVersion: 'test', log: (line) => log.push(line), ...options });
  t.teardown(() => driver.close());
  return { ...clientsFor(t, endpoint), driver, dir: where.dir, root: where.root, nodeDir: where.node, endpoint, log };
}

/** The RPCs the tests call, each taking a partial request that ts-proto's fromPartial completes. */
export function rpcs(clients: DriverClients) {
  const { controller, node, identity } = clients;
  return {
    probe: () => callUnary(identity, identity.probe, {}),
    getPluginCapabilities: () => callUnary(identity, identity.getPluginCapabilities, {}),
    createVolume: (request: Partial<CreateVolumeRequest>) => callUnary(controller, controller.createVolume, CreateVolumeRequest.fromPartial(request)),
    deleteVolume: (volumeId: string) => callUnary(controller, controller.deleteVolume, DeleteVolumeRequest.fromPartial({ volumeId })),
    expandVolume: (request: Partial<ControllerExpandVolumeRequest>) => callUnary(controller, controller.controllerExpandVolume, ControllerExpandVolumeRequest.fromPartial(request)),
    validate: (request: Partial<ValidateVolumeCapabilitiesRequest>) => callUnary(controller, controller.validateVolumeCapabilities, ValidateVolumeCapabilitiesRequest.fromPartial(request)),
    listVolumes: (request: Partial<ListVolumesRequest> = {}) => callUnary(controller, controller.listVolumes, ListVolumesRequest.fromPartial(request)),
    getVolume: (volumeId: string) => callUnary(controller, controller.controllerGetVolume, ControllerGetVolumeRequest.fromPartial({ volumeId })),
    getCapacity: (request: Partial<GetCapacityRequest> = {}) => callUnary(controller, controller.getCapacity, GetCapacityRequest.fromPartial(request)),
    controllerCapabilities: () => callUnary(controller, controller.controllerGetCapabilities, {}),
    createSnapshot: (request: Partial<CreateSnapshotRequest>) => callUnary(controller, controller.createSnapshot, CreateSnapshotRequest.fromPartial(request)),
    deleteSnapshot: (snapshotId: string) => callUnary(controller, controller.deleteSnapshot, DeleteSnapshotRequest.fromPartial({ snapshotId })),
    listSnapshots: (request: Partial<ListSnapshotsRequest> = {}) => callUnary(controller, controller.listSnapshots, ListSnapshotsRequest.fromPartial(request)),
    stage: (request: Partial<NodeStageVolumeRequest>) => callUnary(node, node.nodeStageVolume, NodeStageVolumeRequest.fromPartial(request)),
    unstage: (volumeId: string, stagingTargetPath: string) => callUnary(node, node.nodeUnstageVolume, NodeUnstageVolumeRequest.fromPartial({ volumeId, stagingTargetPath })),
    publish: (request: Partial<NodePublishVolumeRequest>) => callUnary(node, node.nodePublishVolume, NodePublishVolumeRequest.fromPartial(request)),
    unpublish: (volumeId: string, targetPath: string) => callUnary(node, node.nodeUnpublishVolume, NodeUnpublishVolumeRequest.fromPartial({ volumeId, targetPath })),
    stats: (request: Partial<NodeGetVolumeStatsRequest>) => callUnary(node, node.nodeGetVolumeStats, NodeGetVolumeStatsRequest.fromPartial(request)),
    nodeInfo: () => callUnary(node, node.nodeGetInfo, {}),
    nodeCapabilities: () => callUnary(node, node.nodeGetCapabilities, {}),
  };
}

/** The status code a call failed with, or 'OK'. */
export async function codeOf(promise: Promise<unknown>): Promise<GrpcStatusName | 'OK'> {
  try {
    await promise;
    return 'OK';
  } catch (error) {
    return GrpcStatusError.from(error).code;
  }
}

/** The status a call failed with; fails when it succeeded. */
export async function errorOf(promise: Promise<unknown>): Promise<GrpcStatusError> {
  try {
    await promise;
  } catch (error) {
    return GrpcStatusError.from(error);
  }
  throw new Error('the call succeeded');
}
