/**
 * Where a running kubelet's read-only endpoints (/healthz, /pods, /events)
 * answer: `http://HOST:PORT` (its --read-only-port) or `unix:///path` (the
 * reference kubelet's --read-only-socket), and a GET on either.
 */
import http from 'node:http';
import { httpGetOverSocket, httpRequestOverSocket, type HttpAnswer, type SocketRequest } from './read-only-port.js';

/** A parsed kubelet URL. */
export type KubeletUrl =
  | { readonly kind: 'http'; readonly host: string; readonly port: number; readonly text: string }
  | { readonly kind: 'unix'; readonly socketPath: string; readonly text: string };

/** A kubelet URL that is neither form; the message says what is wrong. */
export class KubeletUrlError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'KubeletUrlError';
  }
}

/** Parses `http://HOST:PORT` (no path beyond `/`) or `unix:///absolute/path`. */
export function parseKubeletUrl(text: string): KubeletUrl {
  if (text.startsWith('unix://')) {
    const socketPath = text.slice('unix://'.length);
    if (!socketPath.startsWith('/') || socketPath.length < 2) throw new KubeletUrlError(`${JSON.stringify(text)} must be unix:///absolute/path`);
    return { kind: 'unix', socketPath, text };
  }
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    throw new KubeletUrlError(`${JSON.stringify(text)} is neither http://HOST:PORT nor unix:///path`);
  }
  if (url.protocol !== 'http:') throw new KubeletUrlError(`${JSON.stringify(text)}: only http:// (the read-only port) and unix:// are supported`);
  if (url.port === '') throw new KubeletUrlError(`${JSON.stringify(text)} names no port (the kubelet's read-only port, e.g. 10255)`);
  if ((url.pathname !== '/' && url.pathname !== '') || url.search !== '' || url.hash !== '' || url.username !== '' || url.password !== '') {
    throw new KubeletUrlError(`${JSON.stringify(text)} must be http://HOST:PORT with nothing after the port`);
  }
  return { kind: 'http', host: url.hostname.replace(/^\[(.*)\]$/, '$1'), port: Number(url.port), text };
}

/** GET `urlPath` from the kubelet at `url`; rejects on a connection error or after `timeoutMs`. */
export function getFromKubelet(url: KubeletUrl, urlPath: string, timeoutMs = 5000): Promise<HttpAnswer> {
  if (url.kind === 'unix') return httpGetOverSocket(url.socketPath, urlPath, timeoutMs);
  return new Promise((resolve, reject) => {
    const request = http.get({ host: url.host, port: url.port, path: urlPath, headers: { accept: 'application/json' }, timeout: timeoutMs, agent: false }, (response) => {
      const chunks: Buffer[] = [];
      response.on('data', (chunk: Buffer) => chunks.push(chunk));
      response.on('end', () => resolve({ status: response.statusCode ?? 0, body: Buffer.concat(chunks).toString('utf8') }));
      response.on('error', reject);
    });
    request.on('timeout', () => request.destroy(new Error(`GET ${urlPath}: no answer within ${timeoutMs} ms`)));
    request.on('error', reject);
  });
}

/** Sends `request` (an eviction, a Node patch) to the kubelet at `url` and reads the answer whole; rejects on a connection error or after its timeout (5 s unless given). */
export function requestToKubelet(url: KubeletUrl, request: SocketRequest): Promise<HttpAnswer> {
  if (url.kind === 'unix') return httpRequestOverSocket(url.socketPath, request);
  const timeoutMs = request.timeoutMs ?? 5000;
  const body = request.rawBody !== undefined ? Buffer.from(request.rawBody) : request.body === undefined ? undefined : Buffer.from(JSON.stringify(request.body));
  const headers: Record<string, string | number> = { accept: 'application/json' };
  if (body !== undefined) Object.assign(headers, { 'content-type': request.contentType ?? 'application/json', 'content-length': body.length });
  return new Promise((resolve, reject) => {
    const sent = http.request({ host: url.host, port: url.port, method: request.method, path: request.path, headers, timeout: timeoutMs, agent: false }, (response) => {
      const chunks: Buffer[] = [];
      response.on('data', (chunk: Buffer) => chunks.push(chunk));
      response.on('end', () => resolve({ status: response.statusCode ?? 0, body: Buffer.concat(chunks).toString('utf8') }));
      response.on('error', reject);
    });
    sent.on('timeout', () => sent.destroy(new Error(`${request.method} ${request.path}: no answer within ${timeoutMs} ms`)));
    sent.on('error', reject);
    sent.end(body);
  });
}
