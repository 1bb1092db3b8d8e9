import fs from 'node:fs/promises';
import path from 'node:path';
import {
  GrpcStatusError,
  MountPropagation,
  NamespaceMode as CriNamespaceMode,
  type LinuxContainerResources,
  type NamespaceOption,
} from '../../../specs/cri/index.js';
import { ContainerUserError } from '../oci/container-user.js';
import { DeviceError } from '../oci/devices.js';
import { MountPropagationError } from '../oci/mount-propagation.js';
import { SeccompProfileError, seccompChoiceFromCri } from '../oci/seccomp-profile.js';
import type { OciLinuxResources, OciProcess, OciSpec } from '../oci/oci-spec.js';
import {
  buildContainerSpec,
  buildSandboxSpec,
  ociResourcesFrom,
  type ContainerMountInput,
  type NamespaceMode,
  type PodNamespaces,
} from '../oci/runtime-spec.js';
import type { ContainerRecord, ContainerUserRecord } from './container-store.js';
import type { RuntimeImage } from './image-lookup.js';
import { containerPaths, sandboxPaths } from './root-layout.js';
import type { RuntimeContext } from './runtime-context.js';
import type { SandboxRecord } from './sandbox-store.js';
import { podHostname } from './pod-files.js';
import { usesPodShm } from './pod-shm.js';

/** The shared read-only rootfs of every pause container (the static pause binary). */
export function pauseRootfsOf(ctx: RuntimeContext): string {
  return path.join(ctx.layout.root, 'pause-rootfs');
}

/** The OOM score the kubelet gives infra containers, so the OOM killer spares them. */
const sandboxOomScoreAdj = -998;

/**
 * The pause's OOM score: -998, unless this process may not go that low
 * (lowering needs CAP_SYS_RESOURCE, which a runtime inside a container
 * may lack): then its own score, which any child may keep.
 */
async function pauseOomScoreAdj(): Promise<number> {
  const own = Number.parseInt(await fs.readFile('/proc/self/oom_score_adj', 'utf8').catch(() => '0'), 10);
  return Number.isSafeInteger(own) ? Math.max(sandboxOomScoreAdj, own) : sandboxOomScoreAdj;
}

const modeNames: Record<number, NamespaceMode> = {
  [CriNamespaceMode.POD]: 'pod',
  [CriNamespaceMode.CONTAINER]: 'container',
  [CriNamespaceMode.NODE]: 'node',
  [CriNamespaceMode.TARGET]: 'target',
};

/** CRI namespace options in the OCI layer's words. */
export function podNamespacesOf(options: NamespaceOption | undefined): PodNamespaces {
  return {
    network: options?.network === CriNamespaceMode.NODE ? 'node' : 'pod',
    pid: modeNames[options?.pid ?? CriNamespaceMode.POD] ?? 'pod',
    ipc: options?.ipc === CriNamespaceMode.NODE ? 'node' : 'pod',
  };
}

/** CRI resources as `linux.resources`. */
export function ociResourcesOf(resources: LinuxContainerResources | undefined): OciLinuxResources {
  return ociResourcesFrom(resources);
}

async function writeSpec(bundle: string, spec: OciSpec): Promise<void> {
  await fs.mkdir(bundle, { recursive: true });
  await fs.writeFile(path.join(bundle, 'config.json'), JSON.stringify(spec), { mode: 0o600 });
}

/** Writes the pause container's bundle (config.json) for a sandbox. */
export async function writeSandboxBundle(ctx: RuntimeContext, record: SandboxRecord): Promise<void> {
  const paths = sandboxPaths(ctx.layout, record.id);
  const linux = record.config.linux;
  const spec = buildSandboxSpec({
    pauseRootfs: pauseRootfsOf(ctx),
    hostname: podHostname(record.config, record.hostNetwork),
    namespaces: podNamespacesOf(linux?.securityContext?.namespaceOptions),
    ...(record.hostNetwork ? {} : { netnsPath: paths.netns }),
    ...(usesPodShm(record.config) ? { shmPath: paths.shm } : {}),
    cgroupsPath: `${record.podCgroup}/${record.id}`,
    sysctls: linux?.sysctls ?? {},
    ...(linux?.overhead === undefined ? {} : { resources: linux.overhead }),
    oomScoreAdj: await pauseOomScoreAdj(),
    annotations: { 'io.kubernetes.cri.container-type': 'sandbox', 'io.kubernetes.cri.sandbox-id': record.id },
  });
  await writeSpec(paths.bundle, spec);
}

const propagationNames: Record<number, ContainerMountInput['propagation']> = {
  [MountPropagation.PROPAGATION_PRIVATE]: 'private',
  [MountPropagation.PROPAGATION_HOST_TO_CONTAINER]: 'host-to-container',
  [MountPropagation.PROPAGATION_BIDIRECTIONAL]: 'bidirectional',
};

/**
 * Writes a container's bundle from its config, its image and its sandbox
 * (whose pause process it joins); returns the user it will run as.
 * @throws GrpcStatusError INVALID_ARGUMENT for a user the image does not know
 */
export async function writeContainerBundle(
  ctx: RuntimeContext,
  o: { record: ContainerRecord; sandbox: SandboxRecord; image: RuntimeImage },
): Promise<{ user: ContainerUserRecord }> {
  const sandboxEntry = ctx.state.sandboxes.get(o.sandbox.id);
  const pausePid = sandboxEntry?.pausePid;
  if (pausePid === undefined) throw new GrpcStatusError({ code: 'FAILED_PRECONDITION', message: `pod sandbox ${o.sandbox.id} has no running pause process` });
  const config = o.record.config;
  const security = config.linux?.securityContext;
  const sandboxFiles = sandboxPaths(ctx.layout, o.sandbox.id);
  const paths = containerPaths(ctx.layout, o.record.id);
  const namespaces = podNamespacesOf(security?.namespaceOptions ?? o.sandbox.config.linux?.securityContext?.namespaceOptions);
  let targetPid: number | undefined;
  if (namespaces.pid === 'target') {
    const targetId = security?.namespaceOptions?.targetId ?? '';
    targetPid = ctx.state.findContainer(targetId)?.pid;
    if (targetPid === undefined) throw new GrpcStatusError({ code: 'FAILED_PRECONDITION', message: `linux.security_context.namespace_options.target_id: container ${JSON.stringify(targetId)} is not running` });
  }
  let spec: OciSpec;
  try {
    spec = buildContainerSpec({
      rootfs: paths.rootfs,
      image: o.image.config,
      command: config.command,
      args: config.args,
      envs: config.envs.map(({ key, value }) => ({ key, value: Buffer.from(value).toString('utf8') })),
      workingDir: config.workingDir,
      hostname: podHostname(o.sandbox.config, o.sandbox.hostNetwork),
      user: {
        ...(security?.runAsUser === undefined ? {} : { runAsUser: security.runAsUser.value }),
        ...(security?.runAsGroup === undefined ? {} : { runAsGroup: security.runAsGroup.value }),
        ...(security?.runAsUsername ? { runAsUsername: security.runAsUsername } : {}),
        supplementalGroups: security?.supplementalGroups ?? [],
      },
      capabilities: { add: security?.capabilities?.addCapabilities ?? [], drop: security?.capabilities?.dropCapabilities ?? [] },
      privileged: security?.privileged === true,
      readonlyRootfs: security?.readonlyRootfs === true,
      noNewPrivileges: security?.noNewPrivs === true,
      ...(security !== undefined && security.maskedPaths.length > 0 ? { maskedPaths: security.maskedPaths } : {}),
      ...(security !== undefined && security.readonlyPaths.length > 0 ? { readonlyPaths: security.readonlyPaths } : {}),
      mounts: config.mounts.map((m) => ({ containerPath: m.containerPath, hostPath: m.hostPath, readonly: m.readonly, propagation: propagationNames[m.propagation] ?? 'private' })),
      sandbox: {
        pausePid,
        namespaces,
        ...(targetPid === undefined ? {} : { targetPid }),
        hostsPath: sandboxFiles.hosts,
        hostnamePath: sandboxFiles.hostname,
        resolvConfPath: sandboxFiles.resolvConf,
        ...(usesPodShm(o.sandbox.config) ? { shmPath: sandboxFiles.shm } : {}),
      },
      devices: config.devices.map((d) => ({ containerPath: d.containerPath, hostPath: d.hostPath, permissions: d.permissions })),
      seccomp: seccompChoiceFromCri({ seccomp: security?.seccomp, seccompProfilePath: security?.seccompProfilePath ?? '' }),
      cgroupsPath: o.record.cgroupsPath,
      ...(config.linux?.resources === undefined ? {} : { resources: config.linux.resources }),
      annotations: {
        'io.kubernetes.cri.container-type': 'container',
        'io.kubernetes.cri.sandbox-id': o.sandbox.id,
        'io.kubernetes.cri.container-name': config.metadata?.name ?? '',
      },
    });
  } catch (error) {
    if (error instanceof ContainerUserError || error instanceof SeccompProfileError) {
      throw new GrpcStatusError({ code: 'INVALID_ARGUMENT', message: `linux.security_context: ${error.message}`, cause: error });
    }
    if (error instanceof DeviceError) throw new GrpcStatusError({ code: 'INVALID_ARGUMENT', message: `devices: ${error.message}`, cause: error });
    if (error instanceof MountPropagationError) throw new GrpcStatusError({ code: 'FAILED_PRECONDITION', message: `mounts: ${error.message}`, cause: error });
    throw error;
  }
  await writeSpec(paths.bundle, spec);
  const user = spec.process.user;
  return { user: { uid: user.uid, gid: user.gid, additionalGids: user.additionalGids ?? [] } };
}

/** The process of a container's bundle, the base of every exec in it (same user, env, cwd, capabilities). */
export async function readBundleProcess(bundle: string): Promise<OciProcess> {
  const spec = JSON.parse(await fs.readFile(path.join(bundle, 'config.json'), 'utf8')) as OciSpec;
  return spec.process;
}
