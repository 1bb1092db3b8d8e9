import fs from 'node:fs/promises';
import { ContainerConfig, LinuxContainerResources } from '../../../specs/cri/index.js';
import { readJsonFile, writeFileDurably } from './durable-files.js';
import { containerPaths, type RootLayout } from './root-layout.js';

/**
 * Where a container is in its life as the runtime last acted on it:
 * `creating` until CreateContainer finished (recovery rolls it back),
 * `created`, `started` once StartContainer ran it, `start-failed` when the
 * OCI runtime refused to start it. Whether it still runs is never stored:
 * the exit file and the process decide (level-triggered).
 */
export type ContainerPhase = 'creating' | 'created' | 'started' | 'start-failed';

/** The identity the container's process runs as. */
export interface ContainerUserRecord {
  readonly uid: number;
  readonly gid: number;
  readonly additionalGids: readonly number[];
}

/** What the runtime keeps on disk about one container (`containers/<id>/container.json`). */
export interface ContainerRecord {
  readonly id: string;
  readonly sandboxId: string;
  readonly phase: ContainerPhase;
  readonly config: ContainerConfig;
  readonly createdAtNs: bigint;
  readonly startedAtNs: bigint;
  /** The image's ID (`sha256:<config digest>`). */
  readonly imageId: string;
  /** A repo digest of the image when it has one, else its ID (ContainerStatus.image_ref). */
  readonly imageRef: string;
  /** The CRI log file (absolute), or '' when no log was asked for. */
  readonly logPath: string;
  /** The signal StopContainer sends first, by name (SIGTERM unless the config or image says otherwise). */
  readonly stopSignal: string;
  readonly cgroupsPath: string;
  readonly resources: LinuxContainerResources | undefined;
  readonly user: ContainerUserRecord;
  /** Image layer folders the rootfs is made of, lowest first. */
  readonly layerDirs: readonly string[];
  /** Why StartContainer failed, for the status message. */
  readonly startError?: string;
  /** Set when the exit was noticed and the container's cgroup had counted an OOM kill. */
  readonly oomKilled?: boolean;
}

interface ContainerRecordJson {
  id: string;
  sandboxId: string;
  phase: ContainerPhase;
  config: unknown;
  createdAtNs: string;
  startedAtNs: string;
  imageId: string;
  imageRef: string;
  logPath: string;
  stopSignal: string;
  cgroupsPath: string;
  resources?: unknown;
  user: ContainerUserRecord;
  layerDirs: string[];
  startError?: string;
  oomKilled?: boolean;
}

function toJson(record: ContainerRecord): ContainerRecordJson {
  return {
    id: record.id,
    sandboxId: record.sandboxId,
    phase: record.phase,
    config: ContainerConfig.toJSON(record.config),
    createdAtNs: record.createdAtNs.toString(),
    startedAtNs: record.startedAtNs.toString(),
    imageId: record.imageId,
    imageRef: record.imageRef,
    logPath: record.logPath,
    stopSignal: record.stopSignal,
    cgroupsPath: record.cgroupsPath,
    ...(record.resources === undefined ? {} : { resources: LinuxContainerResources.toJSON(record.resources) }),
    user: record.user,
    layerDirs: [...record.layerDirs],
    ...(record.startError === undefined ? {} : { startError: record.startError }),
    ...(record.oomKilled === true ? { oomKilled: true } : {}),
  };
}

function fromJson(json: ContainerRecordJson): ContainerRecord {
  return {
    id: json.id,
    sandboxId: json.sandboxId,
    phase: json.phase,
    config: ContainerConfig.fromJSON(json.config),
    createdAtNs: BigInt(json.createdAtNs),
    startedAtNs: BigInt(json.startedAtNs),
    imageId: json.imageId,
    imageRef: json.imageRef,
    logPath: json.logPath,
    stopSignal: json.stopSignal,
    cgroupsPath: json.cgroupsPath,
    resources: json.resources === undefined ? undefined : LinuxContainerResources.fromJSON(json.resources),
    user: json.user,
    layerDirs: json.layerDirs,
    ...(json.startError === undefined ? {} : { startError: json.startError }),
    ...(json.oomKilled === true ? { oomKilled: true } : {}),
  };
}

/** Writes a container record atomically (the folder must exist). Idempotent. */
export function writeContainerRecord(layout: RootLayout, record: ContainerRecord): Promise<void> {
  return writeFileDurably(containerPaths(layout, record.id).record, `${JSON.stringify(toJson(record))}\n`);
}

/** Reads a container record; `undefined` when there is none. */
export async function readContainerRecord(layout: RootLayout, id: string): Promise<ContainerRecord | undefined> {
  const json = (await readJsonFile(containerPaths(layout, id).record)) as ContainerRecordJson | undefined;
  return json === undefined ? undefined : fromJson(json);
}

/** The IDs of every container folder under the root. */
export async function listContainerIds(layout: RootLayout): Promise<string[]> {
  try {
    return (await fs.readdir(layout.containersDir, { withFileTypes: true })).filter((e) => e.isDirectory()).map((e) => e.name);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw error;
  }
}
