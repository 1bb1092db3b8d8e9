/**
 * The process runtime's streaming server: the URLs Exec, Attach and
 * PortForward answer, served over WebSocket in the kubelet's channel
 * protocols (v4/v5.channel.k8s.io and their base64 variants).
 */
export { serveAttach } from './attach-session.js';
export { ChannelConnection, portForwardProtocols, remoteCommandProtocols } from './channel-connection.js';
export type { ChannelHandlers, ChannelProtocol } from './channel-connection.js';
export { followCriLog } from './cri-log-follower.js';
export { remoteCommandChannel, serveExec } from './exec-session.js';
export { statusDocument, statusMessage } from './exec-status.js';
export type { SessionOutcome } from './exec-status.js';
export { startOciExec } from './oci-exec-process.js';
export { OciStreamingRuntime } from './oci-streaming-runtime.js';
export type { OciStreamingRuntimeOptions, StreamingContainerFiles } from './oci-streaming-runtime.js';
export { busyboxRelay, connectPort } from './port-connection.js';
export type { PortConnection, PortRelayCommand } from './port-connection.js';
export { servePortForward } from './port-forward-session.js';
export { RequestTokens, TooManyTokensError } from './request-tokens.js';
export type { StreamingRequest } from './request-tokens.js';
export { streamingRuntimeOf } from './runtime-context-streaming.js';
export { createStreamingHandlers } from './streaming-service.js';
export type { StreamingHandlers } from './streaming-service.js';
export type { ContainerOutput, StreamingContainer, StreamingProcess, StreamingRuntime, StreamingSandbox } from './streaming-runtime.js';
export { parseListenAddress, startStreamingServer } from './streaming-server.js';
export type { StreamingServer, StreamingServerOptions } from './streaming-server.js';
