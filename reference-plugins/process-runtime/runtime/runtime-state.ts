import { GrpcStatusError } from '../../../specs/cri/index.js';
import type { ExitRecord } from '../oci/exit-record.js';
import type { ContainerRecord } from './container-store.js';
import type { SandboxRecord } from './sandbox-store.js';

/** One sandbox as the runtime knows it: its record plus what the system told us. */
export interface SandboxEntry {
  record: SandboxRecord;
  /** The pause process, while it runs. */
  pausePid: number | undefined;
}

/** One container as the runtime knows it. */
export interface ContainerEntry {
  record: ContainerRecord;
  /** The container's init process as the OCI runtime reported it. */
  pid: number | undefined;
  /** Read from the exit file once it exists; never changes afterwards. */
  exit: ExitRecord | undefined;
}

/** The name key containerd reserves for a sandbox: name, namespace, UID and attempt. */
export function sandboxNameKey(record: Pick<SandboxRecord, 'config'>): string {
  const m = record.config.metadata;
  return `sandbox:${m?.name ?? ''}_${m?.namespace ?? ''}_${m?.uid ?? ''}_${m?.attempt ?? 0}`;
}

/** The name key of a container: its name and attempt within its sandbox's name. */
export function containerNameKey(record: Pick<ContainerRecord, 'config'>, sandbox: Pick<SandboxRecord, 'config'>): string {
  const m = record.config.metadata;
  return `container:${m?.name ?? ''}_${m?.attempt ?? 0}_${sandboxNameKey(sandbox)}`;
}

/**
 * The sandboxes and containers in memory, rebuilt from disk at start-up,
 * with the names in use. Lookups accept a full ID or a unique prefix, as
 * containerd does.
 */
export class RuntimeState {
  readonly sandboxes = new Map<string, SandboxEntry>();
  readonly containers = new Map<string, ContainerEntry>();
  readonly #names = new Map<string, string>();

  /**
   * Reserves a name for `id`.
   * @throws GrpcStatusError ALREADY_EXISTS when another ID holds it.
   */
  reserveName(key: string, id: string, what: string): void {
    const holder = this.#names.get(key);
    if (holder !== undefined && holder !== id) {
      throw new GrpcStatusError({ code: 'ALREADY_EXISTS', message: `${what} is already in use by ${holder}; remove it first` });
    }
    this.#names.set(key, id);
  }

  /** Releases a name if `id` holds it. Idempotent. */
  releaseName(key: string, id: string): void {
    if (this.#names.get(key) === id) this.#names.delete(key);
  }

  /** The sandbox with this ID or unique ID prefix. */
  findSandbox(idOrPrefix: string): SandboxEntry | undefined {
    return findByPrefix(this.sandboxes, idOrPrefix);
  }

  /** The container with this ID or unique ID prefix. */
  findContainer(idOrPrefix: string): ContainerEntry | undefined {
    return findByPrefix(this.containers, idOrPrefix);
  }

  /** The containers of one sandbox. */
  containersOf(sandboxId: string): ContainerEntry[] {
    return [...this.containers.values()].filter((c) => c.record.sandboxId === sandboxId);
  }
}

function findByPrefix<T>(map: ReadonlyMap<string, T>, idOrPrefix: string): T | undefined {
  if (idOrPrefix === '') return undefined;
  const exact = map.get(idOrPrefix);
  if (exact !== undefined) return exact;
  let found: T | undefined;
  for (const [id, value] of map) {
    if (!id.startsWith(idOrPrefix)) continue;
    // An ambiguous prefix names nothing.
    if (found !== undefined) return undefined;
    found = value;
  }
  return found;
}
