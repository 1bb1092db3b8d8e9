/** The kubelet's volumes: emptyDir, hostPath and inline CSI. */
export { PodVolumes, type PodVolumesOptions } from './pod-volumes.js';
export { CsiVolumes, csiContextKeys, csiCreateName, csiInlineHandle, parseQuantityBytes, type CsiPodRef, type CsiVolumeRecord } from './csi-volume.js';
export { closeCsiClients, connectCsiDriver, parseCsiEndpointFlag, type CsiClients, type CsiEndpointFlag } from './csi-clients.js';
export { prepareEmptyDir } from './empty-dir.js';
export { prepareHostPath } from './host-path.js';
export { VolumeError } from './volume-error.js';
export { csiStagingPath, csiTargetPath, csiVolumeDir, emptyDirPath, podDir, podLogDirectory, podVolumesDir, volumePluginDirs } from './volume-paths.js';
export { readJson, writeJsonAtomic } from './durable-json.js';
