/**
 * Where the kubelet keeps per-pod state under --root-dir, laid out as the
 * real kubelet lays out /var/lib/kubelet (kubernetes/kubernetes
 * pkg/kubelet/kubelet_getters.go, pkg/volume/csi/csi_mounter.go,
 * csi_attacher.go): volumes under pods/<uid>/volumes/<plugin>/<name>, CSI
 * staging under plugins/kubernetes.io/csi/<driver>/<sha256(volume id)>/globalmount.
 */
import { createHash } from 'node:crypto';
import path from 'node:path';

/** `<rootDir>/pods/<uid>`: everything of one pod on disk. */
export function podDir(rootDir: string, uid: string): string {
  return path.join(rootDir, 'pods', uid);
}

/** `<rootDir>/pods/<uid>/volumes`. */
export function podVolumesDir(rootDir: string, uid: string): string {
  return path.join(podDir(rootDir, uid), 'volumes');
}

/** The plugin folder names, as upstream escapes them (kubernetes.io/empty-dir → kubernetes.io~empty-dir). */
export const volumePluginDirs = {
  emptyDir: 'kubernetes.io~empty-dir',
  csi: 'kubernetes.io~csi',
} as const;

export function emptyDirPath(rootDir: string, uid: string, volume: string): string {
  return path.join(podVolumesDir(rootDir, uid), volumePluginDirs.emptyDir, volume);
}

/** The folder of one inline CSI volume: holds vol_data.json and the mount target. */
export function csiVolumeDir(rootDir: string, uid: string, volume: string): string {
  return path.join(podVolumesDir(rootDir, uid), volumePluginDirs.csi, volume);
}

/** NodePublishVolume's target_path. */
export function csiTargetPath(rootDir: string, uid: string, volume: string): string {
  return path.join(csiVolumeDir(rootDir, uid, volume), 'mount');
}

/** NodeStageVolume's staging_target_path. */
export function csiStagingPath(rootDir: string, driver: string, volumeId: string): string {
  const digest = createHash('sha256').update(volumeId).digest('hex');
  return path.join(rootDir, 'plugins', 'kubernetes.io', 'csi', driver, digest, 'globalmount');
}

/**
 * PodSandboxConfig.log_directory: `<rootDir>/logs/pods/<namespace>_<name>_<uid>`,
 * the real kubelet's /var/log/pods/<namespace>_<name>_<uid> moved under
 * --root-dir so one kubelet's files stay in one folder.
 * @see KUBELET-PLUGIN-008
 */
export function podLogDirectory(rootDir: string, namespace: string, name: string, uid: string): string {
  return path.join(rootDir, 'logs', 'pods', `${namespace}_${name}_${uid}`);
}
