import http from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Duplex } from 'node:stream';
import {
  GrpcStatusError,
  type AttachRequest,
  type AttachResponse,
  type ExecRequest,
  type ExecResponse,
  type PortForwardRequest,
  type PortForwardResponse,
} from '../../../specs/cri/index.js';
import { serveAttach } from './attach-session.js';
import { ChannelConnection, portForwardProtocols, remoteCommandProtocols, type ChannelProtocol } from './channel-connection.js';
import { serveExec } from './exec-session.js';
import type { PortRelayCommand } from './port-connection.js';
import { servePortForward } from './port-forward-session.js';
import { RequestTokens, TooManyTokensError, type StreamingRequest } from './request-tokens.js';
import type { StreamingContainer, StreamingRuntime } from './streaming-runtime.js';
import { acceptUpgrade, decideUpgrade, isWebSocketRequest, refuseUpgrade } from './websocket-handshake.js';

/** How to start the streaming server. */
export interface StreamingServerOptions {
  /** `host:port` to listen on; `127.0.0.1:0` (any free port on the loopback) unless told. */
  address?: string;
  runtime: StreamingRuntime;
  /** How long a minted URL stays valid; one minute unless told, as the kubelet's. */
  tokenTtlMs?: number;
  /** The URL prefix handed out; derived from the bound address unless told (needed when listening on 0.0.0.0). */
  baseUrl?: string;
  /** The command that connects to a port inside a network namespace; busybox nc under nsenter unless told. */
  portRelay?: PortRelayCommand;
  /** Where session failures are reported. */
  log?: (line: string) => void;
}

/** A running streaming server. */
export interface StreamingServer {
  /** `http://host:port`, the prefix of every URL it hands out. */
  readonly baseUrl: string;
  /** Validates an Exec request and mints its single-use URL. @throws GrpcStatusError */
  requestExec(request: ExecRequest): Promise<ExecResponse>;
  /** Validates an Attach request and mints its single-use URL. @throws GrpcStatusError */
  requestAttach(request: AttachRequest): Promise<AttachResponse>;
  /** Validates a PortForward request and mints its single-use URL. @throws GrpcStatusError */
  requestPortForward(request: PortForwardRequest): Promise<PortForwardResponse>;
  /** Stops listening and drops every open session (their commands are killed). */
  close(): Promise<void>;
}

const pathPattern = /^\/(exec|attach|portforward)\/([A-Za-z0-9_-]+)$/;

function invalidArgument(field: string, problem: string): GrpcStatusError {
  return new GrpcStatusError({ code: 'INVALID_ARGUMENT', message: `${field}: ${problem}` });
}

/** Splits `host:port` (IPv6 hosts in brackets). */
export function parseListenAddress(address: string): { host: string; port: number } {
  const match = /^(?:\[([^\]]+)\]|([^:]*)):(\d+)$/.exec(address);
  if (match === null) throw new Error(`streaming address ${JSON.stringify(address)} is not host:port`);
  const port = Number(match[3]);
  if (port > 65_535) throw new Error(`streaming address ${JSON.stringify(address)}: port out of range`);
  const host = match[1] ?? match[2] ?? '';
  return { host: host === '' ? '0.0.0.0' : host, port };
}

function urlHost(host: string): string {
  // An unspecified address is reachable on the loopback at least.
  if (host === '0.0.0.0') return '127.0.0.1';
  if (host === '::') return '[::1]';
  return host.includes(':') ? `[${host}]` : host;
}

/**
 * Starts the streaming server the Exec, Attach and PortForward calls hand
 * out URLs of: `/exec/<token>`, `/attach/<token>`, `/portforward/<token>`,
 * each token single-use and short-lived, each URL upgraded to a WebSocket
 * speaking the kubelet's channel protocols (SPDY is not spoken).
 * @see CRI-EXEC-011
 * @see CRI-EXEC-013
 * @see CRI-EXEC-014
 */
export async function startStreamingServer(options: StreamingServerOptions): Promise<StreamingServer> {
  const { runtime } = options;
  const log = options.log ?? ((line: string) => process.stderr.write(`${line}\n`));
  const tokens = new RequestTokens({ ttlMs: options.tokenTtlMs ?? 60_000 });
  const sockets = new Set<Duplex>();
  const server = http.createServer();

  /** The request of a token named by the URL, used up; or an HTTP refusal. */
  function takeRequest(url: string | undefined): StreamingRequest | { status: number; message: string } {
    const { pathname } = new URL(url ?? '/', 'http://streaming');
    const match = pathPattern.exec(pathname);
    if (match === null) return { status: 404, message: 'not found: streaming URLs are /exec/<token>, /attach/<token> and /portforward/<token>' };
    const request = tokens.consume(match[2] ?? '');
    if (request === undefined) return { status: 404, message: 'unknown, used or expired streaming token' };
    if (request.kind !== match[1]) return { status: 400, message: `the token is for ${request.kind}, not ${match[1] ?? '?'}` };
    return request;
  }

  server.on('request', (request: http.IncomingMessage, response: http.ServerResponse) => {
    const taken = takeRequest(request.url);
    const status = 'status' in taken ? taken.status : 400;
    const message = 'status' in taken ? taken.message : 'this streaming server speaks WebSocket only (RFC 6455, subprotocol v4.channel.k8s.io); SPDY is not supported';
    response.writeHead(status, { 'Content-Type': 'text/plain; charset=utf-8' }).end(`${message}\n`);
  });

  server.on('upgrade', (request: http.IncomingMessage, socket: Duplex, head: Buffer) => {
    sockets.add(socket);
    socket.once('close', () => sockets.delete(socket));
    socket.on('error', () => undefined);
    if (!isWebSocketRequest(request)) {
      refuseUpgrade(socket, 400, `cannot upgrade to ${String(request.headers.upgrade ?? '')}: this streaming server speaks WebSocket only`);
      return;
    }
    const taken = takeRequest(request.url);
    if ('status' in taken) {
      refuseUpgrade(socket, taken.status, taken.message);
      return;
    }
    let forwardPorts: readonly number[] = [];
    if (taken.kind === 'portforward') {
      forwardPorts = taken.ports.length > 0 ? taken.ports : queryPorts(request.url);
      if (forwardPorts.some((port) => !validPort(port)) || forwardPorts.length === 0) {
        refuseUpgrade(socket, 400, 'query parameter "port" is required (ports 1-65535) when the PortForward request named none');
        return;
      }
    }
    const protocols: readonly ChannelProtocol[] = taken.kind === 'portforward' ? portForwardProtocols : remoteCommandProtocols;
    const decision = decideUpgrade(request, protocols.map((p) => p.name));
    if (!decision.accepted) {
      refuseUpgrade(socket, decision.status, decision.message);
      return;
    }
    const protocol = protocols.find((p) => p.name === decision.protocol) ?? protocols[0];
    if (protocol === undefined) return;
    acceptUpgrade(request, socket, decision.protocol);
    const channels = new ChannelConnection(socket, head, protocol);
    const session =
      taken.kind === 'exec'
        ? serveExec(channels, taken, runtime)
        : taken.kind === 'attach'
          ? serveAttach(channels, taken, runtime)
          : servePortForward(channels, {
              sandboxId: taken.sandboxId,
              netnsPath: taken.netnsPath,
              ports: forwardPorts,
              ...(options.portRelay === undefined ? {} : { relay: options.portRelay }),
            });
    session.catch((error: unknown) => {
      log(`streaming ${taken.kind} session failed: ${error instanceof Error ? error.stack ?? error.message : String(error)}`);
      channels.destroy();
    });
  });

  const { host, port } = parseListenAddress(options.address ?? '127.0.0.1:0');
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const bound = server.address() as AddressInfo;
  const baseUrl = (options.baseUrl ?? `http://${urlHost(bound.address)}:${bound.port}`).replace(/\/+$/, '');

  function mint(request: StreamingRequest): string {
    try {
      return `${baseUrl}/${request.kind}/${tokens.mint(request)}`;
    } catch (error) {
      if (error instanceof TooManyTokensError) throw new GrpcStatusError({ code: 'RESOURCE_EXHAUSTED', message: error.message, cause: error });
      throw error;
    }
  }

  async function runningContainer(containerId: string, what: string): Promise<StreamingContainer> {
    if (containerId === '') throw invalidArgument('container_id', 'is required');
    const container = await runtime.findContainer(containerId);
    if (container === undefined) throw new GrpcStatusError({ code: 'NOT_FOUND', message: `container ${JSON.stringify(containerId)} not found` });
    if (!container.running) throw new GrpcStatusError({ code: 'FAILED_PRECONDITION', message: `cannot ${what}: container ${container.id} is not running` });
    return container;
  }

  /** The kubelet's checks of the requested streams (validateExecRequest, validateAttachRequest). */
  function checkStreams(request: { tty: boolean; stdin: boolean; stdout: boolean; stderr: boolean }): void {
    if (request.tty && request.stderr) throw invalidArgument('stderr', 'tty and stderr cannot both be true (a terminal merges stderr into stdout)');
    if (!request.stdin && !request.stdout && !request.stderr) throw invalidArgument('stdin, stdout, stderr', 'one of them must be true');
  }

  return {
    baseUrl,
    async requestExec(request) {
      if (request.containerId === '') throw invalidArgument('container_id', 'is required');
      if (request.cmd.length === 0) throw invalidArgument('cmd', 'is required');
      checkStreams(request);
      const container = await runningContainer(request.containerId, 'exec');
      const { cmd, tty, stdin, stdout, stderr } = request;
      return { url: mint({ kind: 'exec', containerId: container.id, cmd: [...cmd], tty, stdin, stdout, stderr }) };
    },
    async requestAttach(request) {
      if (request.containerId === '') throw invalidArgument('container_id', 'is required');
      checkStreams(request);
      const container = await runningContainer(request.containerId, 'attach');
      const { tty, stdin, stdout, stderr } = request;
      return { url: mint({ kind: 'attach', containerId: container.id, tty, stdin, stdout, stderr }) };
    },
    async requestPortForward(request) {
      if (request.podSandboxId === '') throw invalidArgument('pod_sandbox_id', 'is required');
      const invalid = request.port.find((port) => !validPort(port));
      if (invalid !== undefined) throw invalidArgument('port', `${invalid} is not a TCP port (1-65535)`);
      const sandbox = await runtime.findSandbox(request.podSandboxId);
      if (sandbox === undefined) throw new GrpcStatusError({ code: 'NOT_FOUND', message: `pod sandbox ${JSON.stringify(request.podSandboxId)} not found` });
      if (!sandbox.ready) throw new GrpcStatusError({ code: 'FAILED_PRECONDITION', message: `cannot forward ports: pod sandbox ${sandbox.id} is not ready` });
      return { url: mint({ kind: 'portforward', sandboxId: sandbox.id, netnsPath: sandbox.netnsPath, ports: [...request.port] }) };
    },
    async close() {
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      for (const socket of sockets) socket.destroy();
      server.closeAllConnections();
      await closed;
    },
  };
}

function validPort(port: number): boolean {
  return Number.isInteger(port) && port >= 1 && port <= 65_535;
}

/** Ports named in the URL's query (`?port=8080&port=9090`), as the kubelet reads them for WebSocket clients. */
function queryPorts(url: string | undefined): number[] {
  return new URL(url ?? '/', 'http://streaming').searchParams.getAll('port').flatMap((value) => value.split(',')).map((value) => Number(value.trim()));
}
