/**
 * One probe attempt for each handler kind, as upstream's probers judge them
 * (kubernetes/kubernetes v1.34 pkg/probe/{exec,http,tcp,grpc} and
 * pkg/kubelet/prober/prober.go): exec through CRI ExecSync, httpGet with
 * Node's http/https, tcpSocket with a plain connect, grpc with the health
 * service. Every attempt resolves to an outcome and a human-readable output;
 * nothing throws, so a broken probe is a failure, never a crash.
 */
import http from 'node:http';
import https from 'node:https';
import net from 'node:net';
import { callUnary, GrpcStatusError, type RuntimeServiceClient } from '../../specs/cri/index.js';
import type { Container, HttpGetAction, ProbeHandler } from '../api/pod-types.js';
import type { ProbeOutcome } from '../kubelet-parts.js';
import { checkHealth } from './grpc-health.js';

/** The User-Agent upstream's probes send (kube-probe/<major>.<minor>). */
export const probeUserAgent = 'kube-probe/1.34';

/** How much of an HTTP body becomes the probe's output (upstream reads at most 10 KiB). */
const maxBodyBytes = 10 * 1024;

/** One attempt's verdict and what to say about it (the event message's tail). */
export interface ProbeAttempt {
  readonly outcome: ProbeOutcome;
  readonly output: string;
}

/** Where and how a probe runs: the container it belongs to and the pod's IP. */
export interface ProbeTarget {
  readonly container: Container;
  readonly containerId: string;
  /** The pod's IP, the default host of httpGet, tcpSocket and grpc. */
  readonly podIp: string | undefined;
  readonly timeoutSeconds: number;
}

/** A port named by a probe or hook that the container does not declare. */
export class PortResolutionError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'PortResolutionError';
  }
}

/** A probe's or hook's port as a number: numbers as given, names looked up in the container's ports. */
export function resolveContainerPort(port: number | string, container: Container): number {
  if (typeof port === 'number') return port;
  if (/^[0-9]+$/.test(port)) return Number(port);
  const declared = container.ports?.find((candidate) => candidate.name === port);
  if (declared === undefined) throw new PortResolutionError(`couldn't find port ${JSON.stringify(port)} in container ${container.name}`);
  return declared.containerPort;
}

function failure(output: string): ProbeAttempt {
  return { outcome: 'failure', output };
}

function hostOf(explicit: string | undefined, podIp: string | undefined): string | undefined {
  return explicit !== undefined && explicit !== '' ? explicit : podIp;
}

/** Runs the exec handler through ExecSync; exit 0 is success, a timeout or any other exit a failure. */
export async function runExecProbe(runtime: RuntimeServiceClient, target: ProbeTarget, command: readonly string[]): Promise<ProbeAttempt> {
  try {
    const response = await callUnary(runtime, runtime.execSync, { containerId: target.containerId, cmd: [...command], timeout: BigInt(target.timeoutSeconds) }, {
      // The runtime enforces the timeout; the deadline only guards against a runtime that never answers.
      deadline: new Date(Date.now() + target.timeoutSeconds * 1000 + 5000),
    });
    const output = Buffer.concat([response.stdout, response.stderr]).toString('utf8');
    if (response.exitCode === 0) return { outcome: 'success', output };
    return failure(output !== '' ? output : `command ${JSON.stringify(command.join(' '))} exited with ${response.exitCode}`);
  } catch (error) {
    if (error instanceof GrpcStatusError && error.code === 'DEADLINE_EXCEEDED') return failure(`command ${JSON.stringify(command.join(' '))} timed out`);
    return failure(`exec failed: ${error instanceof Error ? error.message : String(error)}`);
  }
}

/** Options for one HTTP GET, already resolved to a host and port. */
export interface HttpGetRequest {
  readonly scheme: 'HTTP' | 'HTTPS';
  readonly host: string;
  readonly port: number;
  readonly path: string;
  readonly headers: readonly { readonly name: string; readonly value: string }[];
  readonly timeoutMs: number;
}

/** Resolves an httpGet action against its container and pod IP. */
export function httpGetRequestOf(action: HttpGetAction, container: Container, podIp: string | undefined, timeoutMs: number): HttpGetRequest {
  const host = hostOf(action.host, podIp);
  if (host === undefined) throw new PortResolutionError('the pod has no IP yet');
  return {
    scheme: action.scheme ?? 'HTTP',
    host,
    port: resolveContainerPort(action.port, container),
    path: action.path ?? '/',
    headers: action.httpHeaders ?? [],
    timeoutMs,
  };
}

/**
 * One GET: 200..399 is success (redirects are not followed: a 3xx counts as
 * success, as upstream counts a redirect to another host), anything else or
 * no answer within the timeout a failure. TLS certificates are not verified,
 * as upstream's prober does not verify them.
 */
export function runHttpGet(request: HttpGetRequest): Promise<ProbeAttempt> {
  return new Promise<ProbeAttempt>((resolve) => {
    const headers: Record<string, string> = {};
    let hostHeader: string | undefined;
    for (const header of request.headers) {
      if (header.name.toLowerCase() === 'host') hostHeader = header.value;
      else headers[header.name] = header.value;
    }
    const has = (name: string): boolean => Object.keys(headers).some((key) => key.toLowerCase() === name);
    if (!has('user-agent')) headers['User-Agent'] = probeUserAgent;
    if (!has('accept')) headers['Accept'] = '*/*';
    if (hostHeader !== undefined) headers['Host'] = hostHeader;
    const path = request.path.startsWith('/') ? request.path : `/${request.path}`;
    const module = request.scheme === 'HTTPS' ? https : http;
    const url = `${request.scheme === 'HTTPS' ? 'https' : 'http'}://${net.isIPv6(request.host) ? `[${request.host}]` : request.host}:${request.port}${path}`;
    let settled = false;
    const settle = (attempt: ProbeAttempt): void => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      resolve(attempt);
    };
    const outgoing = module.get(url, { headers, agent: false, ...(request.scheme === 'HTTPS' ? { rejectUnauthorized: false } : {}) }, (response) => {
      const status = response.statusCode ?? 0;
      const chunks: Buffer[] = [];
      let length = 0;
      response.on('data', (chunk: Buffer) => {
        if (length < maxBodyBytes) chunks.push(chunk);
        length += chunk.length;
      });
      const finish = (): void => {
        const body = Buffer.concat(chunks).subarray(0, maxBodyBytes).toString('utf8');
        outgoing.destroy();
        if (status >= 200 && status < 400) settle({ outcome: 'success', output: body });
        else settle(failure(`HTTP probe failed with statuscode: ${status}`));
      };
      response.on('end', finish);
      response.on('error', finish);
    });
    const timer = setTimeout(() => {
      outgoing.destroy();
      settle(failure(`Get ${JSON.stringify(url)}: context deadline exceeded (Client.Timeout exceeded while awaiting headers)`));
    }, request.timeoutMs);
    outgoing.on('error', (error) => settle(failure(`Get ${JSON.stringify(url)}: ${error.message}`)));
  });
}

/** Opens a TCP connection and closes it; success when it opens within the timeout. */
export function runTcpConnect(host: string, port: number, timeoutMs: number): Promise<ProbeAttempt> {
  return new Promise<ProbeAttempt>((resolve) => {
    const address = `${net.isIPv6(host) ? `[${host}]` : host}:${port}`;
    const socket = net.connect({ host, port });
    const timer = setTimeout(() => {
      socket.destroy();
      resolve(failure(`dial tcp ${address}: i/o timeout`));
    }, timeoutMs);
    socket.once('connect', () => {
      clearTimeout(timer);
      socket.destroy();
      resolve({ outcome: 'success', output: '' });
    });
    socket.once('error', (error) => {
      clearTimeout(timer);
      socket.destroy();
      resolve(failure(`dial tcp ${address}: ${error.message}`));
    });
  });
}

/** Calls grpc.health.v1.Health/Check; SERVING is success. */
export async function runGrpcProbe(host: string, port: number, service: string, timeoutMs: number): Promise<ProbeAttempt> {
  const answer = await checkHealth({ host, port, service, timeoutMs, userAgent: probeUserAgent });
  if ('error' in answer) {
    if (answer.error.code === 4) return failure(`timeout: health rpc did not complete within ${timeoutMs / 1000}s`);
    return failure(`error: health rpc probe failed: ${answer.error.details || answer.error.message}`);
  }
  if (answer.status === 'SERVING') return { outcome: 'success', output: '' };
  return failure(`service unhealthy (responded with ${JSON.stringify(answer.status)})`);
}

/** Runs one attempt of whichever handler the probe holds (validation guarantees exactly one). */
export async function runProbeHandler(runtime: RuntimeServiceClient, handler: ProbeHandler, target: ProbeTarget): Promise<ProbeAttempt> {
  const timeoutMs = target.timeoutSeconds * 1000;
  try {
    if (handler.exec !== undefined) return await runExecProbe(runtime, target, handler.exec.command ?? []);
    if (handler.httpGet !== undefined) return await runHttpGet(httpGetRequestOf(handler.httpGet, target.container, target.podIp, timeoutMs));
    if (handler.tcpSocket !== undefined) {
      const host = hostOf(handler.tcpSocket.host, target.podIp);
      if (host === undefined) return failure('the pod has no IP yet');
      return await runTcpConnect(host, resolveContainerPort(handler.tcpSocket.port, target.container), timeoutMs);
    }
    if (handler.grpc !== undefined) {
      if (target.podIp === undefined) return failure('the pod has no IP yet');
      return await runGrpcProbe(target.podIp, handler.grpc.port, handler.grpc.service ?? '', timeoutMs);
    }
    return failure('missing probe handler');
  } catch (error) {
    return failure(error instanceof Error ? error.message : String(error));
  }
}
