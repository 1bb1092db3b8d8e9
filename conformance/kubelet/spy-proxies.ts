/**
 * The spy proxies the kubelet suite places between the kubelet under test and
 * its plugins: a CRI proxy and a CSI proxy on unix sockets of their own that
 * forward every call unchanged to the real plugin and record what went by,
 * in one sequence shared by both, for the call-order rules
 * (KUBELET-PLUGIN-*, KUBELET-SANDBOX-001).
 */
import { ImageServiceService, RuntimeServiceService } from '../../specs/cri/index.js';
import { ControllerService, GroupControllerService, IdentityService, NodeService } from '../../specs/csi/index.js';
import { GrpcStatusError } from '../../specs/grpc/index.js';
import type { ServiceDefinitionLike } from '../../specs/grpc/unary-handlers.js';
import { startCriProxy, type CriOverrides } from '../fixtures/cri-runtime/cri-proxy.js';
import { startCsiProxy, type CsiOverrides } from '../fixtures/csi-driver/csi-proxy.js';
import type { ServiceOverrides } from '../fixtures/grpc-proxy/proxy-service.js';
import { toJsonValue } from '../framework/index.js';
import type { RecordedCall } from './kubelet-subject.js';

/**
 * Calls whose answers are large and only describe state (lists and stats):
 * recorded without the response, so a long run's log stays small. Cases
 * that need what they answered ask the runtime themselves.
 */
const answerDropped = /^(List|.*Stats$|ImageFsInfo$)/;

/** Which plugin a call went to. */
export type CallTarget = 'cri' | 'csi';

/**
 * The call log of one run: CRI and CSI calls numbered in one sequence (the
 * number is taken when the call arrives, so the order is the kubelet's).
 * Entries are added when the call ends.
 */
export class CallRecorder {
  #seq = 0;
  readonly #calls: Record<CallTarget, RecordedCall[]> = { cri: [], csi: [] };

  /** Every ended call to `target`, in arrival order. */
  calls(target: CallTarget): readonly RecordedCall[] {
    return [...this.#calls[target]].sort((a, b) => a.seq - b.seq);
  }

  /** Forwards one call and records it, whatever the outcome; the caller gets exactly what upstream answered. */
  async record<Res>(target: CallTarget, method: string, request: unknown, forward: () => Promise<Res>): Promise<Res> {
    this.#seq += 1;
    const seq = this.#seq;
    const startedAt = Date.now();
    const jsonRequest = toJsonValue(request);
    try {
      const response = await forward();
      this.#calls[target].push({
        seq,
        method,
        request: jsonRequest,
        ...(answerDropped.test(method) ? {} : { response: toJsonValue(response) }),
        startedAt,
        endedAt: Date.now(),
      });
      return response;
    } catch (error) {
      this.#calls[target].push({ seq, method, request: jsonRequest, code: GrpcStatusError.from(error).code, startedAt, endedAt: Date.now() });
      throw error;
    }
  }
}

/** `/runtime.v1.RuntimeService/RunPodSandbox` → `RunPodSandbox`. */
function methodNameOf(path: string): string {
  return path.slice(path.lastIndexOf('/') + 1);
}

/** An override for every unary RPC of `definition` that forwards the request as it came and records the call. */
function recordingOverrides<D extends ServiceDefinitionLike>(definition: D, recorder: CallRecorder, target: CallTarget): ServiceOverrides<D> {
  const overrides: Record<string, (request: unknown, forward: (request: unknown) => Promise<unknown>) => Promise<unknown>> = {};
  for (const [rpc, method] of Object.entries(definition)) {
    if (method.requestStream || method.responseStream) continue;
    const name = methodNameOf(method.path);
    overrides[rpc] = (request, forward) => recorder.record(target, name, request, () => forward(request));
  }
  return overrides as ServiceOverrides<D>;
}

/** A running spy proxy. */
export interface SpyProxy {
  /** `unix:///…` the kubelet is given instead of the plugin's. */
  readonly endpoint: string;
  close(): Promise<void>;
}

/** Starts the CRI spy: RuntimeService and ImageService on `endpoint`, forwarding to `upstream` (container events are relayed, not recorded). */
export async function startCriSpy(options: { endpoint: string; upstream: string; recorder: CallRecorder }): Promise<SpyProxy> {
  const overrides: CriOverrides = {
    runtime: recordingOverrides(RuntimeServiceService, options.recorder, 'cri'),
    image: recordingOverrides(ImageServiceService, options.recorder, 'cri'),
  };
  const proxy = await startCriProxy({ endpoint: options.endpoint, upstream: options.upstream, overrides, connectTimeoutMs: 10_000 });
  return { endpoint: `unix://${proxy.socketPath}`, close: () => proxy.close() };
}

/** Starts the CSI spy: Identity, Controller, Node and GroupController on `endpoint`, forwarding to `upstream`. */
export async function startCsiSpy(options: { endpoint: string; upstream: string; recorder: CallRecorder }): Promise<SpyProxy> {
  const overrides: CsiOverrides = {
    identity: recordingOverrides(IdentityService, options.recorder, 'csi'),
    controller: recordingOverrides(ControllerService, options.recorder, 'csi'),
    node: recordingOverrides(NodeService, options.recorder, 'csi'),
    groupController: recordingOverrides(GroupControllerService, options.recorder, 'csi'),
  };
  const proxy = await startCsiProxy({ endpoint: options.endpoint, upstream: options.upstream, overrides, connectTimeoutMs: 10_000 });
  return { endpoint: `unix://${proxy.socketPath}`, close: () => proxy.close() };
}
