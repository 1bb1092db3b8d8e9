/** The reference kubelet: start it, or reuse its parts. */
export { startKubelet, KubeletOptionsError, type KubeletOptions, type RunningKubelet } from './kubelet.js';
export { defaultKubeletParts, shouldPullImage, runLifecycleHook, stopTimeoutSeconds, minimumStopTimeoutSeconds } from './default-parts.js';
export { initialProbeVerdict, mayProbe, tallyProbe } from './prober/probe-parts.js';
export { createProbeManager, type ProbeManagerDeps } from './prober/probe-manager.js';
export type { ProbeManager } from './prober/probe-manager-contract.js';
export { createEventRecorder, type EventRecorder, type EventRecorderOptions } from './events/event-recorder.js';
export type { EventSink } from './events/event-sink.js';
export { startReadOnlyServer, type ReadOnlyServer, type ReadOnlyServerOptions } from './server/read-only-server.js';
export type * from './kubelet-parts.js';
export type * from './api/pod-types.js';
export { FieldError } from './api/field-error.js';
export * from './disruption/index.js';
export type * from './api/disruption-types.js';
