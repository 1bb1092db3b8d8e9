/**
 * The pods a budget is computed over: this kubelet's own pods plus those of
 * every peer kubelet (`--peer-kubelet URL`), read fresh from each peer's
 * `GET /pods` every time. A peer that does not answer adds no pods, so it
 * adds no healthy pods either, and is named in the result.
 */
import http from 'node:http';
import type { Pod, PodList } from '../api/pod-types.js';

/** A peer URL, `http://HOST:PORT` or `unix:///path/to/read-only.sock`, parsed for http.request. */
export interface KubeletAddress {
  readonly url: string;
  readonly request: { readonly socketPath: string } | { readonly host: string; readonly port: number };
}

/** A malformed peer URL. */
export class KubeletUrlError extends Error {
  readonly url: string;
  constructor(url: string, message: string) {
    super(message);
    this.name = 'KubeletUrlError';
    this.url = url;
  }
}

/** Parses `http://HOST:PORT` or `unix:///path`; throws {@link KubeletUrlError}. */
export function parseKubeletUrl(url: string): KubeletAddress {
  if (url.startsWith('unix://')) {
    const socketPath = url.slice('unix://'.length);
    if (!socketPath.startsWith('/') || socketPath.length < 2) throw new KubeletUrlError(url, `must be unix:///path/to/socket, not ${JSON.stringify(url)}`);
    return { url, request: { socketPath } };
  }
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    throw new KubeletUrlError(url, `must be http://HOST:PORT or unix:///path, not ${JSON.stringify(url)}`);
  }
  if (parsed.protocol !== 'http:' || parsed.hostname === '' || (parsed.pathname !== '/' && parsed.pathname !== '')) {
    throw new KubeletUrlError(url, `must be http://HOST:PORT or unix:///path, not ${JSON.stringify(url)}`);
  }
  return { url, request: { host: parsed.hostname.replace(/^\[|\]$/g, ''), port: parsed.port === '' ? 80 : Number(parsed.port) } };
}

/** Sends one request to a kubelet and resolves with its status code and body text. */
export function requestKubelet(
  address: KubeletAddress,
  options: { readonly method?: string; readonly path: string; readonly body?: string; readonly headers?: Record<string, string>; readonly timeoutMs?: number },
): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const request = http.request(
      {
        ...address.request,
        method: options.method ?? 'GET',
        path: options.path,
        headers: { ...(options.body === undefined ? {} : { 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(options.body) }), ...options.headers },
        timeout: options.timeoutMs ?? 5000,
      },
      (response) => {
        const chunks: Buffer[] = [];
        response.on('data', (chunk: Buffer) => chunks.push(chunk));
        response.on('end', () => resolve({ status: response.statusCode ?? 0, body: Buffer.concat(chunks).toString('utf8') }));
        response.on('error', reject);
      },
    );
    request.on('timeout', () => request.destroy(new Error(`no answer within ${options.timeoutMs ?? 5000} ms`)));
    request.on('error', reject);
    request.end(options.body);
  });
}

/** Reads a peer's pods; throws with the reason when it does not answer with a PodList. */
export async function fetchPeerPods(address: KubeletAddress, timeoutMs = 5000): Promise<Pod[]> {
  const { status, body } = await requestKubelet(address, { path: '/pods', timeoutMs });
  if (status !== 200) throw new Error(`GET /pods answered ${status}`);
  const list = JSON.parse(body) as PodList;
  if (list === null || typeof list !== 'object' || !Array.isArray(list.items)) throw new Error('GET /pods did not answer a PodList');
  return list.items;
}

/** The cluster view: own pods first, then each peer's; a pod (namespace/name/UID) seen twice counts once. */
export async function clusterPods(own: readonly Pod[], peers: readonly KubeletAddress[], timeoutMs = 5000): Promise<{ pods: Pod[]; unreachable: string[] }> {
  const answers = await Promise.allSettled(peers.map((peer) => fetchPeerPods(peer, timeoutMs)));
  const pods: Pod[] = [];
  const seen = new Set<string>();
  const add = (pod: Pod): void => {
    const key = `${pod.metadata.namespace ?? 'default'}/${pod.metadata.name}/${pod.metadata.uid ?? ''}`;
    if (seen.has(key)) return;
    seen.add(key);
    pods.push(pod);
  };
  own.forEach(add);
  const unreachable: string[] = [];
  answers.forEach((answer, index) => {
    if (answer.status === 'fulfilled') answer.value.forEach(add);
    else unreachable.push(`peer kubelet ${peers[index]!.url}: ${(answer.reason as Error).message}`);
  });
  return { pods, unreachable };
}
