import type { Writable } from 'node:stream';
import type { ChannelConnection } from './channel-connection.js';
import { pumpToChannel } from './channel-pump.js';
import { statusMessage, type SessionOutcome } from './exec-status.js';
import type { StreamingRequest } from './request-tokens.js';
import type { StreamingProcess, StreamingRuntime } from './streaming-runtime.js';

/** The remote-command channels (kubelet remotecommand constants). */
export const remoteCommandChannel = { stdin: 0, stdout: 1, stderr: 2, error: 3, resize: 4 } as const;

/**
 * Tells the client the session is established: an empty message on the
 * lowest channel it will receive on, as the kubelet sends one.
 */
export function announceSession(channels: ChannelConnection, request: { stdout: boolean; stderr: boolean }): void {
  const first = request.stdout ? remoteCommandChannel.stdout : request.stderr ? remoteCommandChannel.stderr : remoteCommandChannel.error;
  channels.write(first, Buffer.alloc(0));
}

/** Writes the outcome on the error channel and closes the connection. */
export function endSession(channels: ChannelConnection, outcome: SessionOutcome): void {
  const message = statusMessage(channels.protocol, outcome);
  if (message !== undefined) channels.write(remoteCommandChannel.error, message);
  channels.close();
}

/** Reads a resize message (`{"Width":80,"Height":24}`); undefined when malformed. */
function parseResize(data: Buffer): { width: number; height: number } | undefined {
  try {
    const size = JSON.parse(data.toString('utf8')) as { Width?: unknown; Height?: unknown };
    if (typeof size.Width === 'number' && typeof size.Height === 'number') return { width: size.Width, height: size.Height };
  } catch {
    // a malformed resize is ignored, as the kubelet logs and drops it
  }
  return undefined;
}

/**
 * Runs one exec session: starts the command, relays stdin from channel 0
 * (buffered until the process exists; a v5 client's CLOSE ends it), output
 * to channels 1 and 2, resizes from channel 4, then writes the exit status
 * on channel 3 and closes. A client that goes away kills the command.
 * @see kubernetes/kubernetes staging/src/k8s.io/kubelet/pkg/cri/streaming/remotecommand/exec.go (v1.30, ServeExec)
 */
export async function serveExec(channels: ChannelConnection, request: Extract<StreamingRequest, { kind: 'exec' }>, runtime: StreamingRuntime): Promise<void> {
  let process: StreamingProcess | undefined;
  let clientGone = false;
  let stdinEnded = false;
  const pendingStdin: Buffer[] = [];
  const stdinOf = (p: StreamingProcess | undefined): Writable | null => (p === undefined ? null : p.stdin);
  channels.listen({
    onData(channel, data) {
      if (channel === remoteCommandChannel.stdin && request.stdin && !stdinEnded) {
        const stdin = stdinOf(process);
        if (stdin === null) pendingStdin.push(data);
        else stdin.write(data);
      } else if (channel === remoteCommandChannel.resize && request.tty) {
        const size = parseResize(data);
        if (size !== undefined) process?.resize?.(size);
      }
    },
    onChannelClosed(channel) {
      if (channel !== remoteCommandChannel.stdin || stdinEnded) return;
      stdinEnded = true;
      stdinOf(process)?.end();
    },
    onClosed() {
      clientGone = true;
      process?.kill();
    },
  });
  announceSession(channels, request);
  try {
    process = await runtime.execProcess(request.containerId, request.cmd, { tty: request.tty, stdin: request.stdin });
  } catch (error) {
    endSession(channels, { kind: 'internal', message: `error executing command in container: ${error instanceof Error ? error.message : String(error)}` });
    return;
  }
  if (clientGone) process.kill();
  const stdin = process.stdin;
  if (stdin !== null) {
    // EPIPE when the command exits without reading its input is not an error of the session.
    stdin.on('error', () => undefined);
    for (const chunk of pendingStdin.splice(0)) stdin.write(chunk);
    if (stdinEnded) stdin.end();
  }
  const pumps = [pumpToChannel(process.stdout, channels, request.stdout || request.tty ? remoteCommandChannel.stdout : undefined)];
  if (process.stderr !== null) pumps.push(pumpToChannel(process.stderr, channels, request.stderr ? remoteCommandChannel.stderr : undefined));
  let outcome: SessionOutcome;
  try {
    const exitCode = await process.exited;
    outcome = exitCode === 0 ? { kind: 'success' } : { kind: 'exit', exitCode, cmd: request.cmd };
  } catch (error) {
    outcome = { kind: 'internal', message: `error executing command in container: ${error instanceof Error ? error.message : String(error)}` };
  }
  await Promise.all(pumps);
  stdin?.end();
  if (!clientGone) endSession(channels, outcome);
}
