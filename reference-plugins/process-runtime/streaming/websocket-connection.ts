import type { Duplex } from 'node:stream';
import { closePayload, decodeFrames, encodeFrame, opcodes, WebSocketProtocolError } from './websocket-frames.js';

/** What a connection tells its owner. */
export interface WebSocketHandlers {
  /** A whole data message (text or binary), fragments joined. */
  onMessage(message: Buffer, binary: boolean): void;
  /** The connection is gone (close handshake, socket error or end); called once. */
  onClosed(reason: string): void;
}

/** Limits of one connection. */
export interface WebSocketOptions {
  /** The largest message accepted from the client; larger ones close the connection with 1009. */
  maxMessageBytes?: number;
  /** How long to wait for the client's close frame after ours before dropping the socket. */
  closeTimeoutMs?: number;
}

/**
 * The server side of one RFC 6455 connection after the handshake: frames
 * decoded (client frames must be masked), fragments joined, pings answered,
 * the close handshake run. Writes report back-pressure like a stream's.
 */
export class WebSocketConnection {
  readonly #socket: Duplex;
  readonly #handlers: WebSocketHandlers;
  readonly #maxMessageBytes: number;
  readonly #closeTimeoutMs: number;
  #buffered: Buffer;
  #fragments: Buffer[] = [];
  #fragmentBytes = 0;
  #fragmentBinary = true;
  #closeSent = false;
  #closed = false;
  #closeTimer: NodeJS.Timeout | undefined;

  constructor(socket: Duplex, head: Buffer, handlers: WebSocketHandlers, options: WebSocketOptions = {}) {
    this.#socket = socket;
    this.#handlers = handlers;
    this.#maxMessageBytes = options.maxMessageBytes ?? 16 * 1024 * 1024;
    this.#closeTimeoutMs = options.closeTimeoutMs ?? 2000;
    this.#buffered = Buffer.from(head);
    socket.on('data', (chunk: Buffer) => {
      this.#buffered = this.#buffered.length === 0 ? chunk : Buffer.concat([this.#buffered, chunk]);
      this.#consume();
    });
    socket.on('end', () => this.#finish('the client ended the connection'));
    socket.on('close', () => this.#finish('the connection closed'));
    socket.on('error', (error) => this.#finish(`socket error: ${error.message}`));
    // Bytes sent right after the handshake arrive in `head`; read them once the owner has attached.
    if (this.#buffered.length > 0) queueMicrotask(() => this.#consume());
  }

  /** Whether the connection can still carry messages. */
  get open(): boolean {
    return !this.#closed && !this.#closeSent;
  }

  /** Sends one message; false when the socket's buffer is full (wait for {@link onceDrained}) or the connection is closing. */
  send(message: Buffer, binary = true): boolean {
    if (!this.open) return false;
    return this.#socket.write(encodeFrame(binary ? opcodes.binary : opcodes.text, message));
  }

  /** Runs `listener` when the socket's buffer has room again, or at once when it has. */
  onceDrained(listener: () => void): void {
    if (!this.#socket.writableNeedDrain || this.#closed) {
      listener();
      return;
    }
    const done = (): void => {
      this.#socket.off('drain', done);
      this.#socket.off('close', done);
      listener();
    };
    this.#socket.on('drain', done);
    this.#socket.on('close', done);
  }

  /** Starts the close handshake (idempotent); the socket is dropped when the client answers or after a timeout. */
  close(code = 1000, reason = ''): void {
    if (this.#closed || this.#closeSent) return;
    this.#closeSent = true;
    this.#socket.write(encodeFrame(opcodes.close, closePayload(code, reason)));
    this.#closeTimer = setTimeout(() => this.#socket.destroy(), this.#closeTimeoutMs);
    this.#closeTimer.unref();
  }

  /** Drops the socket without a close handshake. */
  destroy(): void {
    this.#socket.destroy();
  }

  #consume(): void {
    if (this.#closed) return;
    let decoded;
    try {
      decoded = decodeFrames(this.#buffered, this.#maxMessageBytes);
    } catch (error) {
      this.#failProtocol(error);
      return;
    }
    this.#buffered = Buffer.from(decoded.rest);
    for (const frame of decoded.frames) {
      if (this.#closed) return;
      if (!frame.masked) {
        this.#failProtocol(new WebSocketProtocolError('a client frame was not masked'));
        return;
      }
      if (frame.opcode >= 0x8) {
        this.#control(frame.opcode, frame.payload, frame.fin);
        continue;
      }
      if (frame.opcode === opcodes.continuation ? this.#fragments.length === 0 : this.#fragments.length > 0) {
        this.#failProtocol(new WebSocketProtocolError('a continuation frame without a message to continue, or a new message inside a fragmented one'));
        return;
      }
      if (frame.opcode !== opcodes.continuation) {
        if (frame.opcode !== opcodes.text && frame.opcode !== opcodes.binary) {
          this.#failProtocol(new WebSocketProtocolError(`unknown opcode ${frame.opcode}`));
          return;
        }
        this.#fragmentBinary = frame.opcode === opcodes.binary;
      }
      this.#fragmentBytes += frame.payload.length;
      if (this.#fragmentBytes > this.#maxMessageBytes) {
        this.#failProtocol(new WebSocketProtocolError(`a message past the ${this.#maxMessageBytes}-byte limit`, 1009));
        return;
      }
      this.#fragments.push(frame.payload);
      if (!frame.fin) continue;
      const message = this.#fragments.length === 1 ? (this.#fragments[0] ?? Buffer.alloc(0)) : Buffer.concat(this.#fragments);
      this.#fragments = [];
      this.#fragmentBytes = 0;
      // Messages that arrive while we are closing are dropped: the owner has stopped listening.
      if (!this.#closeSent) this.#handlers.onMessage(message, this.#fragmentBinary);
    }
  }

  #control(opcode: number, payload: Buffer, fin: boolean): void {
    if (!fin || payload.length > 125) {
      this.#failProtocol(new WebSocketProtocolError('a control frame must be whole and at most 125 bytes'));
      return;
    }
    if (opcode === opcodes.ping) {
      if (!this.#closeSent) this.#socket.write(encodeFrame(opcodes.pong, payload));
    } else if (opcode === opcodes.close) {
      const code = payload.length >= 2 ? payload.readUInt16BE(0) : 1005;
      if (!this.#closeSent) {
        this.#closeSent = true;
        // Echo the client's code (RFC 6455 section 5.5.1); 1005 is never sent on the wire.
        this.#socket.write(encodeFrame(opcodes.close, code === 1005 ? Buffer.alloc(0) : closePayload(code, '')));
      }
      this.#socket.end();
      this.#finish(`the client closed the connection (code ${code})`);
    } else if (opcode !== opcodes.pong) {
      this.#failProtocol(new WebSocketProtocolError(`unknown control opcode ${opcode}`));
    }
  }

  #failProtocol(error: unknown): void {
    const code = error instanceof WebSocketProtocolError ? error.closeCode : 1002;
    const message = error instanceof Error ? error.message : String(error);
    if (!this.#closeSent) {
      this.#closeSent = true;
      this.#socket.write(encodeFrame(opcodes.close, closePayload(code, message)));
    }
    this.#socket.end();
    this.#finish(`protocol error: ${message}`);
  }

  #finish(reason: string): void {
    if (this.#closed) return;
    this.#closed = true;
    if (this.#closeTimer !== undefined) clearTimeout(this.#closeTimer);
    this.#handlers.onClosed(reason);
    if (!this.#socket.destroyed) {
      // Give the close frame a moment to leave, then let go of the socket.
      const timer = setTimeout(() => this.#socket.destroy(), this.#closeTimeoutMs);
      timer.unref();
      this.#socket.once('close', () => clearTimeout(timer));
    }
  }
}
