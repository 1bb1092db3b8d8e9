/**
 * Validation of a (defaulted) pod as the API server does it, for the subset of
 * core/v1 that kubeplug implements. Each error names the field by its JSON
 * path, as the API server's field errors do.
 * Source: kubernetes/kubernetes pkg/apis/core/validation/validation.go
 * (ValidatePodSpec, validateContainers, validateInitContainers,
 * validateContainerPorts, validateProbe, validateHandler, validateVolumes,
 * validateVolumeMounts, validateRestartPolicy). Where kubeplug is stricter
 * than upstream the rule says so.
 */
import type { FieldError } from '../api/field-error.js';
import type {
  Container,
  ContainerPort,
  HttpGetAction,
  Lifecycle,
  LifecycleHandler,
  Pod,
  PodSpec,
  Probe,
  TcpSocketAction,
  Volume,
  VolumeMount,
} from '../api/pod-types.js';
import { fieldErrors } from './field-errors.js';
import { dns1123LabelProblem, dns1123SubdomainProblem, portNameProblem, portNumberProblem } from './name-rules.js';

type ProbeKind = 'livenessProbe' | 'readinessProbe' | 'startupProbe';
const probeKinds: readonly ProbeKind[] = ['livenessProbe', 'readinessProbe', 'startupProbe'];
const restartPolicies = ['Always', 'OnFailure', 'Never'] as const;
const dnsPolicies = ['ClusterFirstWithHostNet', 'ClusterFirst', 'Default', 'None'] as const;
const pullPolicies = ['Always', 'IfNotPresent', 'Never'] as const;
const protocols = ['SCTP', 'TCP', 'UDP'] as const;
const terminationMessagePolicies = ['File', 'FallbackToLogsOnError'] as const;
const hostPathTypes = ['', 'DirectoryOrCreate', 'Directory', 'FileOrCreate', 'File', 'Socket', 'CharDevice', 'BlockDevice'] as const;
const maxInt32 = 2147483647;

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function isInteger(value: unknown): value is number {
  return typeof value === 'number' && Number.isInteger(value);
}

/** Checks an optional integer field against a minimum; absent fields pass. */
function checkMinimum(errors: FieldError[], field: string, value: unknown, minimum: number): void {
  if (value === undefined) return;
  if (!isInteger(value) || value < minimum) {
    errors.push(fieldErrors.invalid(field, value, `must be greater than or equal to ${minimum}`));
  }
}

/** The items of an optional list field; a value that is not a list is reported and yields none. */
function listAt(errors: FieldError[], field: string, value: unknown): unknown[] {
  if (value === undefined || value === null) return [];
  if (Array.isArray(value)) return value;
  errors.push(fieldErrors.invalid(field, value, 'must be a list'));
  return [];
}

function checkEnum(errors: FieldError[], field: string, value: unknown, allowed: readonly string[]): void {
  if (value === undefined) return;
  if (typeof value !== 'string' || !allowed.includes(value)) errors.push(fieldErrors.unsupported(field, value, allowed));
}

/**
 * A probe's or hook's port: a number in 1..65535, or the name of one of the
 * container's ports. Requiring the named port to exist is kubeplug's rule
 * (upstream only checks the name's format and fails the probe later).
 * @see KUBELET-MANIFEST-005
 */
function checkTargetPort(errors: FieldError[], field: string, port: unknown, container: Container): void {
  if (typeof port === 'number') {
    const problem = portNumberProblem(port);
    if (problem !== undefined) errors.push(fieldErrors.invalid(field, port, problem));
    return;
  }
  if (typeof port !== 'string' || port === '') {
    errors.push(fieldErrors.required(field));
    return;
  }
  const problem = portNameProblem(port);
  if (problem !== undefined) {
    errors.push(fieldErrors.invalid(field, port, problem));
    return;
  }
  const declared = (Array.isArray(container.ports) ? container.ports : []).some((declaredPort) => isObject(declaredPort) && declaredPort.name === port);
  if (!declared) errors.push(fieldErrors.invalid(field, port, 'must name a port of the container (spec ports[].name)'));
}

function checkHttpGet(errors: FieldError[], field: string, action: HttpGetAction, container: Container): void {
  checkTargetPort(errors, `${field}.port`, action.port, container);
  checkEnum(errors, `${field}.scheme`, action.scheme, ['HTTP', 'HTTPS']);
  if (typeof action.path === 'string' && action.path !== '' && !action.path.startsWith('/')) {
    errors.push(fieldErrors.invalid(`${field}.path`, action.path, "must start with '/'"));
  }
  listAt(errors, `${field}.httpHeaders`, action.httpHeaders).forEach((header, index) => {
    if (!isObject(header) || typeof header.name !== 'string' || !/^[-A-Za-z0-9!#$%&'*+.^_`|~]+$/.test(header.name)) {
      errors.push(fieldErrors.invalid(`${field}.httpHeaders[${index}].name`, isObject(header) ? header.name : header, 'must be a valid HTTP header name'));
    }
  });
}

function checkTcpSocket(errors: FieldError[], field: string, action: TcpSocketAction, container: Container): void {
  checkTargetPort(errors, `${field}.port`, action.port, container);
}

function checkExec(errors: FieldError[], field: string, command: unknown): void {
  if (!Array.isArray(command) || command.length === 0) errors.push(fieldErrors.required(`${field}.command`));
}

/** Exactly one handler, and each handler's own fields. */
function checkHandler(
  errors: FieldError[],
  field: string,
  handler: Record<string, unknown>,
  kinds: readonly string[],
  container: Container,
): void {
  const present = kinds.filter((kind) => handler[kind] !== undefined && handler[kind] !== null);
  if (present.length === 0) errors.push(fieldErrors.required(field, 'must specify a handler type'));
  if (present.length > 1) errors.push(fieldErrors.forbidden(field, 'may not specify more than 1 handler type'));
  for (const kind of present) {
    const action = handler[kind];
    const actionField = `${field}.${kind}`;
    if (!isObject(action)) {
      errors.push(fieldErrors.invalid(actionField, action, 'must be an object'));
      continue;
    }
    if (kind === 'exec') checkExec(errors, actionField, action.command);
    if (kind === 'httpGet') checkHttpGet(errors, actionField, action as unknown as HttpGetAction, container);
    if (kind === 'tcpSocket') checkTcpSocket(errors, actionField, action as unknown as TcpSocketAction, container);
    if (kind === 'grpc') {
      const problem = typeof action.port === 'number' ? portNumberProblem(action.port) : 'must be a number';
      if (problem !== undefined) errors.push(fieldErrors.invalid(`${actionField}.port`, action.port, problem));
    }
    if (kind === 'sleep') checkMinimum(errors, `${actionField}.seconds`, action.seconds ?? -1, 0);
  }
}

/** @see KUBELET-MANIFEST-006 */
function checkProbe(errors: FieldError[], field: string, kind: ProbeKind, probe: Probe, container: Container): void {
  if (!isObject(probe)) {
    errors.push(fieldErrors.invalid(field, probe, 'must be an object'));
    return;
  }
  checkHandler(errors, field, probe as unknown as Record<string, unknown>, ['exec', 'httpGet', 'tcpSocket', 'grpc'], container);
  checkMinimum(errors, `${field}.initialDelaySeconds`, probe.initialDelaySeconds, 0);
  checkMinimum(errors, `${field}.timeoutSeconds`, probe.timeoutSeconds, 1);
  checkMinimum(errors, `${field}.periodSeconds`, probe.periodSeconds, 1);
  checkMinimum(errors, `${field}.successThreshold`, probe.successThreshold, 1);
  checkMinimum(errors, `${field}.failureThreshold`, probe.failureThreshold, 1);
  if (kind !== 'readinessProbe' && isInteger(probe.successThreshold) && probe.successThreshold > 1) {
    errors.push(fieldErrors.invalid(`${field}.successThreshold`, probe.successThreshold, 'must be 1'));
  }
  if (probe.terminationGracePeriodSeconds !== undefined) {
    if (kind === 'readinessProbe') {
      errors.push(fieldErrors.invalid(`${field}.terminationGracePeriodSeconds`, probe.terminationGracePeriodSeconds, 'must not be set for readinessProbes'));
    } else {
      checkMinimum(errors, `${field}.terminationGracePeriodSeconds`, probe.terminationGracePeriodSeconds, 1);
    }
  }
}

function checkLifecycle(errors: FieldError[], field: string, lifecycle: Lifecycle, container: Container): void {
  if (typeof lifecycle !== 'object' || lifecycle === null || Array.isArray(lifecycle)) {
    errors.push(fieldErrors.invalid(field, lifecycle, 'must be an object'));
    return;
  }
  for (const hook of ['postStart', 'preStop'] as const) {
    const handler: LifecycleHandler | undefined = lifecycle[hook];
    if (handler === undefined) continue;
    if (!isObject(handler)) {
      errors.push(fieldErrors.invalid(`${field}.${hook}`, handler, 'must be an object'));
      continue;
    }
    checkHandler(errors, `${field}.${hook}`, handler as unknown as Record<string, unknown>, ['exec', 'httpGet', 'tcpSocket', 'sleep'], container);
  }
}

/** @see KUBELET-MANIFEST-005 */
function checkPorts(errors: FieldError[], field: string, value: unknown): void {
  const names = new Set<string>();
  (listAt(errors, field, value) as ContainerPort[]).forEach((port, index) => {
    const portField = `${field}[${index}]`;
    if (!isObject(port)) {
      errors.push(fieldErrors.invalid(portField, port, 'must be an object'));
      return;
    }
    if (port.containerPort === undefined) errors.push(fieldErrors.required(`${portField}.containerPort`));
    else {
      const problem = typeof port.containerPort === 'number' ? portNumberProblem(port.containerPort) : 'must be a number';
      if (problem !== undefined) errors.push(fieldErrors.invalid(`${portField}.containerPort`, port.containerPort, problem));
    }
    if (port.hostPort !== undefined && port.hostPort !== 0) {
      const problem = typeof port.hostPort === 'number' ? portNumberProblem(port.hostPort) : 'must be a number';
      if (problem !== undefined) errors.push(fieldErrors.invalid(`${portField}.hostPort`, port.hostPort, problem));
    }
    if (port.name !== undefined && port.name !== '') {
      const problem = typeof port.name === 'string' ? portNameProblem(port.name) : 'must be a string';
      if (problem !== undefined) errors.push(fieldErrors.invalid(`${portField}.name`, port.name, problem));
      else if (names.has(port.name)) errors.push(fieldErrors.duplicate(`${portField}.name`, port.name));
      else names.add(port.name);
    }
    checkEnum(errors, `${portField}.protocol`, port.protocol, protocols);
  });
}

function checkVolumeMounts(errors: FieldError[], field: string, container: Container, volumeNames: ReadonlySet<string>): void {
  const paths = new Set<string>();
  (listAt(errors, `${field}.volumeMounts`, container.volumeMounts) as VolumeMount[]).forEach((mount, index) => {
    const mountField = `${field}.volumeMounts[${index}]`;
    if (!isObject(mount)) {
      errors.push(fieldErrors.invalid(mountField, mount, 'must be an object'));
      return;
    }
    if (typeof mount.name !== 'string' || mount.name === '') errors.push(fieldErrors.required(`${mountField}.name`));
    else if (!volumeNames.has(mount.name)) errors.push(fieldErrors.notFound(`${mountField}.name`, mount.name));
    if (typeof mount.mountPath !== 'string' || mount.mountPath === '') errors.push(fieldErrors.required(`${mountField}.mountPath`));
    else if (paths.has(mount.mountPath)) errors.push(fieldErrors.invalid(`${mountField}.mountPath`, mount.mountPath, 'must be unique'));
    else paths.add(mount.mountPath);
    if (typeof mount.subPath === 'string' && (mount.subPath.startsWith('/') || mount.subPath.split('/').includes('..'))) {
      errors.push(fieldErrors.invalid(`${mountField}.subPath`, mount.subPath, "must be a relative path without '..'"));
    }
  });
}

/** What every container, init or app, must satisfy. */
function checkContainerCommon(errors: FieldError[], field: string, container: Container, volumeNames: ReadonlySet<string>): void {
  if (typeof container.name !== 'string' || container.name === '') errors.push(fieldErrors.required(`${field}.name`));
  else {
    const problem = dns1123LabelProblem(container.name);
    if (problem !== undefined) errors.push(fieldErrors.invalid(`${field}.name`, container.name, problem));
  }
  if (typeof container.image !== 'string' || container.image.trim() === '') errors.push(fieldErrors.required(`${field}.image`));
  checkEnum(errors, `${field}.imagePullPolicy`, container.imagePullPolicy, pullPolicies);
  checkEnum(errors, `${field}.terminationMessagePolicy`, container.terminationMessagePolicy, terminationMessagePolicies);
  checkPorts(errors, `${field}.ports`, container.ports);
  for (const key of ['command', 'args'] as const) {
    listAt(errors, `${field}.${key}`, container[key]).forEach((item, index) => {
      if (typeof item !== 'string') errors.push(fieldErrors.invalid(`${field}.${key}[${index}]`, item, 'must be a string'));
    });
  }
  listAt(errors, `${field}.env`, container.env).forEach((variable, index) => {
    if (!isObject(variable) || typeof variable.name !== 'string' || variable.name === '') {
      errors.push(fieldErrors.required(`${field}.env[${index}].name`));
    } else if (variable.name.includes('=')) {
      errors.push(fieldErrors.invalid(`${field}.env[${index}].name`, variable.name, "must not contain '='"));
    }
  });
  checkVolumeMounts(errors, field, container, volumeNames);
}

function checkProbesAndHooks(errors: FieldError[], field: string, container: Container): void {
  for (const kind of probeKinds) {
    const probe = container[kind];
    if (probe !== undefined) checkProbe(errors, `${field}.${kind}`, kind, probe, container);
  }
  if (container.lifecycle !== undefined) checkLifecycle(errors, `${field}.lifecycle`, container.lifecycle, container);
}

function checkVolumes(errors: FieldError[], volumes: readonly Volume[]): Set<string> {
  const names = new Set<string>();
  volumes.forEach((volume, index) => {
    const field = `spec.volumes[${index}]`;
    if (!isObject(volume)) {
      errors.push(fieldErrors.invalid(field, volume, 'must be an object'));
      return;
    }
    if (typeof volume.name !== 'string' || volume.name === '') errors.push(fieldErrors.required(`${field}.name`));
    else {
      const problem = dns1123LabelProblem(volume.name);
      if (problem !== undefined) errors.push(fieldErrors.invalid(`${field}.name`, volume.name, problem));
      else if (names.has(volume.name)) errors.push(fieldErrors.duplicate(`${field}.name`, volume.name));
      names.add(volume.name);
    }
    const sources = Object.keys(volume).filter((key) => key !== 'name');
    const known: string[] = sources.filter((key) => key === 'emptyDir' || key === 'hostPath' || key === 'csi');
    const unknown = sources.filter((key) => !known.includes(key));
    for (const key of unknown) {
      errors.push(fieldErrors.unsupported(`${field}.${key}`, key, ['emptyDir', 'hostPath', 'csi']));
    }
    if (sources.length === 0) errors.push(fieldErrors.required(field, 'must specify a volume type'));
    if (known.length > 1) errors.push(fieldErrors.forbidden(field, 'may not specify more than 1 volume type'));
    if (volume.hostPath !== undefined) {
      const hostPath = volume.hostPath;
      if (!isObject(hostPath) || typeof hostPath.path !== 'string' || hostPath.path === '') {
        errors.push(fieldErrors.required(`${field}.hostPath.path`));
      } else {
        if (!hostPath.path.startsWith('/')) errors.push(fieldErrors.invalid(`${field}.hostPath.path`, hostPath.path, 'must be an absolute path'));
        if (hostPath.path.split('/').includes('..')) errors.push(fieldErrors.invalid(`${field}.hostPath.path`, hostPath.path, "must not contain '..'"));
        checkEnum(errors, `${field}.hostPath.type`, hostPath.type, hostPathTypes);
      }
    }
    if (volume.csi !== undefined && (!isObject(volume.csi) || typeof volume.csi.driver !== 'string' || volume.csi.driver === '')) {
      errors.push(fieldErrors.required(`${field}.csi.driver`));
    }
    if (volume.emptyDir !== undefined && !isObject(volume.emptyDir)) {
      errors.push(fieldErrors.invalid(`${field}.emptyDir`, volume.emptyDir, 'must be an object'));
    }
  });
  return names;
}

function checkPodFields(errors: FieldError[], spec: PodSpec): void {
  checkEnum(errors, 'spec.restartPolicy', spec.restartPolicy, restartPolicies);
  checkEnum(errors, 'spec.dnsPolicy', spec.dnsPolicy, dnsPolicies);
  checkMinimum(errors, 'spec.terminationGracePeriodSeconds', spec.terminationGracePeriodSeconds, 0);
  if (spec.activeDeadlineSeconds !== undefined) {
    const value = spec.activeDeadlineSeconds;
    if (!isInteger(value) || value < 1 || value > maxInt32) {
      errors.push(fieldErrors.invalid('spec.activeDeadlineSeconds', value, `must be between 1 and ${maxInt32}, inclusive`));
    }
  }
  if (spec.hostname !== undefined) {
    const problem = typeof spec.hostname === 'string' ? dns1123LabelProblem(spec.hostname) : 'must be a string';
    if (problem !== undefined) errors.push(fieldErrors.invalid('spec.hostname', spec.hostname, problem));
  }
}

function checkMetadata(errors: FieldError[], pod: Pod): void {
  const metadata: unknown = pod.metadata;
  if (!isObject(metadata)) {
    errors.push(fieldErrors.required('metadata'));
    return;
  }
  if (typeof metadata.name !== 'string' || metadata.name === '') errors.push(fieldErrors.required('metadata.name', 'name or generateName is required'));
  else {
    const problem = dns1123SubdomainProblem(metadata.name);
    if (problem !== undefined) errors.push(fieldErrors.invalid('metadata.name', metadata.name, problem));
  }
  if (metadata.namespace !== undefined) {
    const problem = typeof metadata.namespace === 'string' ? dns1123LabelProblem(metadata.namespace) : 'must be a string';
    if (problem !== undefined) errors.push(fieldErrors.invalid('metadata.namespace', metadata.namespace, problem));
  }
}

function containerList(errors: FieldError[], field: string, value: unknown, required: boolean): Container[] {
  if (value === undefined || value === null) {
    if (required) errors.push(fieldErrors.required(field));
    return [];
  }
  if (!Array.isArray(value)) {
    errors.push(fieldErrors.invalid(field, value, 'must be a list'));
    return [];
  }
  if (required && value.length === 0) errors.push(fieldErrors.required(field));
  return value as Container[];
}

/**
 * Every problem with a pod, each naming its field; an empty list means valid.
 * Meant for a defaulted pod (applyPodDefaults), as upstream validates after
 * defaulting; never throws.
 * @see KUBELET-MANIFEST-003
 * @see KUBELET-MANIFEST-004
 * @see KUBELET-MANIFEST-005
 * @see KUBELET-MANIFEST-006
 */
export function validatePod(pod: Pod): FieldError[] {
  const errors: FieldError[] = [];
  if (!isObject(pod)) return [fieldErrors.invalid('', pod, 'must be an object')];
  checkMetadata(errors, pod);
  const spec: unknown = pod.spec;
  if (!isObject(spec)) {
    errors.push(fieldErrors.required('spec'));
    return errors;
  }
  const podSpec = spec as unknown as PodSpec;
  checkPodFields(errors, podSpec);
  let volumeNames = new Set<string>();
  if (podSpec.volumes !== undefined) {
    if (Array.isArray(podSpec.volumes)) volumeNames = checkVolumes(errors, podSpec.volumes);
    else errors.push(fieldErrors.invalid('spec.volumes', podSpec.volumes, 'must be a list'));
  }
  const containers = containerList(errors, 'spec.containers', podSpec.containers, true);
  const initContainers = containerList(errors, 'spec.initContainers', podSpec.initContainers, false);

  // App containers first, then init containers against every name so far,
  // as upstream orders it: a name shared by an init and an app container is
  // reported on the init container.
  const names = new Set<string>();
  containers.forEach((container, index) => {
    const field = `spec.containers[${index}]`;
    if (!isObject(container)) {
      errors.push(fieldErrors.invalid(field, container, 'must be an object'));
      return;
    }
    checkContainerCommon(errors, field, container, volumeNames);
    if (typeof container.name === 'string' && container.name !== '') {
      if (names.has(container.name)) errors.push(fieldErrors.duplicate(`${field}.name`, container.name));
      names.add(container.name);
    }
    if (container.restartPolicy !== undefined) {
      errors.push(fieldErrors.forbidden(`${field}.restartPolicy`, 'may not be set for non-init containers'));
    }
    checkProbesAndHooks(errors, field, container);
  });
  initContainers.forEach((container, index) => {
    const field = `spec.initContainers[${index}]`;
    if (!isObject(container)) {
      errors.push(fieldErrors.invalid(field, container, 'must be an object'));
      return;
    }
    checkContainerCommon(errors, field, container, volumeNames);
    if (typeof container.name === 'string' && container.name !== '') {
      if (names.has(container.name)) errors.push(fieldErrors.duplicate(`${field}.name`, container.name));
      names.add(container.name);
    }
    const sidecar = container.restartPolicy === 'Always';
    if (container.restartPolicy !== undefined && !sidecar) {
      errors.push(fieldErrors.unsupported(`${field}.restartPolicy`, container.restartPolicy, ['Always']));
    }
    if (sidecar) {
      checkProbesAndHooks(errors, field, container);
      return;
    }
    // KUBELET-MANIFEST-004: an init container that runs to completion takes no probes or hooks.
    for (const kind of [...probeKinds, 'lifecycle'] as const) {
      if (container[kind] !== undefined) {
        errors.push(fieldErrors.forbidden(`${field}.${kind}`, 'may not be set for init containers without restartPolicy=Always'));
      }
    }
  });
  return errors;
}
