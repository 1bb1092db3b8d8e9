/**
 * Builds the runtime-spec config.json of a pod's pause container and of its
 * containers, following what containerd's CRI plugin generates
 * (containerd/containerd pkg/cri/server/{sandbox_run,container_create}_linux.go
 * and oci/spec.go, v1.6) in our own terms. Seccomp is supported (see
 * seccomp-profile.ts); AppArmor and SELinux are not: the specs carry neither
 * label, so the OCI runtime applies none.
 */
import { containerCapabilities } from './capabilities.js';
import { resolveContainerUser, type ContainerUserInput } from './container-user.js';
import { containerDevices, hostDevices, type DeviceInput } from './devices.js';
import { checkMountPropagation } from './mount-propagation.js';
import { ociVersion, type OciDevice, type OciDeviceRule, type OciLinuxResources, type OciMount, type OciNamespace, type OciProcess, type OciSpec } from './oci-spec.js';
import { containerSeccomp, type SeccompChoice } from './seccomp-profile.js';

/** How CRI shares a namespace: with the pod, per container, with the node, or with a target container. */
export type NamespaceMode = 'pod' | 'container' | 'node' | 'target';

/** The pod's namespace choices (CRI NamespaceOption). */
export interface PodNamespaces {
  /** 'node' is host networking; anything else is the pod's network namespace. */
  network: 'pod' | 'node';
  pid: NamespaceMode;
  ipc: NamespaceMode;
}

/** CRI LinuxContainerResources (numbers or the generated code's bigints); zero means unset. */
export interface ContainerResourcesInput {
  cpuPeriod?: number | bigint;
  cpuQuota?: number | bigint;
  cpuShares?: number | bigint;
  memoryLimitInBytes?: number | bigint;
  memorySwapLimitInBytes?: number | bigint;
  oomScoreAdj?: number | bigint;
  cpusetCpus?: string;
  cpusetMems?: string;
}

/** What the pause container's spec is built from. */
export interface SandboxSpecInput {
  /** A folder holding the pause binary at `/pause` (see preparePauseRootfs); mounted read-only. */
  pauseRootfs: string;
  hostname: string;
  namespaces: PodNamespaces;
  /** The pod's network namespace (an nsfs bind mount); required unless network is 'node'. */
  netnsPath?: string;
  cgroupsPath: string;
  /** A tmpfs the pod's containers share as /dev/shm; a private one when absent. */
  shmPath?: string;
  sysctls?: Readonly<Record<string, string>>;
  resources?: ContainerResourcesInput;
  /** The kubelet gives sandboxes -998 so the OOM killer spares them. */
  oomScoreAdj?: number;
  annotations?: Readonly<Record<string, string>>;
}

/** A CRI Mount in OCI terms. */
export interface ContainerMountInput {
  containerPath: string;
  hostPath: string;
  readonly?: boolean;
  /** PROPAGATION_PRIVATE → 'private' (rprivate), HOST_TO_CONTAINER → rslave, BIDIRECTIONAL → rshared. */
  propagation?: 'private' | 'host-to-container' | 'bidirectional';
}

/** The image config fields a container's process comes from (a subset of the image store's ImageConfigSummary). */
export interface ImageProcessConfig {
  env: readonly string[];
  entrypoint: readonly string[];
  cmd: readonly string[];
  workingDir: string;
  user: string;
}

/** What a container's spec is built from. */
export interface ContainerSpecInput {
  /** The mounted rootfs (overlay); the user's passwd and group are read from it. */
  rootfs: string;
  image: ImageProcessConfig;
  /** ContainerConfig.command (replaces the image's entrypoint). */
  command?: readonly string[];
  /** ContainerConfig.args (replaces the image's cmd). */
  args?: readonly string[];
  /** ContainerConfig.envs, which override the image's by key. */
  envs?: readonly { key: string; value: string }[];
  workingDir?: string;
  /** The pod's hostname, given to the process as HOSTNAME (as containerd does). */
  hostname?: string;
  user?: Omit<ContainerUserInput, 'imageUser'>;
  capabilities?: { add?: readonly string[]; drop?: readonly string[] };
  privileged?: boolean;
  readonlyRootfs?: boolean;
  noNewPrivileges?: boolean;
  /** CRI masked_paths; the containerd defaults when absent. Ignored when privileged. */
  maskedPaths?: readonly string[];
  /** CRI readonly_paths; the containerd defaults when absent. Ignored when privileged. */
  readonlyPaths?: readonly string[];
  mounts?: readonly ContainerMountInput[];
  /** CRI devices: host nodes (or folders of them) given at their container paths. */
  devices?: readonly DeviceInput[];
  /** The seccomp profile (see seccompChoiceFromCri); none when absent, and none for a privileged container. */
  seccomp?: SeccompChoice;
  sandbox: {
    /** The pause process, whose namespaces the container joins. */
    pausePid: number;
    namespaces: PodNamespaces;
    /** For pid mode 'target': the init pid of the target container. */
    targetPid?: number;
    hostsPath?: string;
    hostnamePath?: string;
    resolvConfPath?: string;
    shmPath?: string;
  };
  cgroupsPath: string;
  resources?: ContainerResourcesInput;
  sysctls?: Readonly<Record<string, string>>;
  annotations?: Readonly<Record<string, string>>;
}

const defaultPath = 'PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin';

/** containerd's default masked paths (oci/spec.go defaultUnixSpec). */
export const defaultMaskedPaths: readonly string[] = [
  '/proc/acpi', '/proc/asound', '/proc/kcore', '/proc/keys', '/proc/latency_stats', '/proc/timer_list',
  '/proc/timer_stats', '/proc/sched_debug', '/sys/firmware', '/proc/scsi',
];

/** containerd's default read-only paths. */
export const defaultReadonlyPaths: readonly string[] = ['/proc/bus', '/proc/fs', '/proc/irq', '/proc/sys', '/proc/sysrq-trigger'];

/** The mounts every container has: proc, a /dev tmpfs with pts, shm and mqueue, sysfs and the cgroup tree. */
function baseMounts(o: { shmPath?: string; hostSys: boolean; privileged: boolean }): OciMount[] {
  const readOnly = o.privileged ? [] : ['ro'];
  return [
    { destination: '/proc', type: 'proc', source: 'proc', options: ['nosuid', 'noexec', 'nodev'] },
    { destination: '/dev', type: 'tmpfs', source: 'tmpfs', options: ['nosuid', 'strictatime', 'mode=755', 'size=65536k'] },
    { destination: '/dev/pts', type: 'devpts', source: 'devpts', options: ['nosuid', 'noexec', 'newinstance', 'ptmxmode=0666', 'mode=0620', 'gid=5'] },
    o.shmPath === undefined
      ? { destination: '/dev/shm', type: 'tmpfs', source: 'shm', options: ['nosuid', 'noexec', 'nodev', 'mode=1777', 'size=65536k'] }
      : { destination: '/dev/shm', type: 'bind', source: o.shmPath, options: ['rbind', 'rprivate', 'nosuid', 'noexec', 'nodev'] },
    { destination: '/dev/mqueue', type: 'mqueue', source: 'mqueue', options: ['nosuid', 'noexec', 'nodev'] },
    // Without its own network namespace a container may not mount a new sysfs: it gets the host's, read-only, as Docker does.
    o.hostSys
      ? { destination: '/sys', type: 'bind', source: '/sys', options: ['rbind', 'rprivate', 'nosuid', 'noexec', 'nodev', ...readOnly] }
      : { destination: '/sys', type: 'sysfs', source: 'sysfs', options: ['nosuid', 'noexec', 'nodev', ...readOnly] },
    { destination: '/sys/fs/cgroup', type: 'cgroup', source: 'cgroup', options: ['nosuid', 'noexec', 'nodev', 'relatime', ...readOnly] },
  ];
}

function positive(value: number | bigint | undefined): number | undefined {
  if (value === undefined) return undefined;
  const number = Number(value);
  return number > 0 ? number : undefined;
}

/**
 * CRI resources as the runtime's `linux.resources` (also the body of
 * `OciRuntime.update`). Zero fields are left out. Hugepages and cgroup v2
 * `unified` entries are not applied by this runtime.
 */
export function ociResourcesFrom(resources: ContainerResourcesInput | undefined): OciLinuxResources {
  const result: OciLinuxResources = {};
  if (resources === undefined) return result;
  const cpu: NonNullable<OciLinuxResources['cpu']> = {};
  const shares = positive(resources.cpuShares);
  const quota = resources.cpuQuota === undefined ? 0 : Number(resources.cpuQuota);
  const period = positive(resources.cpuPeriod);
  if (shares !== undefined) cpu.shares = shares;
  if (quota !== 0) cpu.quota = quota;
  if (period !== undefined) cpu.period = period;
  if (resources.cpusetCpus) cpu.cpus = resources.cpusetCpus;
  if (resources.cpusetMems) cpu.mems = resources.cpusetMems;
  if (Object.keys(cpu).length > 0) result.cpu = cpu;
  const limit = positive(resources.memoryLimitInBytes);
  const swap = positive(resources.memorySwapLimitInBytes);
  if (limit !== undefined || swap !== undefined) {
    result.memory = {};
    if (limit !== undefined) result.memory.limit = limit;
    if (swap !== undefined) result.memory.swap = swap;
  }
  return result;
}

function joinedNamespaces(o: { pausePid: number; namespaces: PodNamespaces; targetPid?: number }): OciNamespace[] {
  const of = (pid: number, kind: string): string => `/proc/${pid}/ns/${kind}`;
  const namespaces: OciNamespace[] = [{ type: 'mount' }];
  if (o.namespaces.network !== 'node') {
    namespaces.push({ type: 'network', path: of(o.pausePid, 'net') });
    namespaces.push({ type: 'uts', path: of(o.pausePid, 'uts') });
  }
  if (o.namespaces.ipc !== 'node') namespaces.push({ type: 'ipc', path: of(o.pausePid, 'ipc') });
  if (o.namespaces.pid === 'pod') namespaces.push({ type: 'pid', path: of(o.pausePid, 'pid') });
  else if (o.namespaces.pid === 'target' && o.targetPid !== undefined) namespaces.push({ type: 'pid', path: of(o.targetPid, 'pid') });
  else if (o.namespaces.pid !== 'node') namespaces.push({ type: 'pid' });
  return namespaces;
}

/**
 * The pause container: `/pause` in a read-only rootfs, in new IPC and UTS
 * namespaces (the host's with host networking), the pod's network namespace
 * joined by path, and a new PID namespace unless PID is the node's.
 */
export function buildSandboxSpec(input: SandboxSpecInput): OciSpec {
  const hostNetwork = input.namespaces.network === 'node';
  const namespaces: OciNamespace[] = [{ type: 'mount' }];
  if (!hostNetwork) {
    if (input.netnsPath === undefined) throw new Error('a sandbox without host networking needs netnsPath');
    namespaces.push({ type: 'network', path: input.netnsPath }, { type: 'uts' });
  }
  if (input.namespaces.ipc !== 'node') namespaces.push({ type: 'ipc' });
  if (input.namespaces.pid !== 'node') namespaces.push({ type: 'pid' });
  // The pause process only waits and reaps: it needs no capability at all.
  const capabilities = containerCapabilities({ drop: ['ALL'] });
  const spec: OciSpec = {
    ociVersion,
    process: {
      terminal: false,
      user: { uid: 0, gid: 0 },
      args: ['/pause'],
      env: [defaultPath],
      cwd: '/',
      capabilities,
      noNewPrivileges: true,
      ...(input.oomScoreAdj === undefined ? {} : { oomScoreAdj: input.oomScoreAdj }),
    },
    root: { path: input.pauseRootfs, readonly: true },
    mounts: baseMounts({ hostSys: hostNetwork, privileged: false, ...(input.shmPath === undefined ? {} : { shmPath: input.shmPath }) }),
    linux: {
      namespaces,
      cgroupsPath: input.cgroupsPath,
      resources: ociResourcesFrom(input.resources),
      maskedPaths: [...defaultMaskedPaths],
      readonlyPaths: [...defaultReadonlyPaths],
    },
  };
  // The hostname is set only in a UTS namespace of the pod's own.
  if (!hostNetwork) spec.hostname = input.hostname;
  if (input.sysctls !== undefined && Object.keys(input.sysctls).length > 0) spec.linux.sysctl = { ...input.sysctls };
  if (input.annotations !== undefined) spec.annotations = { ...input.annotations };
  return spec;
}

/** Kubelet's rule: command replaces the entrypoint, args replace cmd; args alone follow the image's entrypoint. */
export function containerArgs(o: { image: ImageProcessConfig; command?: readonly string[]; args?: readonly string[] }): string[] {
  const command = o.command ?? [];
  const args = o.args ?? [];
  if (command.length > 0) return [...command, ...args];
  return [...o.image.entrypoint, ...(args.length > 0 ? args : o.image.cmd)];
}

/** The image's env with the config's values replacing same-named ones (and PATH when neither has one). */
export function containerEnv(o: { image: ImageProcessConfig; envs?: readonly { key: string; value: string }[]; hostname?: string }): string[] {
  const entries = new Map<string, string>();
  if (o.hostname !== undefined) entries.set('HOSTNAME', o.hostname);
  for (const entry of o.image.env) {
    const at = entry.indexOf('=');
    if (at > 0) entries.set(entry.slice(0, at), entry.slice(at + 1));
    else entries.set(entry, '');
  }
  for (const { key, value } of o.envs ?? []) entries.set(key, value);
  if (!entries.has('PATH')) entries.set('PATH', defaultPath.slice('PATH='.length));
  return [...entries].map(([key, value]) => `${key}=${value}`);
}

const propagationOption = { private: 'rprivate', 'host-to-container': 'rslave', bidirectional: 'rshared' } as const;

/** Host devices with the requested ones replacing any at the same container path. */
function mergeDevices(host: readonly OciDevice[], requested: readonly OciDevice[]): OciDevice[] {
  const taken = new Set(requested.map((device) => device.path));
  return [...host.filter((device) => !taken.has(device.path)), ...requested];
}

/**
 * A container of a pod: the image's process as CRI adjusts it, the pod's
 * namespaces joined by path through the pause process, containerd's default
 * mounts plus the pod's hosts, hostname and resolv.conf and the CRI mounts
 * (a CRI mount at the same destination replaces a default one), the CRI
 * devices and the seccomp profile asked for. Privileged containers get
 * every capability this process holds, every host device, /sys and the
 * cgroup tree writable, and no masked or read-only paths.
 * @throws ContainerUserError, DeviceError, SeccompProfileError, MountPropagationError for settings that cannot be honoured
 */
export function buildContainerSpec(input: ContainerSpecInput): OciSpec {
  const privileged = input.privileged === true;
  const hostNetwork = input.sandbox.namespaces.network === 'node';
  const user = resolveContainerUser(input.rootfs, { ...input.user, imageUser: input.image.user });
  const capabilities = containerCapabilities({ ...input.capabilities, privileged });
  const resources = ociResourcesFrom(input.resources);
  const requested = containerDevices(input.devices ?? []);
  const seccomp = containerSeccomp(input.seccomp, { privileged, capabilities: capabilities.effective });
  const oomScoreAdj = input.resources?.oomScoreAdj === undefined ? undefined : Number(input.resources.oomScoreAdj);

  const fileMode = input.readonlyRootfs === true ? 'ro' : 'rw';
  const podFiles: OciMount[] = [];
  const bindFile = (destination: string, source: string | undefined): void => {
    if (source !== undefined) podFiles.push({ destination, type: 'bind', source, options: ['rbind', 'rprivate', fileMode] });
  };
  bindFile('/etc/hosts', input.sandbox.hostsPath);
  bindFile('/etc/hostname', input.sandbox.hostnamePath);
  bindFile('/etc/resolv.conf', input.sandbox.resolvConfPath);

  let rootfsPropagation: string | undefined;
  const criMounts: OciMount[] = [...(input.mounts ?? [])]
    // Parents before children, so a mount inside another CRI mount lands on top of it.
    .sort((a, b) => a.containerPath.split('/').length - b.containerPath.split('/').length)
    .map((mount) => {
      checkMountPropagation({ hostPath: mount.hostPath, propagation: mount.propagation ?? 'private' });
      const propagation = propagationOption[mount.propagation ?? 'private'];
      if (propagation === 'rshared') rootfsPropagation = 'rshared';
      else if (propagation === 'rslave' && rootfsPropagation === undefined) rootfsPropagation = 'rslave';
      return { destination: mount.containerPath, type: 'bind', source: mount.hostPath, options: ['rbind', propagation, mount.readonly === true ? 'ro' : 'rw'] };
    });
  const taken = new Set(criMounts.map((mount) => mount.destination));
  const base = baseMounts({ hostSys: hostNetwork, privileged, ...(input.sandbox.shmPath === undefined ? {} : { shmPath: input.sandbox.shmPath }) });
  const mounts = [...base, ...podFiles].filter((mount) => !taken.has(mount.destination)).concat(criMounts);

  // Privileged: every host device, all allowed. Otherwise deny all, then allow the requested ones (runc adds /dev/null and the other defaults).
  const devices: OciDevice[] = privileged ? mergeDevices(hostDevices(), requested.devices) : requested.devices;
  const deviceRules: OciDeviceRule[] = privileged ? [{ allow: true, access: 'rwm' }] : [{ allow: false, access: 'rwm' }, ...requested.rules];

  const spec: OciSpec = {
    ociVersion,
    process: {
      terminal: false,
      user,
      args: containerArgs(input),
      env: containerEnv({ image: input.image, ...(input.envs === undefined ? {} : { envs: input.envs }), ...(input.hostname === undefined ? {} : { hostname: input.hostname }) }),
      cwd: input.workingDir || input.image.workingDir || '/',
      capabilities,
      noNewPrivileges: input.noNewPrivileges === true,
      ...(oomScoreAdj === undefined ? {} : { oomScoreAdj }),
    },
    root: { path: input.rootfs, readonly: input.readonlyRootfs === true },
    mounts,
    linux: {
      namespaces: joinedNamespaces(input.sandbox),
      cgroupsPath: input.cgroupsPath,
      resources: { ...resources, devices: deviceRules },
    },
  };
  if (devices.length > 0) spec.linux.devices = devices;
  if (seccomp !== undefined) spec.linux.seccomp = seccomp;
  if (!privileged) {
    spec.linux.maskedPaths = [...(input.maskedPaths ?? defaultMaskedPaths)];
    spec.linux.readonlyPaths = [...(input.readonlyPaths ?? defaultReadonlyPaths)];
  }
  if (rootfsPropagation !== undefined) spec.linux.rootfsPropagation = rootfsPropagation;
  if (input.sysctls !== undefined && Object.keys(input.sysctls).length > 0) spec.linux.sysctl = { ...input.sysctls };
  if (input.annotations !== undefined) spec.annotations = { ...input.annotations };
  return spec;
}

/**
 * The process of an exec in a container: the container's own user, env,
 * working dir, capabilities and no_new_privs, running `args` without a
 * terminal (ExecSync), as containerd derives exec processes from the spec.
 */
export function buildExecProcess(containerProcess: OciProcess, args: readonly string[]): OciProcess {
  const { oomScoreAdj: _oomScoreAdj, ...inherited } = containerProcess;
  return { ...inherited, terminal: false, args: [...args] };
}
