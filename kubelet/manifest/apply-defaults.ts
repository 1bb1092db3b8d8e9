/**
 * The defaults the API server writes into a pod before anyone reads it, so
 * /pods shows the same spec a real cluster would.
 * Source: kubernetes/kubernetes pkg/apis/core/v1/defaults.go (SetDefaults_Pod,
 * SetDefaults_PodSpec, SetDefaults_Container, SetDefaults_ContainerPort,
 * SetDefaults_Probe, SetDefaults_HTTPGetAction, SetDefaults_GRPCAction,
 * SetDefaults_Volume).
 *
 * One deliberate difference: upstream turns an explicit 0 in probe fields into
 * the default; here only an absent field is defaulted, so an explicit 0 stays
 * and validation refuses it (KUBELET-MANIFEST-006 treats it as out of range).
 */
import type {
  Container,
  ContainerPort,
  HttpGetAction,
  Lifecycle,
  LifecycleHandler,
  Pod,
  Probe,
  ProbeHandler,
  Volume,
} from '../api/pod-types.js';
import { defaultImagePullPolicy } from './image-pull-policy.js';

/** Probe field defaults (KUBELET-PROBE-005). */
export const probeDefaults = {
  initialDelaySeconds: 0,
  timeoutSeconds: 1,
  periodSeconds: 10,
  successThreshold: 1,
  failureThreshold: 3,
} as const;

/** Pod-level defaults (KUBELET-MANIFEST-010). */
export const podDefaults = {
  restartPolicy: 'Always',
  terminationGracePeriodSeconds: 30,
  dnsPolicy: 'ClusterFirst',
} as const;

export const defaultTerminationMessagePath = '/dev/termination-log';

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function defaultHttpGet(action: HttpGetAction): HttpGetAction {
  return { ...action, path: action.path ?? '/', scheme: action.scheme ?? 'HTTP' };
}

function defaultHandler<H extends ProbeHandler | LifecycleHandler>(handler: H): H {
  const out = { ...handler };
  if (isObject(out.httpGet)) out.httpGet = defaultHttpGet(out.httpGet);
  if ('grpc' in out && isObject(out.grpc)) out.grpc = { ...out.grpc, service: out.grpc.service ?? '' };
  return out;
}

function defaultProbe(probe: Probe | undefined): Probe | undefined {
  if (typeof probe !== 'object' || probe === null || Array.isArray(probe)) return probe;
  return {
    ...defaultHandler(probe),
    initialDelaySeconds: probe.initialDelaySeconds ?? probeDefaults.initialDelaySeconds,
    timeoutSeconds: probe.timeoutSeconds ?? probeDefaults.timeoutSeconds,
    periodSeconds: probe.periodSeconds ?? probeDefaults.periodSeconds,
    successThreshold: probe.successThreshold ?? probeDefaults.successThreshold,
    failureThreshold: probe.failureThreshold ?? probeDefaults.failureThreshold,
  };
}

function defaultLifecycle(lifecycle: Lifecycle | undefined): Lifecycle | undefined {
  if (!isObject(lifecycle)) return lifecycle;
  const out: Lifecycle = { ...lifecycle };
  if (isObject(out.postStart)) out.postStart = defaultHandler(out.postStart);
  if (isObject(out.preStop)) out.preStop = defaultHandler(out.preStop);
  return out;
}

function defaultPort(port: ContainerPort): ContainerPort {
  return isObject(port) ? { ...port, protocol: port.protocol ?? 'TCP' } : port;
}

function defaultContainer(container: Container): Container {
  if (!isObject(container)) return container;
  const out: Container = {
    ...container,
    terminationMessagePath: container.terminationMessagePath ?? defaultTerminationMessagePath,
    terminationMessagePolicy: container.terminationMessagePolicy ?? 'File',
    imagePullPolicy:
      container.imagePullPolicy ?? defaultImagePullPolicy(typeof container.image === 'string' ? container.image : ''),
  };
  if (Array.isArray(container.ports)) out.ports = container.ports.map(defaultPort);
  for (const kind of ['livenessProbe', 'readinessProbe', 'startupProbe'] as const) {
    if (container[kind] !== undefined) out[kind] = defaultProbe(container[kind]);
  }
  if (container.lifecycle !== undefined) out.lifecycle = defaultLifecycle(container.lifecycle);
  return out;
}

function defaultVolume(volume: Volume): Volume {
  if (!isObject(volume)) return volume;
  // Upstream gives a volume that names no source at all an emptyDir; one with
  // a source kubeplug does not know (configMap…) is left for validation.
  const hasAnySource = Object.keys(volume).some((key) => key !== 'name');
  if (!hasAnySource) return { ...volume, emptyDir: {} };
  return volume;
}

/**
 * Returns a copy of the pod with the API server's defaults filled in; the
 * input is never changed. Fields of the wrong shape are left as they are for
 * validatePod to report.
 * @see KUBELET-MANIFEST-010
 * @see KUBELET-PROBE-005
 */
export function applyPodDefaults(raw: Pod): Pod {
  const spec = isObject(raw.spec) ? raw.spec : { containers: [] };
  const outSpec = {
    ...spec,
    restartPolicy: spec.restartPolicy ?? podDefaults.restartPolicy,
    terminationGracePeriodSeconds: spec.terminationGracePeriodSeconds ?? podDefaults.terminationGracePeriodSeconds,
    dnsPolicy: spec.dnsPolicy ?? podDefaults.dnsPolicy,
  };
  if (Array.isArray(spec.containers)) outSpec.containers = spec.containers.map(defaultContainer);
  if (Array.isArray(spec.initContainers)) outSpec.initContainers = spec.initContainers.map(defaultContainer);
  if (Array.isArray(spec.volumes)) outSpec.volumes = spec.volumes.map(defaultVolume);
  return { ...raw, metadata: isObject(raw.metadata) ? { ...raw.metadata } : raw.metadata, spec: outSpec };
}
