import type { ServerWritableStream, UntypedServiceImplementation } from '@grpc/grpc-js';
import {
  bindService,
  CgroupDriver,
  ContainerEventResponse,
  GetEventsRequest,
  GrpcStatusError,
  RuntimeServiceService,
  type AsyncServiceImplementation,
  type InternalErrorListener,
  type ServiceBinding,
} from '../../../specs/cri/index.js';
import {
  createContainer,
  execSync,
  removeContainer,
  reopenContainerLog,
  requireContainer,
  startContainer,
  stopContainer,
  updateContainerResources,
} from './container-lifecycle.js';
import { containerOf, containerStatusOf, sandboxOf, sandboxStatusOf } from './cri-views.js';
import { containerMatches, labelsMatch, sandboxMatches } from './list-filters.js';
import { metricDescriptors, sandboxMetricsOf } from './pod-metrics.js';
import { invalidField, nonNegativeSeconds, requireField, requireMessage } from './request-fields.js';
import type { RuntimeContext } from './runtime-context.js';
import { runtimeConditions } from './runtime-status.js';
import { containerPaths, sandboxPaths } from './root-layout.js';
import { removePodSandbox, runPodSandbox, stopPodSandbox } from './sandbox-lifecycle.js';
import { containerStatsOf, sandboxStatsOf } from './stats.js';
import { nowNs } from './ids.js';
import type { StreamingHandlers } from '../streaming/streaming-service.js';

/** The runtime's name in Version. */
export const runtimeName = 'kubeplug-process-runtime';

/** What the streaming calls answer: the runtime supports none of them in this release. */
function unimplemented(what: string): never {
  throw new GrpcStatusError({ code: 'UNIMPLEMENTED', message: `${what} is not implemented by ${runtimeName}` });
}

function requireSandbox(ctx: RuntimeContext, id: string) {
  const entry = ctx.state.findSandbox(id);
  if (entry === undefined) throw new GrpcStatusError({ code: 'NOT_FOUND', message: `pod sandbox ${JSON.stringify(id)} not found` });
  return entry;
}

/** Brings every container's state up to date with its exit file before an answer (level-triggered). */
async function refreshExits(ctx: RuntimeContext): Promise<void> {
  await ctx.exits.checkAll();
}

/** The RuntimeService handlers: validate, then act; errors carry their gRPC code from where they are detected. */
export function createRuntimeService(
  ctx: RuntimeContext,
  runtimeVersion: string,
  streaming?: StreamingHandlers,
): AsyncServiceImplementation<typeof RuntimeServiceService> {
  return {
    version: async () => ({ version: '0.1.0', runtimeName, runtimeVersion, runtimeApiVersion: 'v1' }),

    runPodSandbox: async (request) => {
      const config = requireMessage(request.config, 'config');
      const metadata = requireMessage(config.metadata, 'config.metadata');
      requireField(metadata.name, 'config.metadata.name');
      requireField(metadata.namespace, 'config.metadata.namespace');
      requireField(metadata.uid, 'config.metadata.uid');
      if (request.runtimeHandler !== '') throw invalidField('runtime_handler', `unknown runtime handler ${JSON.stringify(request.runtimeHandler)}; only the default ("") is configured`);
      return { podSandboxId: await runPodSandbox(ctx, config, request.runtimeHandler) };
    },
    stopPodSandbox: async (request) => {
      await stopPodSandbox(ctx, requireField(request.podSandboxId, 'pod_sandbox_id'));
      return {};
    },
    removePodSandbox: async (request) => {
      await removePodSandbox(ctx, requireField(request.podSandboxId, 'pod_sandbox_id'));
      return {};
    },
    podSandboxStatus: async (request) => {
      const entry = requireSandbox(ctx, requireField(request.podSandboxId, 'pod_sandbox_id'));
      await refreshExits(ctx);
      const containers = ctx.state.containersOf(entry.record.id);
      const info: Record<string, string> = {};
      if (request.verbose) {
        info['info'] = JSON.stringify({
          pid: entry.pausePid ?? 0,
          netnsPath: entry.record.hostNetwork ? '' : sandboxPaths(ctx.layout, entry.record.id).netns,
          podCgroup: entry.record.podCgroup,
          hostNetwork: entry.record.hostNetwork,
          ociRuntime: ctx.oci.binary,
          ...(entry.record.stopReason === undefined ? {} : { stopReason: entry.record.stopReason }),
        });
      }
      return { status: sandboxStatusOf(entry), info, containersStatuses: containers.map(containerStatusOf), timestamp: nowNs() };
    },
    listPodSandbox: async (request) => {
      await refreshExits(ctx);
      return { items: [...ctx.state.sandboxes.values()].filter((e) => sandboxMatches(e, request.filter)).map(sandboxOf) };
    },
    updatePodSandboxResources: async () =>
      unimplemented('UpdatePodSandboxResources (the pod cgroup belongs to the kubelet; container limits change through UpdateContainerResources)'),

    createContainer: async (request) => {
      const sandboxId = requireField(request.podSandboxId, 'pod_sandbox_id');
      const config = requireMessage(request.config, 'config');
      const metadata = requireMessage(config.metadata, 'config.metadata');
      requireField(metadata.name, 'config.metadata.name');
      requireField(requireMessage(config.image, 'config.image').image, 'config.image.image');
      if (config.tty || config.stdin) throw invalidField(config.tty ? 'config.tty' : 'config.stdin', 'terminals and stdin need Attach, which this runtime does not implement');
      return { containerId: await createContainer(ctx, sandboxId, config, request.sandboxConfig) };
    },
    startContainer: async (request) => {
      await startContainer(ctx, requireField(request.containerId, 'container_id'));
      return {};
    },
    stopContainer: async (request) => {
      await stopContainer(ctx, requireField(request.containerId, 'container_id'), nonNegativeSeconds(request.timeout, 'timeout'));
      return {};
    },
    removeContainer: async (request) => {
      await removeContainer(ctx, requireField(request.containerId, 'container_id'));
      return {};
    },
    listContainers: async (request) => {
      await refreshExits(ctx);
      return { containers: [...ctx.state.containers.values()].filter((e) => containerMatches(e, request.filter)).map(containerOf) };
    },
    containerStatus: async (request) => {
      const entry = requireContainer(ctx, requireField(request.containerId, 'container_id'));
      await ctx.exits.check(entry.record.id);
      const info: Record<string, string> = {};
      if (request.verbose) {
        info['info'] = JSON.stringify({
          pid: entry.pid ?? 0,
          sandboxId: entry.record.sandboxId,
          bundle: containerPaths(ctx.layout, entry.record.id).bundle,
          cgroupsPath: entry.record.cgroupsPath,
          stopSignal: entry.record.stopSignal,
          ociRuntime: ctx.oci.binary,
        });
      }
      return { status: containerStatusOf(entry), info };
    },
    updateContainerResources: async (request) => {
      await updateContainerResources(ctx, requireField(request.containerId, 'container_id'), request.linux);
      return {};
    },
    reopenContainerLog: async (request) => {
      await reopenContainerLog(ctx, requireField(request.containerId, 'container_id'));
      return {};
    },
    execSync: async (request) => {
      const id = requireField(request.containerId, 'container_id');
      if (request.cmd.length === 0) throw invalidField('cmd', 'is required');
      return execSync(ctx, id, request.cmd, nonNegativeSeconds(request.timeout, 'timeout'));
    },
    exec: async (request) => (streaming === undefined ? unimplemented('Exec (no streaming server); use ExecSync') : streaming.exec(request)),
    attach: async (request) => (streaming === undefined ? unimplemented('Attach (no streaming server)') : streaming.attach(request)),
    portForward: async (request) => (streaming === undefined ? unimplemented('PortForward (no streaming server)') : streaming.portForward(request)),
    checkpointContainer: async () => unimplemented('CheckpointContainer'),

    containerStats: async (request) => {
      const entry = requireContainer(ctx, requireField(request.containerId, 'container_id'));
      return { stats: await containerStatsOf(ctx, entry) };
    },
    listContainerStats: async (request) => {
      const filter = request.filter;
      const entries = [...ctx.state.containers.values()].filter((e) => containerMatches(e, filter === undefined ? undefined : { ...filter }));
      return { stats: await Promise.all(entries.map((e) => containerStatsOf(ctx, e))) };
    },
    podSandboxStats: async (request) => {
      const entry = requireSandbox(ctx, requireField(request.podSandboxId, 'pod_sandbox_id'));
      return { stats: await sandboxStatsOf(ctx, entry) };
    },
    listPodSandboxStats: async (request) => {
      const filter = request.filter;
      const entries = [...ctx.state.sandboxes.values()].filter(
        (e) => filter === undefined || ((filter.id === '' || e.record.id.startsWith(filter.id)) && labelsMatch(e.record.config.labels, filter.labelSelector)),
      );
      return { stats: await Promise.all(entries.map((e) => sandboxStatsOf(ctx, e))) };
    },
    listMetricDescriptors: async () => ({ descriptors: [...metricDescriptors] }),
    listPodSandboxMetrics: async () => ({ podMetrics: await Promise.all([...ctx.state.sandboxes.values()].map((e) => sandboxMetricsOf(ctx, e))) }),

    updateRuntimeConfig: async (request) => {
      ctx.podCidr = request.runtimeConfig?.networkConfig?.podCidr ?? ctx.podCidr;
      return {};
    },
    status: async (request) => {
      const info: Record<string, string> = {};
      if (request.verbose) {
        info['config'] = JSON.stringify({ root: ctx.layout.root, ociRuntime: ctx.oci.binary, cniConfDir: ctx.cniConfDir, cniPath: ctx.cni.options.cniPath, podCidr: ctx.podCidr });
      }
      return {
        status: { conditions: await runtimeConditions(ctx) },
        info,
        runtimeHandlers: [{ name: '', features: { recursiveReadOnlyMounts: false, userNamespaces: false } }],
        features: { supplementalGroupsPolicy: false, userNamespacesHostNetwork: false },
      };
    },
    runtimeConfig: async () => ({ linux: { cgroupDriver: CgroupDriver.CGROUPFS } }),
  };
}

/**
 * GetContainerEvents: a server stream of every later container event until
 * the client cancels. Written by hand since the shared boundary adapts
 * unary calls only.
 */
function containerEventsHandler(ctx: RuntimeContext) {
  return (call: ServerWritableStream<GetEventsRequest, ContainerEventResponse>): void => {
    const unsubscribe = ctx.events.subscribe((event) => {
      if (!call.cancelled && !call.destroyed) call.write(event);
    });
    const end = (): void => unsubscribe();
    call.on('cancelled', end);
    call.on('close', end);
    call.on('error', end);
  };
}

/** The RuntimeService binding: unary handlers through the shared error boundary, plus the events stream. */
export function bindRuntimeService(
  ctx: RuntimeContext,
  runtimeVersion: string,
  onInternalError: InternalErrorListener,
  streaming?: StreamingHandlers,
): ServiceBinding {
  const binding = bindService(RuntimeServiceService, createRuntimeService(ctx, runtimeVersion, streaming), onInternalError);
  const handlers: UntypedServiceImplementation = { ...binding.handlers, getContainerEvents: containerEventsHandler(ctx) };
  return { definition: binding.definition, handlers };
}
