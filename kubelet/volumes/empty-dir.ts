/**
 * emptyDir volumes: a fresh folder per pod under
 * `<rootDir>/pods/<uid>/volumes/kubernetes.io~empty-dir/<name>`, mode 0777 as
 * upstream (pkg/volume/emptydir/empty_dir.go), removed with the pod.
 * medium Memory is served from the same folder: the kubelet mounts nothing
 * in its own namespace, so a tmpfs would not reach the runtime's.
 * @see KUBELET-SANDBOX-004
 * @see KUBELET-SANDBOX-008
 */
import fs from 'node:fs/promises';
import { emptyDirPath } from './volume-paths.js';

/** Creates the pod's emptyDir folder if missing (an existing one keeps its content: the pod's containers share it). */
export async function prepareEmptyDir(rootDir: string, uid: string, volume: string): Promise<string> {
  const dir = emptyDirPath(rootDir, uid, volume);
  await fs.mkdir(dir, { recursive: true });
  await fs.chmod(dir, 0o777);
  return dir;
}
