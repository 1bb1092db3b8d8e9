import type { ChannelConnection } from './channel-connection.js';
import { pumpToChannel } from './channel-pump.js';
import { announceSession, endSession, remoteCommandChannel } from './exec-session.js';
import type { StreamingRequest } from './request-tokens.js';
import type { ContainerOutput, StreamingRuntime } from './streaming-runtime.js';

/**
 * Runs one attach session: relays what the container writes from now on
 * (stdout on channel 1, stderr on 2, both on 1 when the client asked for a
 * terminal), and writes Success on channel 3 when the container exits.
 * Containers of this runtime have no stdin (CreateContainer refuses
 * `stdin`), so input the client sends ends the session with a Failure
 * status saying so, rather than being dropped without a word.
 * @see kubernetes/kubernetes staging/src/k8s.io/kubelet/pkg/cri/streaming/remotecommand/attach.go (v1.30, ServeAttach)
 */
export async function serveAttach(channels: ChannelConnection, request: Extract<StreamingRequest, { kind: 'attach' }>, runtime: StreamingRuntime): Promise<void> {
  let output: ContainerOutput | undefined;
  let finished = false;
  const finish = (outcome: Parameters<typeof endSession>[1]): void => {
    if (finished) return;
    finished = true;
    output?.stop();
    endSession(channels, outcome);
  };
  channels.listen({
    onData(channel, data) {
      if (channel !== remoteCommandChannel.stdin || data.length === 0) return;
      finish({ kind: 'internal', message: `container ${request.containerId} has no stdin: this runtime creates containers without stdin, so attach relays output only` });
    },
    onChannelClosed: () => undefined,
    onClosed() {
      finished = true;
      output?.stop();
    },
  });
  announceSession(channels, request);
  try {
    output = await runtime.attachOutput(request.containerId);
  } catch (error) {
    finish({ kind: 'internal', message: `error attaching to container: ${error instanceof Error ? error.message : String(error)}` });
    return;
  }
  if (finished) {
    output.stop();
    return;
  }
  const stderrChannel = request.tty ? (request.stdout ? remoteCommandChannel.stdout : undefined) : request.stderr ? remoteCommandChannel.stderr : undefined;
  const pumps = [
    pumpToChannel(output.stdout, channels, request.stdout ? remoteCommandChannel.stdout : undefined),
    pumpToChannel(output.stderr, channels, stderrChannel),
  ];
  await output.ended;
  await Promise.all(pumps);
  finish({ kind: 'success' });
}
