/**
 * The CRI configs the kubelet sends for a pod: PodSandboxConfig (upstream
 * kubernetes/kubernetes pkg/kubelet/kuberuntime/kuberuntime_sandbox.go
 * generatePodSandboxConfig) and ContainerConfig (kuberuntime_container.go
 * generateContainerConfig). Pure: the same pod and attempt give the same
 * config, so a later sync rebuilds the sandbox config for CreateContainer.
 * @see KUBELET-PLUGIN-002
 * @see KUBELET-PLUGIN-008
 */
import fs from 'node:fs';
import path from 'node:path';
import {
  ContainerConfig,
  MountPropagation,
  NamespaceMode,
  PodSandboxConfig,
  Protocol,
  type DNSConfig,
  type Mount,
  type NamespaceOption,
} from '../../specs/cri/index.js';
import type { Container, Pod } from '../api/pod-types.js';
import { parseQuantityBytes } from '../volumes/csi-volume.js';
import { podLogDirectory } from '../volumes/volume-paths.js';
import { containerHash, containerLabels, encodeContainerAnnotations, sandboxAnnotations, sandboxLabels, type ContainerKind } from './runtime-labels.js';

/** What the configs need beyond the pod. */
export interface RuntimeConfigOptions {
  readonly rootDir: string;
  /** linux.cgroup_parent of every sandbox; none when unset. */
  readonly cgroupParent?: string;
  /** The DNS config for pods not on the host network; read from /etc/resolv.conf when unset. */
  readonly dnsConfig?: DNSConfig;
}

/** Nameservers, search domains and options of a resolv.conf text. */
export function parseResolvConf(text: string): DNSConfig {
  const config: DNSConfig = { servers: [], searches: [], options: [] };
  for (const raw of text.split('\n')) {
    const fields = raw.replace(/[#;].*$/, '').trim().split(/\s+/);
    const [keyword, ...rest] = fields;
    if (keyword === 'nameserver' && rest[0] !== undefined) config.servers.push(rest[0]);
    else if (keyword === 'search' || keyword === 'domain') config.searches = rest;
    else if (keyword === 'options') config.options.push(...rest);
  }
  return config;
}

function hostDnsConfig(): DNSConfig {
  try {
    return parseResolvConf(fs.readFileSync('/etc/resolv.conf', 'utf8'));
  } catch {
    return { servers: [], searches: [], options: [] };
  }
}

/** The namespaces a pod's sandbox and containers share (upstream namespacesForPod). */
export function podNamespaceOptions(pod: Pod): NamespaceOption {
  return {
    network: pod.spec.hostNetwork === true ? NamespaceMode.NODE : NamespaceMode.POD,
    pid: pod.spec.shareProcessNamespace === true ? NamespaceMode.POD : NamespaceMode.CONTAINER,
    ipc: NamespaceMode.POD,
    targetId: '',
  };
}

const protocols = { TCP: Protocol.TCP, UDP: Protocol.UDP, SCTP: Protocol.SCTP } as const;

/** The pod's sandbox config for `attempt`. @see KUBELET-SANDBOX-001 @see KUBELET-SANDBOX-003 */
export function buildSandboxConfig(pod: Pod, attempt: number, options: RuntimeConfigOptions): PodSandboxConfig {
  const namespace = pod.metadata.namespace ?? 'default';
  const uid = pod.metadata.uid ?? '';
  const hostNetwork = pod.spec.hostNetwork === true;
  const portMappings = [...(pod.spec.initContainers ?? []), ...pod.spec.containers].flatMap((container) =>
    (container.ports ?? [])
      .filter((port) => port.hostPort !== undefined && port.hostPort > 0)
      .map((port) => ({ protocol: protocols[port.protocol ?? 'TCP'], containerPort: port.containerPort, hostPort: port.hostPort ?? 0, hostIp: port.hostIP ?? '' })),
  );
  const dnsPolicy = pod.spec.dnsPolicy ?? 'ClusterFirst';
  // No cluster DNS here: ClusterFirst falls back to the host's resolv.conf, as upstream does without --cluster-dns.
  const dnsConfig = hostNetwork && dnsPolicy !== 'ClusterFirstWithHostNet' ? undefined : dnsPolicy === 'None' ? undefined : (options.dnsConfig ?? hostDnsConfig());
  return PodSandboxConfig.fromPartial({
    metadata: { name: pod.metadata.name, uid, namespace, attempt },
    hostname: hostNetwork ? '' : (pod.spec.hostname ?? pod.metadata.name),
    logDirectory: podLogDirectory(options.rootDir, namespace, pod.metadata.name, uid),
    ...(dnsConfig === undefined ? {} : { dnsConfig }),
    portMappings,
    labels: sandboxLabels(pod),
    annotations: sandboxAnnotations(pod),
    linux: {
      cgroupParent: options.cgroupParent ?? '',
      securityContext: { namespaceOptions: podNamespaceOptions(pod) },
      sysctls: {},
    },
  });
}

/** The log file of a container, relative to the sandbox's log directory. @see KUBELET-PLUGIN-008 */
export function containerLogPath(name: string, attempt: number): string {
  return path.join(name, `${attempt}.log`);
}

/** What a container config needs besides the pod and container. */
export interface ContainerConfigInput {
  readonly kind: ContainerKind;
  readonly attempt: number;
  readonly crashStreak: number;
  /** Host path of each volume, by name. */
  readonly volumePaths: ReadonlyMap<string, string>;
}

/** Expands $(VAR) references from earlier variables, `$$` escaping, as upstream expansion does. */
export function expandVariables(text: string, variables: ReadonlyMap<string, string>): string {
  return text.replace(/\$\$|\$\(([A-Za-z_][A-Za-z0-9_.-]*)\)/g, (match: string, name: string | undefined) => {
    if (match === '$$') return '$';
    return name !== undefined && variables.has(name) ? (variables.get(name) ?? '') : match;
  });
}

/** The mounts of a container, from its volumeMounts and the pod's volume paths. */
export function containerMounts(container: Container, volumePaths: ReadonlyMap<string, string>): Mount[] {
  return (container.volumeMounts ?? []).flatMap((mount) => {
    const base = volumePaths.get(mount.name);
    if (base === undefined) return [];
    const hostPath = mount.subPath === undefined || mount.subPath === '' ? base : path.join(base, mount.subPath);
    return [
      {
        containerPath: mount.mountPath,
        hostPath,
        readonly: mount.readOnly ?? false,
        selinuxRelabel: false,
        propagation: MountPropagation.PROPAGATION_PRIVATE,
        uidMappings: [],
        gidMappings: [],
        recursiveReadOnly: false,
        imageSubPath: '',
      },
    ];
  });
}

/** Millicores of a CPU quantity ("500m", "2", "0.5"); undefined when it is not one. */
export function parseMilliCpu(text: string): number | undefined {
  const trimmed = text.trim();
  if (/^\d+m$/.test(trimmed)) return Number(trimmed.slice(0, -1));
  if (/^\d+(\.\d+)?$/.test(trimmed)) return Math.round(Number(trimmed) * 1000);
  return undefined;
}

/**
 * linux.resources from the container's requests and limits, as upstream's
 * kuberuntime_container_linux.go calculateLinuxResources does: shares from
 * the CPU request (2 minimum), quota over a 100 ms period from the CPU
 * limit, the memory limit in bytes.
 */
export function linuxResources(container: Container): Record<string, bigint> | undefined {
  const limits = container.resources?.limits ?? {};
  const requests = container.resources?.requests ?? {};
  const resources: Record<string, bigint> = {};
  const memory = limits['memory'] === undefined ? undefined : parseQuantityBytes(limits['memory']);
  if (memory !== undefined) resources['memoryLimitInBytes'] = memory;
  const cpuLimit = limits['cpu'] === undefined ? undefined : parseMilliCpu(limits['cpu']);
  if (cpuLimit !== undefined && cpuLimit > 0) {
    resources['cpuPeriod'] = 100_000n;
    resources['cpuQuota'] = BigInt(Math.max(1000, Math.floor((cpuLimit * 100_000) / 1000)));
  }
  const cpuRequest = requests['cpu'] ?? limits['cpu'];
  const milli = cpuRequest === undefined ? undefined : parseMilliCpu(cpuRequest);
  if (milli !== undefined) resources['cpuShares'] = BigInt(Math.max(2, Math.floor((milli * 1024) / 1000)));
  return Object.keys(resources).length === 0 ? undefined : resources;
}

/** The container config of `container` in `pod`. */
export function buildContainerConfig(pod: Pod, container: Container, input: ContainerConfigInput): ContainerConfig {
  const variables = new Map<string, string>();
  const envs = (container.env ?? []).map((variable) => {
    const value = expandVariables(variable.value ?? '', variables);
    variables.set(variable.name, value);
    return { key: variable.name, value: Buffer.from(value) };
  });
  const security = container.securityContext;
  const resources = linuxResources(container);
  return ContainerConfig.fromPartial({
    metadata: { name: container.name, attempt: input.attempt },
    image: { image: container.image, userSpecifiedImage: container.image },
    command: (container.command ?? []).map((part) => expandVariables(part, variables)),
    args: (container.args ?? []).map((part) => expandVariables(part, variables)),
    workingDir: container.workingDir ?? '',
    envs,
    mounts: containerMounts(container, input.volumePaths),
    labels: containerLabels(pod, container),
    annotations: encodeContainerAnnotations({
      hash: containerHash(container),
      restartCount: input.attempt,
      terminationGracePeriodSeconds: pod.spec.terminationGracePeriodSeconds ?? 30,
      terminationMessagePath: container.terminationMessagePath ?? '/dev/termination-log',
      ...(container.lifecycle?.preStop === undefined ? {} : { preStop: container.lifecycle.preStop }),
      kind: input.kind,
      crashStreak: input.crashStreak,
    }),
    logPath: containerLogPath(container.name, input.attempt),
    stdin: container.stdin ?? false,
    tty: container.tty ?? false,
    linux: {
      ...(resources === undefined ? {} : { resources }),
      securityContext: {
        namespaceOptions: podNamespaceOptions(pod),
        privileged: security?.privileged ?? false,
        readonlyRootfs: security?.readOnlyRootFilesystem ?? false,
        ...(security?.runAsUser === undefined ? {} : { runAsUser: { value: BigInt(security.runAsUser) } }),
        ...(security?.runAsGroup === undefined ? {} : { runAsGroup: { value: BigInt(security.runAsGroup) } }),
      },
    },
  });
}
