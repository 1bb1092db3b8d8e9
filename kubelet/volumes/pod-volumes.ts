/**
 * A pod's volumes as one unit: set up before its containers are created,
 * torn down once none of its containers runs. What was set up is found again
 * from the files under --root-dir, so a restarted kubelet tears down what
 * an earlier one set up.
 * @see KUBELET-SANDBOX-004
 * @see KUBELET-SANDBOX-008
 * @see KUBELET-PLUGIN-003
 * @see KUBELET-PLUGIN-004
 */
import fs from 'node:fs/promises';
import type { Pod } from '../api/pod-types.js';
import type { CsiClients } from './csi-clients.js';
import { CsiVolumes } from './csi-volume.js';
import { prepareEmptyDir } from './empty-dir.js';
import { prepareHostPath } from './host-path.js';
import { VolumeError } from './volume-error.js';
import { podDir, podVolumesDir } from './volume-paths.js';

/** Options for {@link PodVolumes}. */
export interface PodVolumesOptions {
  readonly rootDir: string;
  readonly csi: ReadonlyMap<string, CsiClients>;
  /** Deadline of each CSI call (default 60 s). */
  readonly csiCallTimeoutMs?: number;
}

/** Sets up and tears down the volumes of pods. */
export class PodVolumes {
  readonly #rootDir: string;
  readonly #csi: CsiVolumes;

  constructor(options: PodVolumesOptions) {
    this.#rootDir = options.rootDir;
    this.#csi = new CsiVolumes({ rootDir: options.rootDir, drivers: options.csi, ...(options.csiCallTimeoutMs === undefined ? {} : { callTimeoutMs: options.csiCallTimeoutMs }) });
  }

  /**
   * Makes every volume of the pod ready (idempotent) and resolves with the
   * host path of each, by volume name; a volume that fails rejects with a
   * {@link VolumeError} naming it.
   */
  async setUp(pod: Pod): Promise<Map<string, string>> {
    const uid = pod.metadata.uid ?? '';
    if (uid === '') throw new VolumeError({ volume: '', message: 'the pod has no UID' });
    const paths = new Map<string, string>();
    for (const volume of pod.spec.volumes ?? []) {
      if (volume.emptyDir !== undefined) {
        paths.set(volume.name, await prepareEmptyDir(this.#rootDir, uid, volume.name));
      } else if (volume.hostPath !== undefined) {
        paths.set(volume.name, await prepareHostPath(volume.name, volume.hostPath.path, volume.hostPath.type ?? ''));
      } else if (volume.csi !== undefined) {
        const ref = { uid, name: pod.metadata.name, namespace: pod.metadata.namespace ?? 'default' };
        paths.set(volume.name, await this.#csi.setUp(ref, volume.name, volume.csi));
      } else {
        throw new VolumeError({ volume: volume.name, message: 'unsupported volume source (emptyDir, hostPath and csi are supported)' });
      }
    }
    return paths;
  }

  /** Whether anything of the pod's volumes is left on disk. */
  async hasState(uid: string): Promise<boolean> {
    try {
      await fs.access(podDir(this.#rootDir, uid));
      return true;
    } catch {
      return false;
    }
  }

  /**
   * Tears down every volume recorded for the pod (CSI in reverse order of
   * set-up, then the emptyDir folders) and removes the pod's folder; call
   * only once every container of the pod has stopped. Idempotent.
   */
  async tearDown(uid: string): Promise<void> {
    const failures: Error[] = [];
    for (const record of (await this.#csi.recorded(uid)).reverse()) {
      try {
        await this.#csi.tearDown(record);
      } catch (error) {
        failures.push(error as Error);
      }
    }
    if (failures.length > 0) throw failures.length === 1 ? failures[0]! : new AggregateError(failures, failures.map((failure) => failure.message).join('; '));
    // Only CSI records could hold mounts, and each is gone now: the rest are plain folders.
    await fs.rm(podVolumesDir(this.#rootDir, uid), { recursive: true, force: true });
    await fs.rm(podDir(this.#rootDir, uid), { recursive: true, force: true });
  }

  /** UIDs of pods with state on disk (for tearing down pods a previous kubelet left). */
  async podsOnDisk(): Promise<string[]> {
    try {
      return await fs.readdir(`${this.#rootDir}/pods`);
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') return [];
      throw error;
    }
  }
}
