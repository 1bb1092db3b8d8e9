/**
 * A client of one kubelet's read-only API over http:// or unix:// (the
 * endpoints of the issue 7 contract: /pods, /api/v1/nodes,
 * /api/v1/namespaces/{ns}/pods/{name}/eviction). Each call is one request on
 * a fresh connection, bounded by a timeout and by the caller's signal; every
 * failure is a {@link KubeletClientError} naming the kubelet.
 */
import http from 'node:http';
import { KubeletClientError } from './kubelet-client-error.js';
import type { NodeObject, PodObject, StatusObject } from './kubelet-objects.js';
import { parseKubeletUrl, type KubeletAddress } from './kubelet-url.js';

/** How a kubelet answered an eviction (the codes of upstream's eviction subresource). */
export type EvictionAnswer =
  /** 2xx: the eviction was accepted; the pod's graceful termination runs. */
  | { readonly outcome: 'accepted'; readonly httpStatus: number }
  /** 404: no such pod (already gone). */
  | { readonly outcome: 'not-found'; readonly status: StatusObject | undefined }
  /** 429: refused for now, usually by a disruption budget; retry later. */
  | { readonly outcome: 'too-many-requests'; readonly status: StatusObject | undefined }
  /** Anything else: refused for good (500 for several budgets, 400 for a bad body, …). */
  | { readonly outcome: 'refused'; readonly httpStatus: number; readonly status: StatusObject | undefined; readonly message: string };

/** What {@link KubeletClient.evictPod} sends. */
export interface EvictionRequest {
  readonly namespace: string;
  readonly name: string;
  /** deleteOptions.gracePeriodSeconds; left out when undefined (the pod's own grace period applies). */
  readonly gracePeriodSeconds?: number | undefined;
}

/** Client settings. */
export interface KubeletClientOptions {
  /** `http://HOST:PORT` or `unix:///path.sock`, or an address already parsed. */
  readonly url: string | KubeletAddress;
  /** Longest wait for one whole answer; 10 s when unset. */
  readonly requestTimeoutMs?: number;
}

/** Largest answer body read (a /pods list of many pods stays far below). */
const maxAnswerBytes = 32 * 1024 * 1024;

/** The media type kubectl sends its cordon patch as (kubectl pkg/drain/cordon.go: types.StrategicMergePatchType). */
export const cordonPatchContentType = 'application/strategic-merge-patch+json';

interface RawAnswer {
  readonly httpStatus: number;
  readonly body: string;
}

/** Reads a body as metav1.Status when it is one. */
function statusFrom(body: string): StatusObject | undefined {
  try {
    const parsed: unknown = JSON.parse(body);
    if (typeof parsed === 'object' && parsed !== null && (parsed as { kind?: unknown }).kind === 'Status') return parsed as StatusObject;
  } catch {
    // not JSON: no Status
  }
  return undefined;
}

/** A one-line description of a non-2xx answer: the Status message when there is one, else the start of the body. */
function describeAnswer(answer: RawAnswer, status: StatusObject | undefined): string {
  const text = status?.message ?? answer.body.trim().split('\n')[0]?.slice(0, 200) ?? '';
  const reason = status?.reason === undefined || status.reason === '' ? '' : ` ${status.reason}`;
  return `HTTP ${answer.httpStatus}${reason}${text === '' ? '' : `: ${text}`}`;
}

/** One kubelet's read-only API. */
export class KubeletClient {
  readonly address: KubeletAddress;
  private readonly requestTimeoutMs: number;

  constructor(options: KubeletClientOptions) {
    this.address = typeof options.url === 'string' ? parseKubeletUrl(options.url) : options.url;
    this.requestTimeoutMs = options.requestTimeoutMs ?? 10_000;
  }

  /** The URL as given, for messages. */
  get url(): string {
    return this.address.text;
  }

  /** This kubelet's Node (GET /api/v1/nodes answers a list holding this node only). */
  async getNode(signal?: AbortSignal): Promise<NodeObject> {
    const list = await this.getJson('/api/v1/nodes', signal);
    const items = (list as { items?: unknown }).items;
    if (!Array.isArray(items) || items.length !== 1) throw this.badAnswer('GET /api/v1/nodes', `expected a NodeList with exactly this node, got ${Array.isArray(items) ? `${items.length} items` : 'no items'}`);
    const node = items[0] as NodeObject;
    if (typeof node?.metadata?.name !== 'string' || node.metadata.name === '') throw this.badAnswer('GET /api/v1/nodes', 'the Node has no metadata.name');
    return node;
  }

  /** Sets spec.unschedulable of `nodeName` (cordon with true, uncordon with false); resolves to the Node as patched. */
  async setUnschedulable(nodeName: string, unschedulable: boolean, signal?: AbortSignal): Promise<NodeObject> {
    const path = `/api/v1/nodes/${encodeURIComponent(nodeName)}`;
    const answer = await this.request({ method: 'PATCH', path, body: JSON.stringify({ spec: { unschedulable } }), contentType: cordonPatchContentType, signal });
    if (answer.httpStatus < 200 || answer.httpStatus > 299) throw this.statusError(`PATCH ${path}`, answer);
    const node = this.parseJson(`PATCH ${path}`, answer.body) as NodeObject;
    if (node.spec?.unschedulable !== unschedulable && !(unschedulable === false && node.spec?.unschedulable === undefined)) {
      throw this.badAnswer(`PATCH ${path}`, `the Node came back with spec.unschedulable ${String(node.spec?.unschedulable)}`);
    }
    return node;
  }

  /** Every pod the kubelet runs (GET /pods), whatever its phase. */
  async listPods(signal?: AbortSignal): Promise<PodObject[]> {
    const list = await this.getJson('/pods', signal);
    const items = (list as { items?: unknown }).items;
    if (items === null || items === undefined) return [];
    if (!Array.isArray(items)) throw this.badAnswer('GET /pods', 'items is not a list');
    for (const item of items) {
      if (typeof (item as PodObject)?.metadata?.name !== 'string') throw this.badAnswer('GET /pods', 'a pod has no metadata.name');
    }
    return items as PodObject[];
  }

  /** POSTs a policy/v1 Eviction for the pod and classifies the answer; throws only when no answer came. */
  async evictPod(eviction: EvictionRequest, signal?: AbortSignal): Promise<EvictionAnswer> {
    const path = `/api/v1/namespaces/${encodeURIComponent(eviction.namespace)}/pods/${encodeURIComponent(eviction.name)}/eviction`;
    const body = {
      apiVersion: 'policy/v1',
      kind: 'Eviction',
      metadata: { name: eviction.name, namespace: eviction.namespace },
      ...(eviction.gracePeriodSeconds === undefined ? {} : { deleteOptions: { gracePeriodSeconds: eviction.gracePeriodSeconds } }),
    };
    const answer = await this.request({ method: 'POST', path, body: JSON.stringify(body), contentType: 'application/json', signal });
    if (answer.httpStatus >= 200 && answer.httpStatus <= 299) return { outcome: 'accepted', httpStatus: answer.httpStatus };
    const status = statusFrom(answer.body);
    if (answer.httpStatus === 404) return { outcome: 'not-found', status };
    if (answer.httpStatus === 429) return { outcome: 'too-many-requests', status };
    return { outcome: 'refused', httpStatus: answer.httpStatus, status, message: describeAnswer(answer, status) };
  }

  private async getJson(path: string, signal: AbortSignal | undefined): Promise<unknown> {
    const answer = await this.request({ method: 'GET', path, signal });
    if (answer.httpStatus !== 200) throw this.statusError(`GET ${path}`, answer);
    const parsed = this.parseJson(`GET ${path}`, answer.body);
    if (typeof parsed !== 'object' || parsed === null) throw this.badAnswer(`GET ${path}`, 'the answer is not a JSON object');
    return parsed;
  }

  private parseJson(call: string, body: string): unknown {
    try {
      return JSON.parse(body) as unknown;
    } catch (error) {
      throw this.badAnswer(call, `the answer is not JSON (${(error as Error).message})`);
    }
  }

  private badAnswer(call: string, detail: string): KubeletClientError {
    return new KubeletClientError({ code: 'bad-answer', kubelet: this.url, message: `${call}: ${detail}` });
  }

  private statusError(call: string, answer: RawAnswer): KubeletClientError {
    const status = statusFrom(answer.body);
    return new KubeletClientError({
      code: 'http-status',
      kubelet: this.url,
      message: `${call}: ${describeAnswer(answer, status)}`,
      httpStatus: answer.httpStatus,
      ...(status === undefined ? {} : { status }),
    });
  }

  /** One request, its answer read whole; rejects with `unreachable`, `timeout`, `aborted` or `bad-answer`. */
  private request(options: { method: string; path: string; body?: string; contentType?: string; signal: AbortSignal | undefined }): Promise<RawAnswer> {
    const call = `${options.method} ${options.path}`;
    const kubelet = this.url;
    const { signal } = options;
    if (signal?.aborted === true) return Promise.reject(new KubeletClientError({ code: 'aborted', kubelet, message: `${call}: interrupted` }));
    const target = this.address.kind === 'unix' ? { socketPath: this.address.socketPath } : { host: this.address.host, port: this.address.port };
    const headers: Record<string, string | number> = { accept: 'application/json', host: this.address.kind === 'unix' ? 'kubelet' : `${this.address.host}:${this.address.port}` };
    if (options.body !== undefined) {
      headers['content-type'] = options.contentType ?? 'application/json';
      headers['content-length'] = Buffer.byteLength(options.body);
    }
    return new Promise<RawAnswer>((resolve, reject) => {
      let settled = false;
      const finish = (outcome: { answer: RawAnswer } | { error: KubeletClientError }): void => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        signal?.removeEventListener('abort', onAbort);
        if ('answer' in outcome) resolve(outcome.answer);
        else {
          request.destroy();
          reject(outcome.error);
        }
      };
      const request = http.request({ ...target, method: options.method, path: options.path, headers, agent: false }, (response) => {
        const chunks: Buffer[] = [];
        let size = 0;
        response.on('data', (chunk: Buffer) => {
          size += chunk.length;
          if (size > maxAnswerBytes) finish({ error: new KubeletClientError({ code: 'bad-answer', kubelet, message: `${call}: the answer is larger than ${maxAnswerBytes} bytes` }) });
          else chunks.push(chunk);
        });
        response.on('end', () => finish({ answer: { httpStatus: response.statusCode ?? 0, body: Buffer.concat(chunks).toString('utf8') } }));
        response.on('error', (error) => finish({ error: new KubeletClientError({ code: 'unreachable', kubelet, message: `${call}: the answer broke off (${error.message})`, cause: error }) }));
      });
      const timer = setTimeout(
        () => finish({ error: new KubeletClientError({ code: 'timeout', kubelet, message: `${call}: no answer within ${this.requestTimeoutMs} ms` }) }),
        this.requestTimeoutMs,
      );
      const onAbort = (): void => finish({ error: new KubeletClientError({ code: 'aborted', kubelet, message: `${call}: interrupted` }) });
      signal?.addEventListener('abort', onAbort, { once: true });
      request.on('error', (error: NodeJS.ErrnoException) => {
        const code = error.code === undefined ? '' : ` (${error.code})`;
        finish({ error: new KubeletClientError({ code: 'unreachable', kubelet, message: `${call}: cannot reach the kubelet: ${error.message}${error.message.includes(error.code ?? '\0') ? '' : code}`, cause: error }) });
      });
      request.end(options.body);
    });
  }
}
