/**
 * The documents the kubelet's streaming server writes on the error channel
 * (channel 3) when a command or attach ends: a metav1.Status in JSON for
 * the v4 and v5 subprotocols, the bare error text for older ones (nothing
 * on success). Field order follows the Go struct, as encoding/json writes it.
 * @see kubernetes/kubernetes staging/src/k8s.io/kubelet/pkg/cri/streaming/remotecommand/httpstream.go (v1.30, v4WriteStatusFunc)
 * @see kubernetes/kubernetes staging/src/k8s.io/kubelet/pkg/cri/streaming/remotecommand/exec.go (v1.30, NonZeroExitCodeReason)
 */
import type { ChannelProtocol } from './channel-connection.js';

/** How a streamed command or attach ended. */
export type SessionOutcome =
  | { readonly kind: 'success' }
  | { readonly kind: 'exit'; readonly exitCode: number; readonly cmd: readonly string[] }
  | { readonly kind: 'internal'; readonly message: string };

/** The metav1.Status JSON for an outcome (v4 and later). */
export function statusDocument(outcome: SessionOutcome): string {
  if (outcome.kind === 'success') return JSON.stringify({ metadata: {}, status: 'Success' });
  if (outcome.kind === 'exit') {
    return JSON.stringify({
      metadata: {},
      status: 'Failure',
      message: `command terminated with non-zero exit code: ${exitErrorText(outcome)}`,
      reason: 'NonZeroExitCode',
      details: { causes: [{ reason: 'ExitCode', message: String(outcome.exitCode) }] },
    });
  }
  return JSON.stringify({
    metadata: {},
    status: 'Failure',
    message: `Internal error occurred: ${outcome.message}`,
    reason: 'InternalError',
    details: { causes: [{ message: outcome.message }] },
    code: 500,
  });
}

// The wording containerd's CRI plugin gives the exit error the kubelet wraps.
function exitErrorText(outcome: { exitCode: number; cmd: readonly string[] }): string {
  return `error executing command [${outcome.cmd.join(' ')}], exit code ${outcome.exitCode}`;
}

/** What to write on the error channel for `outcome` in `protocol`; undefined when nothing is written. */
export function statusMessage(protocol: ChannelProtocol, outcome: SessionOutcome): Buffer | undefined {
  if (protocol.statusFormat === 'v4') return Buffer.from(statusDocument(outcome), 'utf8');
  if (outcome.kind === 'success') return undefined;
  if (outcome.kind === 'exit') return Buffer.from(`command terminated with non-zero exit code: ${exitErrorText(outcome)}`, 'utf8');
  return Buffer.from(`Internal error occurred: ${outcome.message}`, 'utf8');
}
