import fs from 'node:fs/promises';
import { PodSandboxConfig } from '../../../specs/cri/index.js';
import { readJsonFile, writeFileDurably } from './durable-files.js';
import { sandboxPaths, type RootLayout } from './root-layout.js';

/**
 * Where a sandbox is in its life: `creating` until RunPodSandbox finished
 * (a crash leaves it for recovery to roll back), `ready` while its network
 * and pause process are up, `stopped` after StopPodSandbox (or the pause died).
 */
export type SandboxPhase = 'creating' | 'ready' | 'stopped';

/** What the runtime keeps on disk about one sandbox (`sandboxes/<id>/sandbox.json`). */
export interface SandboxRecord {
  readonly id: string;
  readonly phase: SandboxPhase;
  readonly config: PodSandboxConfig;
  readonly runtimeHandler: string;
  readonly createdAtNs: bigint;
  readonly hostNetwork: boolean;
  /** The pod cgroup (cgroupfs path): the config's cgroup_parent, or one the runtime owns. */
  readonly podCgroup: string;
  /** True when the runtime made {@link podCgroup} and must remove it. */
  readonly ownsPodCgroup: boolean;
  /** The CNI network list ADD ran with, so DEL runs with the same one (JSON). */
  readonly cniNetwork?: string;
  readonly ip?: string;
  readonly additionalIps: readonly string[];
  /** Why the sandbox stopped when the runtime did not stop it (the pause exited). */
  readonly stopReason?: string;
}

interface SandboxRecordJson {
  id: string;
  phase: SandboxPhase;
  config: unknown;
  runtimeHandler: string;
  createdAtNs: string;
  hostNetwork: boolean;
  podCgroup: string;
  ownsPodCgroup: boolean;
  cniNetwork?: string;
  ip?: string;
  additionalIps: string[];
  stopReason?: string;
}

function toJson(record: SandboxRecord): SandboxRecordJson {
  return {
    id: record.id,
    phase: record.phase,
    config: PodSandboxConfig.toJSON(record.config),
    runtimeHandler: record.runtimeHandler,
    createdAtNs: record.createdAtNs.toString(),
    hostNetwork: record.hostNetwork,
    podCgroup: record.podCgroup,
    ownsPodCgroup: record.ownsPodCgroup,
    ...(record.cniNetwork === undefined ? {} : { cniNetwork: record.cniNetwork }),
    ...(record.ip === undefined ? {} : { ip: record.ip }),
    additionalIps: [...record.additionalIps],
    ...(record.stopReason === undefined ? {} : { stopReason: record.stopReason }),
  };
}

function fromJson(json: SandboxRecordJson): SandboxRecord {
  return {
    id: json.id,
    phase: json.phase,
    config: PodSandboxConfig.fromJSON(json.config),
    runtimeHandler: json.runtimeHandler,
    createdAtNs: BigInt(json.createdAtNs),
    hostNetwork: json.hostNetwork,
    podCgroup: json.podCgroup,
    ownsPodCgroup: json.ownsPodCgroup,
    ...(json.cniNetwork === undefined ? {} : { cniNetwork: json.cniNetwork }),
    ...(json.ip === undefined ? {} : { ip: json.ip }),
    additionalIps: json.additionalIps ?? [],
    ...(json.stopReason === undefined ? {} : { stopReason: json.stopReason }),
  };
}

/** Writes a sandbox record atomically (the folder must exist). Idempotent. */
export function writeSandboxRecord(layout: RootLayout, record: SandboxRecord): Promise<void> {
  return writeFileDurably(sandboxPaths(layout, record.id).record, `${JSON.stringify(toJson(record))}\n`);
}

/** Reads a sandbox record; `undefined` when there is none. */
export async function readSandboxRecord(layout: RootLayout, id: string): Promise<SandboxRecord | undefined> {
  const json = (await readJsonFile(sandboxPaths(layout, id).record)) as SandboxRecordJson | undefined;
  return json === undefined ? undefined : fromJson(json);
}

/** The IDs of every sandbox folder under the root. */
export async function listSandboxIds(layout: RootLayout): Promise<string[]> {
  try {
    return (await fs.readdir(layout.sandboxesDir, { withFileTypes: true })).filter((e) => e.isDirectory()).map((e) => e.name);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw error;
  }
}
