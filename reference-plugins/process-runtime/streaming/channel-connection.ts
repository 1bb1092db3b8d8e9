import type { Duplex } from 'node:stream';
import { WebSocketConnection, type WebSocketOptions } from './websocket-connection.js';

/**
 * One subprotocol of the kubelet's channel multiplexing over WebSocket: how
 * a message names its channel (a byte, or an ASCII digit before base64
 * data), how the error channel reports the end of an exec, and whether the
 * client may close one channel (v5's CLOSE signal, channel 255).
 * @see kubernetes/kubernetes staging/src/k8s.io/apiserver/pkg/util/wsstream/conn.go (v1.30)
 * @see kubernetes/kubernetes staging/src/k8s.io/kubelet/pkg/cri/streaming/remotecommand/websocket.go (v1.30)
 */
export interface ChannelProtocol {
  readonly name: string;
  readonly encoding: 'binary' | 'base64';
  /** v1: the error channel carries the error text (nothing on success); v4: a metav1.Status JSON document. */
  readonly statusFormat: 'v1' | 'v4';
  readonly supportsChannelClose: boolean;
}

function protocol(name: string, encoding: 'binary' | 'base64', statusFormat: 'v1' | 'v4', supportsChannelClose = false): ChannelProtocol {
  return { name, encoding, statusFormat, supportsChannelClose };
}

/** The subprotocols the kubelet's exec and attach endpoints accept ('' is a client that offers none). */
export const remoteCommandProtocols: readonly ChannelProtocol[] = [
  protocol('v5.channel.k8s.io', 'binary', 'v4', true),
  protocol('v4.channel.k8s.io', 'binary', 'v4'),
  protocol('v4.base64.channel.k8s.io', 'base64', 'v4'),
  protocol('channel.k8s.io', 'binary', 'v1'),
  protocol('base64.channel.k8s.io', 'base64', 'v1'),
  protocol('', 'binary', 'v1'),
];

/**
 * The subprotocols of the port-forward endpoint. `portforward.k8s.io` is the
 * name of the SPDY protocol; a WebSocket client offering it gets the binary
 * channel framing, which is what such clients expect.
 */
export const portForwardProtocols: readonly ChannelProtocol[] = [
  protocol('v4.channel.k8s.io', 'binary', 'v4'),
  protocol('v4.base64.channel.k8s.io', 'base64', 'v4'),
  protocol('portforward.k8s.io', 'binary', 'v4'),
  protocol('', 'binary', 'v4'),
];

/** The channel a v5 client writes to close one of its channels. */
const closeSignalChannel = 255;

/** What a channel connection tells its owner. */
export interface ChannelHandlers {
  onData(channel: number, data: Buffer): void;
  /** A v5 client closed its side of `channel` (stdin end-of-file). */
  onChannelClosed(channel: number): void;
  onClosed(reason: string): void;
}

/** Channel messages over one WebSocket connection, in the negotiated subprotocol. */
export class ChannelConnection {
  readonly protocol: ChannelProtocol;
  readonly #ws: WebSocketConnection;
  #handlers: ChannelHandlers | undefined;
  #closedReason: string | undefined;

  /** Wraps an upgraded socket; call {@link listen} before returning to the event loop. */
  constructor(socket: Duplex, head: Buffer, protocol: ChannelProtocol, options: WebSocketOptions = {}) {
    this.protocol = protocol;
    this.#ws = new WebSocketConnection(
      socket,
      head,
      {
        onMessage: (message) => {
          if (this.#handlers !== undefined) this.#dispatch(message, this.#handlers);
        },
        onClosed: (reason) => {
          this.#closedReason = reason;
          this.#handlers?.onClosed(reason);
        },
      },
      options,
    );
  }

  /** Routes the client's messages to `handlers` (once). */
  listen(handlers: ChannelHandlers): void {
    this.#handlers = handlers;
    if (this.#closedReason !== undefined) handlers.onClosed(this.#closedReason);
  }

  /** Decodes one WebSocket message; ignores malformed and empty ones, as the kubelet does. */
  #dispatch(message: Buffer, handlers: ChannelHandlers): void {
    if (message.length === 0) return;
    if (this.protocol.encoding === 'base64') {
      const channel = (message[0] ?? 0) - 0x30;
      if (channel < 0 || channel > 9) return;
      handlers.onData(channel, Buffer.from(message.subarray(1).toString('latin1'), 'base64'));
      return;
    }
    const channel = message[0] ?? 0;
    if (channel === closeSignalChannel && this.protocol.supportsChannelClose) {
      if (message.length >= 2) handlers.onChannelClosed(message[1] ?? 0);
      return;
    }
    handlers.onData(channel, message.subarray(1));
  }

  /** Sends `data` on `channel`; false when the caller should wait for {@link onceDrained}. */
  write(channel: number, data: Buffer): boolean {
    if (this.protocol.encoding === 'base64') {
      return this.#ws.send(Buffer.from(`${String.fromCharCode(0x30 + channel)}${data.toString('base64')}`, 'latin1'), false);
    }
    return this.#ws.send(Buffer.concat([Buffer.from([channel]), data]), true);
  }

  onceDrained(listener: () => void): void {
    this.#ws.onceDrained(listener);
  }

  get open(): boolean {
    return this.#ws.open;
  }

  /** Ends the session with a normal close handshake. */
  close(): void {
    this.#ws.close(1000, '');
  }

  /** Drops the connection at once (the server is shutting down). */
  destroy(): void {
    this.#ws.destroy();
  }
}
