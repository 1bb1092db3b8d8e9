import http from 'node:http';
import https from 'node:https';
import { RegistryError } from './image-errors.js';

/** One HTTP request to a registry or its token service. */
export interface HttpRequestOptions {
  url: string;
  method?: 'GET' | 'HEAD' | 'POST';
  headers?: Readonly<Record<string, string>>;
  body?: string;
  /** How long to wait for the response headers, and then for each chunk of the body. */
  timeoutMs: number;
  /** Redirects followed before giving up; blob URLs often redirect to storage. */
  maxRedirects?: number;
}

/** A response whose body has not been read yet. */
export interface HttpResponse {
  readonly status: number;
  readonly headers: http.IncomingHttpHeaders;
  /** The URL that answered, after redirects. */
  readonly url: string;
  readonly body: http.IncomingMessage;
}

const redirectStatuses = new Set([301, 302, 303, 307, 308]);

/**
 * Sends a request over node:http or node:https and resolves with the first
 * non-redirect response. Credentials (Authorization) are dropped when a
 * redirect leaves the original host, as docker's client does, so storage
 * back ends never see registry tokens.
 */
export async function httpRequest(options: HttpRequestOptions): Promise<HttpResponse> {
  const maxRedirects = options.maxRedirects ?? 5;
  let url = options.url;
  let headers: Record<string, string> = { ...options.headers };
  let method = options.method ?? 'GET';
  let body = options.body;
  const originHost = new URL(url).host;
  for (let hop = 0; ; hop += 1) {
    const response = await sendOnce({ url, method, headers, body, timeoutMs: options.timeoutMs });
    if (!redirectStatuses.has(response.status) || method === 'POST') return response;
    const location = response.headers.location;
    response.body.resume();
    if (location === undefined) {
      throw new RegistryError({ kind: 'bad-response', message: `${method} ${url}: HTTP ${response.status} redirect without Location`, url, status: response.status });
    }
    if (hop >= maxRedirects) {
      throw new RegistryError({ kind: 'bad-response', message: `${method} ${options.url}: more than ${maxRedirects} redirects`, url: options.url, status: response.status });
    }
    const next = new URL(location, url);
    if (next.host !== originHost) {
      const { authorization: _dropped, ...rest } = headers;
      headers = rest;
    }
    if (response.status === 303) {
      method = 'GET';
      body = undefined;
    }
    url = next.toString();
  }
}

function sendOnce(options: Required<Pick<HttpRequestOptions, 'url' | 'timeoutMs'>> & { method: string; headers: Record<string, string>; body: string | undefined }): Promise<HttpResponse> {
  const { url, method, timeoutMs } = options;
  const target = new URL(url);
  const transport = target.protocol === 'https:' ? https : target.protocol === 'http:' ? http : undefined;
  if (transport === undefined) {
    return Promise.reject(new RegistryError({ kind: 'unsupported', message: `${method} ${url}: scheme ${target.protocol} is not http or https`, url }));
  }
  const headers: Record<string, string> = { 'user-agent': 'kubeplug-process-runtime', ...options.headers };
  if (options.body !== undefined) headers['content-length'] = String(Buffer.byteLength(options.body));
  return new Promise<HttpResponse>((resolve, reject) => {
    const request = transport.request(target, { method, headers });
    const timer = setTimeout(() => {
      request.destroy(new RegistryError({ kind: 'unreachable', message: `${method} ${url}: no response within ${timeoutMs} ms`, url }));
    }, timeoutMs);
    request.once('error', (error: Error) => {
      clearTimeout(timer);
      reject(
        error instanceof RegistryError
          ? error
          : new RegistryError({ kind: 'unreachable', message: `${method} ${url}: ${error.message}`, url, cause: error }),
      );
    });
    request.once('response', (response) => {
      clearTimeout(timer);
      // A stalled body is as bad as no answer: fail the stream after the same idle time.
      response.setTimeout(timeoutMs, () => {
        response.destroy(new RegistryError({ kind: 'unreachable', message: `${method} ${url}: body stalled for ${timeoutMs} ms`, url }));
      });
      resolve({ status: response.statusCode ?? 0, headers: response.headers, url, body: response });
    });
    request.end(options.body);
  });
}

/** Reads a whole body, failing past `limitBytes` (manifests and configs are small). */
export async function readBody(response: HttpResponse, limitBytes: number): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let length = 0;
  try {
    for await (const chunk of response.body as AsyncIterable<Buffer>) {
      length += chunk.length;
      if (length > limitBytes) {
        response.body.destroy();
        throw new RegistryError({ kind: 'bad-response', message: `GET ${response.url}: body larger than ${limitBytes} bytes`, url: response.url, status: response.status });
      }
      chunks.push(chunk);
    }
  } catch (error) {
    if (error instanceof RegistryError) throw error;
    throw new RegistryError({ kind: 'unreachable', message: `GET ${response.url}: reading the body failed: ${(error as Error).message}`, url: response.url, cause: error });
  }
  return Buffer.concat(chunks, length);
}

/** Discards a body so the socket can be reused or closed. */
export function discardBody(response: HttpResponse): void {
  response.body.resume();
}
