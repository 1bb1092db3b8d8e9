/**
 * How the KUBELET-DRAIN cases run a drain and see what it did: the drain
 * command comes from the run's template (`--drain-cmd`, placeholders
 * {kubelet-url} and {timeout}), and it reaches the kubelet through a
 * recording proxy the case starts, so every request the drain sends (the
 * cordon, each eviction and its retries) is seen with its answer and time.
 */
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import type { CaseContext } from '../framework/index.js';
import type { KubeletSubject } from './kubelet-subject.js';
import { expandDrainCommand } from './run-config.js';

type Ctx = CaseContext<KubeletSubject>;

/** One request the drain sent, as the proxy saw it. */
export interface SeenRequest {
  /** ms since the epoch, when the request arrived and when its answer was sent. */
  readonly at: number;
  readonly answeredAt: number;
  readonly method: string;
  readonly path: string;
  readonly body: string;
  /** The kubelet's answer code (0 when the kubelet could not be reached). */
  readonly status: number;
}

/** A recording proxy in front of the kubelet's read-only port. */
export interface RecordingProxy {
  /** `unix:///…sock`: the URL to give the drain. */
  readonly url: string;
  /** Every request so far, in arrival order. */
  requests(): readonly SeenRequest[];
}

/** Where a `unix://` or `http://` kubelet URL leads, as http.request options. */
function target(kubeletUrl: string): { socketPath: string } | { host: string; port: number } {
  if (kubeletUrl.startsWith('unix://')) return { socketPath: kubeletUrl.slice('unix://'.length) };
  const url = new URL(kubeletUrl);
  return { host: url.hostname, port: Number(url.port || 80) };
}

/** Starts a proxy on a unix socket of its own that passes every request to `subject.kubeletUrl` and records it; stopped after the case. */
export async function startRecordingProxy(ctx: Ctx): Promise<RecordingProxy> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'kp-drain-proxy-'));
  ctx.defer(() => fs.rmSync(dir, { recursive: true, force: true }), 'remove the drain proxy folder');
  const socketPath = path.join(dir, 'kubelet.sock');
  const seen: SeenRequest[] = [];
  const upstream = target(ctx.subject.kubeletUrl);
  const server = http.createServer((request, response) => {
    const at = Date.now();
    const chunks: Buffer[] = [];
    request.on('data', (chunk: Buffer) => chunks.push(chunk));
    request.on('end', () => {
      const body = Buffer.concat(chunks);
      const headers = { ...request.headers, host: 'kubelet' };
      const forward = http.request({ ...upstream, method: request.method, path: request.url, headers, agent: false, timeout: 60_000 }, (answer) => {
        const answerChunks: Buffer[] = [];
        answer.on('data', (chunk: Buffer) => answerChunks.push(chunk));
        answer.on('end', () => {
          seen.push({ at, answeredAt: Date.now(), method: request.method ?? '', path: request.url ?? '', body: body.toString('utf8'), status: answer.statusCode ?? 0 });
          response.writeHead(answer.statusCode ?? 502, answer.headers);
          response.end(Buffer.concat(answerChunks));
        });
      });
      forward.on('timeout', () => forward.destroy(new Error('no answer within 60 s')));
      forward.on('error', (error) => {
        seen.push({ at, answeredAt: Date.now(), method: request.method ?? '', path: request.url ?? '', body: body.toString('utf8'), status: 0 });
        if (!response.headersSent) response.writeHead(502, { 'content-type': 'text/plain' });
        response.end(`proxy: ${error.message}`);
      });
      forward.end(body);
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(socketPath, () => resolve());
  });
  ctx.defer(
    () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
    'stop the drain proxy',
  );
  return { url: `unix://${socketPath}`, requests: () => [...seen] };
}

/** How a drain run ended. */
export interface DrainRun {
  /** Exit code, or null when it was killed (by a signal: see `signal`). */
  readonly exitCode: number | null;
  readonly signal: string | null;
  readonly stdout: string;
  readonly stderr: string;
  /** ms since the epoch. */
  readonly startedAt: number;
  readonly endedAt: number;
  readonly argv: readonly string[];
}

/** A drain started by {@link startDrain}. */
export interface RunningDrain {
  /** Resolves when the drain exits (or is killed after its limit). */
  readonly done: Promise<DrainRun>;
  /** Whether it has exited. */
  exited(): boolean;
}

/**
 * Starts the run's drain command against `url` with `--timeout`
 * `timeoutSeconds` (0: none). The drain is killed (its process group, by
 * pid) `limitMs` after it started if it is still running then, and after the
 * case in any event.
 */
export function startDrain(ctx: Ctx, options: { url: string; timeoutSeconds: number; limitMs: number }): RunningDrain {
  const command = expandDrainCommand(ctx.subject.drainCmd, { 'kubelet-url': options.url, timeout: `${options.timeoutSeconds}s` });
  const [file, ...args] = command.argv as [string, ...string[]];
  const startedAt = Date.now();
  const child = spawn(file, args, { stdio: ['ignore', 'pipe', 'pipe'], detached: true });
  let stdout = '';
  let stderr = '';
  let exited = false;
  child.stdout.on('data', (chunk: Buffer) => (stdout = (stdout + chunk.toString()).slice(-20_000)));
  child.stderr.on('data', (chunk: Buffer) => (stderr = (stderr + chunk.toString()).slice(-20_000)));
  const kill = (): void => {
    if (exited || child.pid === undefined) return;
    try {
      process.kill(-child.pid, 'SIGKILL');
    } catch {
      // already gone
    }
  };
  const timer = setTimeout(kill, options.limitMs);
  ctx.defer(kill, 'stop the drain if it still runs');
  const done = new Promise<DrainRun>((resolve) => {
    child.on('error', (error) => {
      stderr += `\n(could not start ${file}: ${error.message})`;
    });
    child.on('close', (exitCode, signal) => {
      exited = true;
      clearTimeout(timer);
      resolve({ exitCode, signal, stdout, stderr, startedAt, endedAt: Date.now(), argv: command.argv });
    });
  });
  return { done, exited: () => exited };
}

/** A short view of a drain run for evidence. */
export function drainView(run: DrainRun): unknown {
  return {
    argv: run.argv,
    exitCode: run.exitCode,
    signal: run.signal,
    seconds: Math.round((run.endedAt - run.startedAt) / 100) / 10,
    stdout: run.stdout.slice(-1500),
    stderr: run.stderr.slice(-1500),
  };
}

/** A short view of the requests the proxy saw, times relative to `origin`. */
export function requestsView(requests: readonly SeenRequest[], origin: number): string[] {
  return requests.map((request) => `${request.method} ${request.path} -> ${request.status} @${request.at - origin}ms`);
}

/** Whether a request is an eviction (of `podName`, when given). */
export function isEviction(request: SeenRequest, podName?: string): boolean {
  return request.method === 'POST' && /\/pods\/[^/]+\/eviction$/.test(request.path) && (podName === undefined || request.path.endsWith(`/pods/${encodeURIComponent(podName)}/eviction`));
}

/** Whether a request cordons a node (a PATCH of the Node setting spec.unschedulable true). */
export function isCordon(request: SeenRequest): boolean {
  if ((request.method !== 'PATCH' && request.method !== 'PUT') || !/\/api\/v1\/nodes\/[^/]+$/.test(request.path)) return false;
  try {
    return (JSON.parse(request.body) as { spec?: { unschedulable?: unknown } }).spec?.unschedulable === true;
  } catch {
    return false;
  }
}
