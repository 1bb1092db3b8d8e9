/**
 * Runs a lifecycle handler (postStart, preStop) as upstream's
 * kubernetes/kubernetes pkg/kubelet/lifecycle/handlers.go does: exec through
 * CRI ExecSync in the container (non-zero exit fails), httpGet to the pod IP
 * unless a host is given (any HTTP answer succeeds; only a transport error
 * fails, as upstream), sleep, and tcpSocket kept as a no-op (upstream keeps
 * it only for backward compatibility).
 * @see KUBELET-HOOK-001
 * @see KUBELET-HOOK-002
 */
import { callUnary, type RuntimeServiceClient } from '../../specs/cri/index.js';
import type { Container, LifecycleHandler } from '../api/pod-types.js';

/** Where and how long a handler runs. */
export interface HookTarget {
  readonly runtime: RuntimeServiceClient;
  readonly containerId: string;
  readonly container: Container;
  readonly podIp: string | undefined;
  /** 0: no limit. */
  readonly timeoutSeconds: number;
  readonly signal?: AbortSignal;
}

/** A port by number, numeric string or container port name (upstream resolvePort). */
export function resolveContainerPort(port: number | string, container: Container): number {
  if (typeof port === 'number') return port;
  if (port === '') return 80;
  if (/^\d+$/.test(port)) return Number(port);
  const named = (container.ports ?? []).find((entry) => entry.name === port);
  if (named === undefined) throw new Error(`couldn't find port: ${port} in container ${container.name}`);
  return named.containerPort;
}

/** One line naming the handler, for event messages. */
export function describeHandler(handler: LifecycleHandler): { kind: 'Exec' | 'HTTP' | 'Sleep' | 'TCP' | 'Unknown'; detail: string } {
  if (handler.exec !== undefined) return { kind: 'Exec', detail: JSON.stringify(handler.exec.command ?? []) };
  if (handler.httpGet !== undefined) return { kind: 'HTTP', detail: handler.httpGet.path ?? '' };
  if (handler.sleep !== undefined) return { kind: 'Sleep', detail: String(handler.sleep.seconds) };
  if (handler.tcpSocket !== undefined) return { kind: 'TCP', detail: String(handler.tcpSocket.port) };
  return { kind: 'Unknown', detail: '' };
}

function sleep(ms: number, signal: AbortSignal | undefined): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted === true) {
      reject(new Error('container terminated before sleep hook finished'));
      return;
    }
    const timer = setTimeout(() => {
      signal?.removeEventListener('abort', abort);
      resolve();
    }, ms);
    const abort = (): void => {
      clearTimeout(timer);
      reject(new Error('container terminated before sleep hook finished'));
    };
    signal?.addEventListener('abort', abort, { once: true });
  });
}

/** Runs the handler; resolves when it succeeded, rejects with why it failed. */
export async function runLifecycleHandler(handler: LifecycleHandler, target: HookTarget): Promise<void> {
  if (handler.exec !== undefined) {
    const cmd = handler.exec.command ?? [];
    const deadline = target.timeoutSeconds > 0 ? { deadline: new Date(Date.now() + (target.timeoutSeconds + 5) * 1000) } : {};
    const response = await callUnary(
      target.runtime,
      target.runtime.execSync,
      { containerId: target.containerId, cmd, timeout: BigInt(Math.max(0, Math.ceil(target.timeoutSeconds))) },
      { ...deadline, ...(target.signal === undefined ? {} : { signal: target.signal }) },
    );
    if (response.exitCode !== 0) {
      const output = `${Buffer.from(response.stdout).toString()}${Buffer.from(response.stderr).toString()}`.trim();
      throw new Error(`command '${cmd.join(' ')}' exited with ${response.exitCode}: ${output}`);
    }
    return;
  }
  if (handler.httpGet !== undefined) {
    const action = handler.httpGet;
    const host = action.host !== undefined && action.host !== '' ? action.host : target.podIp;
    if (host === undefined || host === '') throw new Error('failed to find networking container: the pod has no IP');
    const port = resolveContainerPort(action.port, target.container);
    const scheme = (action.scheme ?? 'HTTP').toLowerCase();
    const pathPart = (action.path ?? '').startsWith('/') ? (action.path ?? '') : `/${action.path ?? ''}`;
    const hostPart = host.includes(':') ? `[${host}]` : host;
    const headers = new Headers({ 'User-Agent': 'kube-lifecycle/1.33' });
    for (const header of action.httpHeaders ?? []) headers.set(header.name, header.value);
    const signals = [target.signal, target.timeoutSeconds > 0 ? AbortSignal.timeout(target.timeoutSeconds * 1000) : undefined].filter(
      (signal): signal is AbortSignal => signal !== undefined,
    );
    const response = await fetch(`${scheme}://${hostPart}:${port}${pathPart}`, {
      headers,
      redirect: 'manual',
      ...(signals.length === 0 ? {} : { signal: AbortSignal.any(signals) }),
    });
    // Upstream discards the body and judges only the transport.
    await response.body?.cancel();
    return;
  }
  if (handler.sleep !== undefined) {
    await sleep(handler.sleep.seconds * 1000, target.signal);
    return;
  }
  if (handler.tcpSocket !== undefined) return;
  throw new Error('invalid handler: none of exec, httpGet, sleep, tcpSocket is set');
}
