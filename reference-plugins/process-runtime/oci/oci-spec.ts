/**
 * The parts of the OCI runtime-spec `config.json` (opencontainers/runtime-spec
 * v1.0.2, config.md and config-linux.md) that the process runtime writes,
 * typed as the JSON the runtime reads.
 */

/** A POSIX rlimit (`process.rlimits[]`). */
export interface OciRlimit {
  type: string;
  hard: number;
  soft: number;
}

/** The five capability sets of `process.capabilities`, as `CAP_*` names. */
export interface OciCapabilities {
  bounding: string[];
  effective: string[];
  inheritable: string[];
  permitted: string[];
  ambient: string[];
}

/** `process.user`: numeric ids only, as the runtime applies them without a passwd lookup. */
export interface OciUser {
  uid: number;
  gid: number;
  umask?: number;
  additionalGids?: number[];
}

/** `process`: what runs, as whom, with which privileges; also the body of `runc exec --process`. */
export interface OciProcess {
  terminal?: boolean;
  user: OciUser;
  args: string[];
  env?: string[];
  cwd: string;
  capabilities?: OciCapabilities;
  rlimits?: OciRlimit[];
  noNewPrivileges?: boolean;
  oomScoreAdj?: number;
  apparmorProfile?: string;
  selinuxLabel?: string;
}

/** One entry of `mounts[]`. */
export interface OciMount {
  destination: string;
  type?: string;
  source?: string;
  options?: string[];
}

/** One entry of `linux.namespaces[]`: a new namespace, or the one at `path` joined. */
export interface OciNamespace {
  type: 'pid' | 'network' | 'mount' | 'ipc' | 'uts' | 'user' | 'cgroup';
  path?: string;
}

/** `linux.resources.memory` (bytes). */
export interface OciMemory {
  limit?: number;
  reservation?: number;
  swap?: number;
}

/** `linux.resources.cpu`. */
export interface OciCpu {
  shares?: number;
  quota?: number;
  period?: number;
  cpus?: string;
  mems?: string;
}

/** `linux.resources.hugepageLimits[]`. */
export interface OciHugepageLimit {
  pageSize: string;
  limit: number;
}

/** One entry of `linux.resources.devices[]` (the device cgroup allow list). */
export interface OciDeviceRule {
  allow: boolean;
  type?: 'a' | 'c' | 'b';
  major?: number;
  minor?: number;
  access?: string;
}

/** `linux.resources`: also the body of `runc update --resources -`. */
export interface OciLinuxResources {
  devices?: OciDeviceRule[];
  memory?: OciMemory;
  cpu?: OciCpu;
  pids?: { limit: number };
  hugepageLimits?: OciHugepageLimit[];
  unified?: Record<string, string>;
}

/** One entry of `linux.devices[]`: a device node the runtime creates (or binds) in the container's /dev. */
export interface OciDevice {
  path: string;
  type: 'c' | 'b' | 'u' | 'p';
  major: number;
  minor: number;
  fileMode?: number;
  uid?: number;
  gid?: number;
}

/** One argument comparison of a seccomp rule (`linux.seccomp.syscalls[].args[]`). */
export interface OciSeccompArg {
  index: number;
  value: number;
  valueTwo?: number;
  op: string;
}

/** One rule of `linux.seccomp.syscalls[]`. */
export interface OciSeccompSyscall {
  names: string[];
  action: string;
  errnoRet?: number;
  args?: OciSeccompArg[];
}

/** `linux.seccomp`: the filter the runtime loads before the process starts. */
export interface OciSeccomp {
  defaultAction: string;
  defaultErrnoRet?: number;
  architectures?: string[];
  flags?: string[];
  syscalls?: OciSeccompSyscall[];
}

/** `linux`. */
export interface OciLinux {
  namespaces: OciNamespace[];
  resources?: OciLinuxResources;
  cgroupsPath?: string;
  sysctl?: Record<string, string>;
  maskedPaths?: string[];
  readonlyPaths?: string[];
  rootfsPropagation?: string;
  devices?: OciDevice[];
  seccomp?: OciSeccomp;
}

/** A whole `config.json`. */
export interface OciSpec {
  ociVersion: string;
  process: OciProcess;
  root: { path: string; readonly?: boolean };
  hostname?: string;
  mounts: OciMount[];
  annotations?: Record<string, string>;
  linux: OciLinux;
}

/** The runtime-spec version our bundles declare (what runc 1.1 and crun 1.8 implement). */
export const ociVersion = '1.0.2';
