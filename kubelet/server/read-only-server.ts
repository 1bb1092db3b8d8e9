/**
 * The kubelet's read-only HTTP endpoints, shaped as the real kubelet's
 * read-only port answers them (kubernetes/kubernetes v1.34
 * pkg/kubelet/server/server.go: /healthz, /pods) plus /events, which stands
 * in for the Events the real kubelet posts to its API server:
 * `GET /events` is an EventList, `GET /events?watch=1` streams watch events
 * ({"type":"ADDED"|"MODIFIED","object":Event}), one JSON document per line.
 * Besides the TCP port it can listen on a unix socket (a kubeplug addition),
 * so a caller outside the node's network namespace reaches it through a file.
 * The disruption endpoints (budgets, eviction, cordon) are in
 * kubelet/server/disruption-routes.ts. Their writes (evictions, node
 * patches) are unauthenticated, on the port as on the socket: the issue's
 * contract puts them there, and the conformance harness reaches any kubelet
 * through its port. The socket is at least owner-only.
 * @see KUBELET-PLUGIN-009
 * @see KUBELET-PLUGIN-010
 */
import fs from 'node:fs/promises';
import http from 'node:http';
import { once } from 'node:events';
import type { AddressInfo } from 'node:net';
import type { EventList, KubeletEvent, Pod, PodList } from '../api/pod-types.js';
import type { DisruptionService } from '../disruption/disruption-service.js';
import type { EventRecorder } from '../events/event-recorder.js';
import { handleDisruptionRoute, isDisruptionRoute } from './disruption-routes.js';

/** What the server serves and where. */
export interface ReadOnlyServerOptions {
  /** IP to listen on (the kubelet's --address); 0.0.0.0 when unset. */
  readonly address?: string;
  /** TCP port (--read-only-port); 0 picks a free one. */
  readonly port: number;
  /** Also listen on this unix socket (--read-only-socket); an existing socket file is replaced. */
  readonly socketPath?: string;
  /** The pods to list now: every static pod with its spec and status. */
  readonly pods: () => readonly Pod[];
  readonly events: EventRecorder;
  /** Budgets, evictions and the cordon (kubelet/server/disruption-routes.ts); those routes are 404 when unset. */
  readonly disruption?: DisruptionService;
}

/** A listening server. */
export interface ReadOnlyServer {
  /** The TCP port bound. */
  readonly port: number;
  /** Stops listening and ends open watches. */
  close(): Promise<void>;
}

function sendJson(response: http.ServerResponse, status: number, body: unknown): void {
  const text = `${JSON.stringify(body)}\n`;
  response.writeHead(status, { 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(text) });
  response.end(text);
}

function sendText(response: http.ServerResponse, status: number, text: string, extra: Record<string, string> = {}): void {
  response.writeHead(status, { 'Content-Type': 'text/plain; charset=utf-8', 'Content-Length': Buffer.byteLength(text), ...extra });
  response.end(text);
}

function isWatch(value: string | null): boolean {
  return value !== null && value !== '0' && value.toLowerCase() !== 'false';
}

/** The request handler, usable on any server. */
export function readOnlyHandler(options: Pick<ReadOnlyServerOptions, 'pods' | 'events' | 'disruption'>): http.RequestListener {
  return (request, response) => {
    const url = new URL(request.url ?? '/', 'http://kubelet');
    const route = url.pathname.replace(/\/+$/, '') || '/';
    if (options.disruption !== undefined && isDisruptionRoute(route)) {
      handleDisruptionRoute(request, response, route, options.disruption);
      return;
    }
    const known = route === '/healthz' || route === '/pods' || route === '/events';
    if (!known) {
      sendText(response, 404, '404 page not found\n');
      return;
    }
    if (request.method !== 'GET' && request.method !== 'HEAD') {
      sendText(response, 405, 'Method Not Allowed\n', { Allow: 'GET, HEAD' });
      return;
    }
    if (route === '/healthz') {
      sendText(response, 200, 'ok');
      return;
    }
    if (route === '/pods') {
      const list: PodList = { apiVersion: 'v1', kind: 'PodList', metadata: {}, items: [...options.pods()] };
      sendJson(response, 200, list);
      return;
    }
    if (!isWatch(url.searchParams.get('watch'))) {
      const list: EventList = { apiVersion: 'v1', kind: 'EventList', metadata: { resourceVersion: options.events.resourceVersion() }, items: options.events.list() };
      sendJson(response, 200, list);
      return;
    }
    response.writeHead(200, { 'Content-Type': 'application/json', 'Transfer-Encoding': 'chunked', 'Cache-Control': 'no-cache' });
    const seen = new Set<string>();
    const send = (event: KubeletEvent): void => {
      const type = seen.has(event.metadata.name) ? 'MODIFIED' : 'ADDED';
      seen.add(event.metadata.name);
      response.write(`${JSON.stringify({ type, object: event })}\n`);
    };
    // Subscribe first so nothing recorded between the replay and the subscription is lost.
    const pending: KubeletEvent[] = [];
    let replaying = true;
    const unsubscribe = options.events.subscribe((event) => (replaying ? pending.push(event) : send(event)));
    for (const event of options.events.list()) send(event);
    replaying = false;
    for (const event of pending) send(event);
    const end = (): void => unsubscribe();
    request.on('close', end);
    response.on('close', end);
  };
}

async function listen(server: http.Server, target: { port: number; host: string } | { path: string }): Promise<void> {
  server.listen(target);
  await Promise.race([
    once(server, 'listening'),
    once(server, 'error').then(([error]) => {
      throw error as Error;
    }),
  ]);
}

/** Starts listening; rejects when the port or socket cannot be bound. */
export async function startReadOnlyServer(options: ReadOnlyServerOptions): Promise<ReadOnlyServer> {
  const servers: http.Server[] = [];
  const closeAll = async (): Promise<void> => {
    await Promise.all(
      servers.map(async (server) => {
        if (!server.listening) return;
        const closed = once(server, 'close');
        server.close();
        server.closeAllConnections();
        await closed;
      }),
    );
    if (options.socketPath !== undefined) await fs.rm(options.socketPath, { force: true });
  };
  try {
    const handler = readOnlyHandler(options);
    const tcp = http.createServer(handler);
    servers.push(tcp);
    await listen(tcp, { port: options.port, host: options.address ?? '0.0.0.0' });
    if (options.socketPath !== undefined) {
      await fs.rm(options.socketPath, { force: true });
      const unix = http.createServer(handler);
      servers.push(unix);
      await listen(unix, { path: options.socketPath });
      // Owner-only before the kubelet says it is ready: the socket takes evictions and cordons.
      await fs.chmod(options.socketPath, 0o600);
    }
    return { port: (tcp.address() as AddressInfo).port, close: closeAll };
  } catch (error) {
    await closeAll();
    throw error;
  }
}
