/**
 * CSI inline ephemeral volumes, driven the way the real kubelet drives them
 * (kubernetes/kubernetes pkg/volume/csi: csi_attacher.go, csi_mounter.go,
 * csi_client.go), with provisioning added for drivers that need a created
 * volume: CreateVolume (controller CREATE_DELETE_VOLUME), ControllerPublishVolume
 * (PUBLISH_UNPUBLISH_VOLUME), NodeStageVolume (node STAGE_UNSTAGE_VOLUME),
 * NodePublishVolume; teardown in reverse. Each step is recorded in
 * `vol_data.json` beside the target before the call is made, so a restarted
 * kubelet undoes exactly what may have been done (every undo is idempotent in CSI).
 * @see KUBELET-PLUGIN-003
 * @see KUBELET-PLUGIN-004
 */
import { createHash } from 'node:crypto';
import fs from 'node:fs/promises';
import path from 'node:path';
import {
  callUnary,
  ControllerServiceCapability_RPC_Type,
  GrpcStatusError,
  NodeServiceCapability_RPC_Type,
  VolumeCapability_AccessMode_Mode,
  type Topology,
  type VolumeCapability,
} from '../../specs/csi/index.js';
import type { CsiVolumeSource } from '../api/pod-types.js';
import type { CsiClients } from './csi-clients.js';
import { readJson, writeJsonAtomic } from './durable-json.js';
import { VolumeError } from './volume-error.js';
import { csiStagingPath, csiTargetPath, csiVolumeDir } from './volume-paths.js';

/** Keys the kubelet adds to volume_context (upstream csi_mounter.go). */
export const csiContextKeys = {
  podName: 'csi.storage.k8s.io/pod.name',
  podNamespace: 'csi.storage.k8s.io/pod.namespace',
  podUid: 'csi.storage.k8s.io/pod.uid',
  ephemeral: 'csi.storage.k8s.io/ephemeral',
} as const;

/** What was set up for one inline CSI volume, persisted as vol_data.json. */
export interface CsiVolumeRecord {
  readonly version: 1;
  readonly podUid: string;
  readonly volume: string;
  readonly driver: string;
  /** CreateVolume's name (idempotency key), derived from the pod UID and volume name. */
  readonly createName: string;
  volumeId?: string;
  /** CreateVolume succeeded: DeleteVolume on teardown. */
  created: boolean;
  nodeId?: string;
  /** ControllerPublishVolume was (maybe) called. */
  controllerPublished: boolean;
  publishContext: Record<string, string>;
  stagingPath?: string;
  /** NodeStageVolume was (maybe) called. */
  staged: boolean;
  readonly targetPath: string;
  /** NodePublishVolume was (maybe) called. */
  published: boolean;
  volumeContext: Record<string, string>;
  accessMode: number;
  readonly fsType: string;
  readonly readOnly: boolean;
}

/** The pod a volume belongs to. */
export interface CsiPodRef {
  readonly uid: string;
  readonly name: string;
  readonly namespace: string;
}

interface DriverFacts {
  readonly controller: ReadonlySet<ControllerServiceCapability_RPC_Type>;
  readonly node: ReadonlySet<NodeServiceCapability_RPC_Type>;
  readonly nodeId: string;
  readonly topology?: Topology;
}

const bytesPerUnit: Record<string, bigint> = {
  '': 1n,
  k: 1000n,
  M: 1000n ** 2n,
  G: 1000n ** 3n,
  T: 1000n ** 4n,
  Ki: 1024n,
  Mi: 1024n ** 2n,
  Gi: 1024n ** 3n,
  Ti: 1024n ** 4n,
};

/** Bytes of a whole-number Kubernetes quantity ("64Mi", "1G", "1048576"); undefined when it is not one. */
export function parseQuantityBytes(text: string): bigint | undefined {
  const match = /^(\d+)(k|M|G|T|Ki|Mi|Gi|Ti)?$/.exec(text.trim());
  if (match === null) return undefined;
  return BigInt(match[1]!) * bytesPerUnit[match[2] ?? '']!;
}

/** CreateVolume's name for a pod's inline volume: stable, unique per (pod, volume), within CSI's 128 characters. */
export function csiCreateName(podUid: string, volume: string): string {
  return `kubeplug-${createHash('sha256').update(`${podUid}/${volume}`).digest('hex').slice(0, 40)}`;
}

/** The volume handle of an inline volume nobody provisions (upstream makeVolumeHandle: "csi-" + sha256(podUID + volume)). */
export function csiInlineHandle(podUid: string, volume: string): string {
  return `csi-${createHash('sha256').update(`${podUid}${volume}`).digest('hex')}`;
}

function isGone(error: unknown): boolean {
  return GrpcStatusError.from(error).code === 'NOT_FOUND';
}

function isUnimplemented(error: unknown): boolean {
  return GrpcStatusError.from(error).code === 'UNIMPLEMENTED';
}

function recordFile(rootDir: string, uid: string, volume: string): string {
  return path.join(csiVolumeDir(rootDir, uid, volume), 'vol_data.json');
}

/** Sets up and tears down a pod's inline CSI volumes. */
export class CsiVolumes {
  readonly #rootDir: string;
  readonly #drivers: ReadonlyMap<string, CsiClients>;
  readonly #facts = new Map<string, Promise<DriverFacts>>();
  readonly #timeoutMs: number;

  constructor(options: { rootDir: string; drivers: ReadonlyMap<string, CsiClients>; callTimeoutMs?: number }) {
    this.#rootDir = options.rootDir;
    this.#drivers = options.drivers;
    this.#timeoutMs = options.callTimeoutMs ?? 60_000;
  }

  #deadline(): { deadline: Date } {
    return { deadline: new Date(Date.now() + this.#timeoutMs) };
  }

  #clients(volume: string, driver: string): CsiClients {
    const clients = this.#drivers.get(driver);
    if (clients === undefined) throw new VolumeError({ volume, message: `driver name ${driver} not found in the list of registered CSI drivers` });
    return clients;
  }

  /** The driver's capabilities and node ID, asked once (asked again after a failure). */
  #driverFacts(driver: string, clients: CsiClients): Promise<DriverFacts> {
    let facts = this.#facts.get(driver);
    if (facts === undefined) {
      facts = this.#askDriver(clients);
      this.#facts.set(driver, facts);
      facts.catch(() => this.#facts.delete(driver));
    }
    return facts;
  }

  async #askDriver(clients: CsiClients): Promise<DriverFacts> {
    const [controllerCaps, nodeCaps, info] = await Promise.all([
      callUnary(clients.controller, clients.controller.controllerGetCapabilities, {}, this.#deadline()).catch((error: unknown) => {
        if (isUnimplemented(error)) return { capabilities: [] };
        throw error;
      }),
      callUnary(clients.node, clients.node.nodeGetCapabilities, {}, this.#deadline()),
      callUnary(clients.node, clients.node.nodeGetInfo, {}, this.#deadline()),
    ]);
    const controller = new Set<ControllerServiceCapability_RPC_Type>();
    for (const capability of controllerCaps.capabilities) if (capability.type?.$case === 'rpc') controller.add(capability.type.value.type);
    const node = new Set<NodeServiceCapability_RPC_Type>();
    for (const capability of nodeCaps.capabilities) if (capability.type?.$case === 'rpc') node.add(capability.type.value.type);
    return { controller, node, nodeId: info.nodeId, ...(info.accessibleTopology === undefined ? {} : { topology: info.accessibleTopology }) };
  }

  /**
   * Makes the volume ready for the pod's containers (idempotent: steps
   * already recorded as done are not repeated); resolves with the host path to bind.
   */
  async setUp(pod: CsiPodRef, volume: string, source: CsiVolumeSource): Promise<string> {
    const clients = this.#clients(volume, source.driver);
    const file = recordFile(this.#rootDir, pod.uid, volume);
    const existing = await readJson<CsiVolumeRecord>(file);
    if (existing?.published === true && existing.volumeId !== undefined && existing.driver === source.driver) return existing.targetPath;
    try {
      const facts = await this.#driverFacts(source.driver, clients);
      const multiWriter = facts.node.has(NodeServiceCapability_RPC_Type.SINGLE_NODE_MULTI_WRITER);
      const attributes = source.volumeAttributes ?? {};
      const record: CsiVolumeRecord = existing ?? {
        version: 1,
        podUid: pod.uid,
        volume,
        driver: source.driver,
        createName: csiCreateName(pod.uid, volume),
        created: false,
        controllerPublished: false,
        publishContext: {},
        staged: false,
        targetPath: csiTargetPath(this.#rootDir, pod.uid, volume),
        published: false,
        volumeContext: { ...attributes },
        // SINGLE_NODE_WRITER allows one publish target; the multi-writer mode lets a restarted pod publish again.
        accessMode: multiWriter ? VolumeCapability_AccessMode_Mode.SINGLE_NODE_MULTI_WRITER : VolumeCapability_AccessMode_Mode.SINGLE_NODE_WRITER,
        fsType: source.fsType ?? '',
        readOnly: source.readOnly ?? false,
      };
      const capability: VolumeCapability = {
        accessType: { $case: 'mount', value: { fsType: record.fsType, mountFlags: [], volumeMountGroup: '' } },
        accessMode: { mode: record.accessMode },
      };
      const save = (): Promise<void> => writeJsonAtomic(file, record);

      if (record.volumeId === undefined) {
        if (facts.controller.has(ControllerServiceCapability_RPC_Type.CREATE_DELETE_VOLUME)) {
          const size = attributes['size'] === undefined ? undefined : parseQuantityBytes(attributes['size']);
          if (attributes['size'] !== undefined && size === undefined) throw new VolumeError({ volume, message: `volumeAttributes.size ${JSON.stringify(attributes['size'])} is not a quantity` });
          const topology = facts.topology === undefined ? undefined : { requisite: [facts.topology], preferred: [facts.topology] };
          const response = await callUnary(
            clients.controller,
            clients.controller.createVolume,
            {
              name: record.createName,
              ...(size === undefined ? {} : { capacityRange: { requiredBytes: size, limitBytes: 0n } }),
              volumeCapabilities: [capability],
              parameters: { ...attributes },
              secrets: {},
              ...(topology === undefined ? {} : { accessibilityRequirements: topology }),
              mutableParameters: {},
            },
            this.#deadline(),
          );
          const created = response.volume;
          if (created === undefined || created.volumeId === '') throw new VolumeError({ volume, message: 'CreateVolume answered no volume' });
          record.volumeId = created.volumeId;
          record.created = true;
          record.volumeContext = { ...created.volumeContext, ...attributes };
        } else {
          record.volumeId = csiInlineHandle(pod.uid, volume);
        }
        await save();
      }
      const volumeId = record.volumeId;
      record.volumeContext = {
        ...record.volumeContext,
        [csiContextKeys.podName]: pod.name,
        [csiContextKeys.podNamespace]: pod.namespace,
        [csiContextKeys.podUid]: pod.uid,
        [csiContextKeys.ephemeral]: 'true',
      };

      if (facts.controller.has(ControllerServiceCapability_RPC_Type.PUBLISH_UNPUBLISH_VOLUME) && !record.controllerPublished) {
        record.controllerPublished = true;
        record.nodeId = facts.nodeId;
        await save();
        const published = await callUnary(
          clients.controller,
          clients.controller.controllerPublishVolume,
          { volumeId, nodeId: facts.nodeId, volumeCapability: capability, readonly: record.readOnly, secrets: {}, volumeContext: record.volumeContext },
          this.#deadline(),
        );
        record.publishContext = { ...published.publishContext };
        await save();
      }

      if (facts.node.has(NodeServiceCapability_RPC_Type.STAGE_UNSTAGE_VOLUME)) {
        const stagingPath = record.stagingPath ?? csiStagingPath(this.#rootDir, source.driver, volumeId);
        record.stagingPath = stagingPath;
        record.staged = true;
        await save();
        await fs.mkdir(stagingPath, { recursive: true });
        await callUnary(
          clients.node,
          clients.node.nodeStageVolume,
          { volumeId, publishContext: record.publishContext, stagingTargetPath: stagingPath, volumeCapability: capability, secrets: {}, volumeContext: record.volumeContext },
          this.#deadline(),
        );
      }

      record.published = true;
      await save();
      // CSI: the CO makes the target's parent, the plugin the target itself.
      await fs.mkdir(path.dirname(record.targetPath), { recursive: true });
      await callUnary(
        clients.node,
        clients.node.nodePublishVolume,
        {
          volumeId,
          publishContext: record.publishContext,
          stagingTargetPath: record.stagingPath ?? '',
          targetPath: record.targetPath,
          volumeCapability: capability,
          readonly: record.readOnly,
          secrets: {},
          volumeContext: record.volumeContext,
        },
        this.#deadline(),
      );
      return record.targetPath;
    } catch (error) {
      if (error instanceof VolumeError) throw error;
      throw new VolumeError({ volume, message: `CSI set-up with driver ${source.driver} failed: ${(error as Error).message}`, cause: error });
    }
  }

  /** The inline CSI volumes recorded for a pod. */
  async recorded(uid: string): Promise<CsiVolumeRecord[]> {
    const dir = path.dirname(csiVolumeDir(this.#rootDir, uid, 'x'));
    let names: string[];
    try {
      names = await fs.readdir(dir);
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') return [];
      throw error;
    }
    const records: CsiVolumeRecord[] = [];
    for (const name of names.sort()) {
      const record = await readJson<CsiVolumeRecord>(recordFile(this.#rootDir, uid, name));
      if (record !== undefined) records.push(record);
    }
    return records;
  }

  /**
   * Undoes everything recorded for one volume, in reverse: NodeUnpublish,
   * NodeUnstage, ControllerUnpublish, DeleteVolume; the record shrinks after
   * each step, and goes once all are done. Call only when no container uses it.
   */
  async tearDown(record: CsiVolumeRecord): Promise<void> {
    const clients = this.#clients(record.volume, record.driver);
    const file = recordFile(this.#rootDir, record.podUid, record.volume);
    const current: CsiVolumeRecord = { ...record };
    const save = (): Promise<void> => writeJsonAtomic(file, current);
    const step = async (name: string, run: () => Promise<unknown>): Promise<void> => {
      try {
        await run();
      } catch (error) {
        if (isGone(error)) return;
        throw new VolumeError({ volume: record.volume, message: `${name} with driver ${record.driver} failed: ${(error as Error).message}`, cause: error });
      }
    };
    const volumeId = current.volumeId;
    if (volumeId !== undefined) {
      if (current.published) {
        await step('NodeUnpublishVolume', () => callUnary(clients.node, clients.node.nodeUnpublishVolume, { volumeId, targetPath: current.targetPath }, this.#deadline()));
        current.published = false;
        await save();
      }
      if (current.staged && current.stagingPath !== undefined) {
        const stagingPath = current.stagingPath;
        await step('NodeUnstageVolume', () => callUnary(clients.node, clients.node.nodeUnstageVolume, { volumeId, stagingTargetPath: stagingPath }, this.#deadline()));
        current.staged = false;
        await save();
        // rmdir, not rm -r: a folder that still holds something is left alone.
        await fs.rmdir(stagingPath).catch(() => undefined);
        await fs.rmdir(path.dirname(stagingPath)).catch(() => undefined);
      }
      if (current.controllerPublished) {
        await step('ControllerUnpublishVolume', () =>
          callUnary(clients.controller, clients.controller.controllerUnpublishVolume, { volumeId, nodeId: current.nodeId ?? '', secrets: {} }, this.#deadline()),
        );
        current.controllerPublished = false;
        await save();
      }
      if (current.created) {
        await step('DeleteVolume', () => callUnary(clients.controller, clients.controller.deleteVolume, { volumeId, secrets: {} }, this.#deadline()));
        current.created = false;
        await save();
      }
    }
    // Never rm -r here: if an unmount silently failed, a recursive remove would delete the volume's data.
    await fs.rm(file, { force: true });
    await fs.rmdir(current.targetPath).catch(() => undefined);
    await fs.rmdir(path.dirname(file)).catch(() => undefined);
  }
}
