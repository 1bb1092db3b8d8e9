import fs from 'node:fs/promises';
import { NamespaceMode, type PodSandboxConfig } from '../../../specs/cri/index.js';
import { unmountIfMounted } from '../oci/rootfs.js';
import { runCommand } from '../../run-command.js';

/** The size of a pod's /dev/shm, as containerd and Docker default it. */
export const podShmSize = '65536k';

/**
 * Mounts the tmpfs a pod's containers share as /dev/shm, so that POSIX
 * shared memory works across the containers of a pod as its IPC namespace
 * promises (containerd does the same for pods that do not use the host IPC).
 */
export async function mountPodShm(dir: string): Promise<void> {
  await fs.mkdir(dir, { recursive: true, mode: 0o700 });
  await runCommand(['mount', '-t', 'tmpfs', '-o', `nosuid,nodev,noexec,mode=1777,size=${podShmSize}`, 'shm', dir]);
}

/** Unmounts the pod's /dev/shm. Idempotent. */
export function unmountPodShm(dir: string): Promise<void> {
  return unmountIfMounted(dir);
}

/** True when the pod's containers share a /dev/shm of the pod's own (its IPC namespace is not the node's). */
export function usesPodShm(config: PodSandboxConfig): boolean {
  return config.linux?.securityContext?.namespaceOptions?.ipc !== NamespaceMode.NODE;
}
