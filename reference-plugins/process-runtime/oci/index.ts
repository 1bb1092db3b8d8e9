/**
 * The OCI layer of the process runtime: runc or crun driven through their
 * CLI with kubeplug-shim supervising each container, runtime-spec bundles,
 * overlay rootfs mounts and cgroup stats.
 */
export { pauseBinary, shimBinary } from './binaries.js';
export { allCapabilities, containerCapabilities, currentProcessCapabilities, defaultCapabilities } from './capabilities.js';
export { readCgroupProcessCount, readCgroupStats, removeCgroup } from './cgroups.js';
export type { CgroupStats } from './cgroups.js';
export { ContainerUserError, readFileInRootfs, resolveContainerUser, validateUserSettings } from './container-user.js';
export type { ContainerUserInput } from './container-user.js';
export { containerDevices, DeviceError, hostDevices } from './devices.js';
export type { ContainerDevices, DeviceInput } from './devices.js';
export { checkMountPropagation, MountPropagationError, mountOf } from './mount-propagation.js';
export { parseExitRecord, readExitRecord } from './exit-record.js';
export type { ExitRecord } from './exit-record.js';
export { OciRuntime } from './oci-runtime.js';
export type { OciCreateOptions, OciExecResult, OciRuntimeOptions, OciState, OciStatus } from './oci-runtime.js';
export { OciRuntimeError } from './oci-runtime-error.js';
export { ociVersion } from './oci-spec.js';
export type { OciCapabilities, OciDevice, OciDeviceRule, OciLinux, OciLinuxResources, OciMount, OciNamespace, OciProcess, OciSeccomp, OciSeccompSyscall, OciSpec, OciUser } from './oci-spec.js';
export { preparePauseRootfs } from './pause-rootfs.js';
export { isMountPoint, mountOverlay, RootfsError, unmountIfMounted } from './rootfs.js';
export {
  buildContainerSpec, buildExecProcess, buildSandboxSpec, containerArgs, containerEnv, defaultMaskedPaths, defaultReadonlyPaths, ociResourcesFrom,
} from './runtime-spec.js';
export type {
  ContainerMountInput, ContainerResourcesInput, ContainerSpecInput, ImageProcessConfig, NamespaceMode, PodNamespaces, SandboxSpecInput,
} from './runtime-spec.js';
export {
  containerSeccomp, loadLocalhostSeccompProfile, nativeSeccompArchitectures, runtimeDefaultSeccomp, SeccompProfileError, seccompChoiceFromCri, seccompFromProfile,
} from './seccomp-profile.js';
export type { SeccompChoice } from './seccomp-profile.js';
export { isShimRunning, readShimPid, reopenShimLog, signalShim, startShim } from './shim-process.js';
export type { ShimStartOptions } from './shim-process.js';
