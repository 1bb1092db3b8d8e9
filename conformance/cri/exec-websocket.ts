/**
 * The client side of the kubelet's WebSocket streaming protocol, as far as
 * the suite needs it to follow a URL from Exec or PortForward: an RFC 6455
 * handshake offering `v4.channel.k8s.io`, then binary messages whose first
 * byte names a channel (exec: 1 stdout, 2 stderr, 3 status; port forward:
 * 0 data, 1 error, each opening with the port as two little-endian bytes).
 * @see kubernetes/kubernetes staging/src/k8s.io/apiserver/pkg/util/wsstream/conn.go
 */
import { createHash, randomBytes } from 'node:crypto';
import http from 'node:http';
import https from 'node:https';
import type { Socket } from 'node:net';

/** The channel protocol the kubelet's streaming server speaks for exec, attach and port forward. */
export const channelProtocol = 'v4.channel.k8s.io';

/** A WebSocket message: its opcode and payload. */
interface Frame {
  readonly opcode: number;
  readonly payload: Buffer;
}

/** What a streaming session delivered, by channel, until the server closed it. */
export interface ChannelSession {
  /** Bytes received per channel, message contents without the channel byte, concatenated. */
  readonly channels: ReadonlyMap<number, Buffer>;
  /** Why the session ended: `closed` by the server, or an error message. */
  readonly ended: string;
}

/** Opens a WebSocket on `url` with the channel protocol; rejects when the server refuses the upgrade. */
export function openChannelSocket(url: string, timeoutMs: number): Promise<{ socket: Socket; head: Buffer; protocol: string }> {
  const key = randomBytes(16).toString('base64');
  const target = new URL(url);
  const get = target.protocol === 'https:' ? https.request : http.request;
  return new Promise((resolve, reject) => {
    const request = get(target, {
      method: 'GET',
      headers: {
        Connection: 'Upgrade',
        Upgrade: 'websocket',
        'Sec-WebSocket-Version': '13',
        'Sec-WebSocket-Key': key,
        'Sec-WebSocket-Protocol': channelProtocol,
      },
      timeout: timeoutMs,
      // A runtime's streaming server usually has a self-signed certificate; the suite checks the protocol, not the PKI.
      ...(target.protocol === 'https:' ? { rejectUnauthorized: false } : {}),
    });
    request.on('upgrade', (response, socket, head) => {
      const accept = createHash('sha1').update(`${key}258EAFA5-E914-47DA-95CA-C5AB0DC85B11`).digest('base64');
      if (response.headers['sec-websocket-accept'] !== accept) {
        socket.destroy();
        reject(new Error('the server answered the upgrade without the right Sec-WebSocket-Accept'));
        return;
      }
      resolve({ socket, head, protocol: String(response.headers['sec-websocket-protocol'] ?? '') });
    });
    request.on('response', (response) => {
      reject(new Error(`the server refused the WebSocket upgrade: HTTP ${response.statusCode ?? '?'}`));
      response.resume();
    });
    request.on('timeout', () => request.destroy(new Error(`no upgrade within ${timeoutMs} ms`)));
    request.on('error', reject);
    request.end();
  });
}

/** Encodes one client frame (clients must mask). */
function clientFrame(opcode: number, payload: Buffer): Buffer {
  const mask = randomBytes(4);
  const length = payload.length;
  const header = length < 126 ? Buffer.from([0x80 | opcode, 0x80 | length]) : length < 65_536 ? Buffer.alloc(4) : Buffer.alloc(10);
  if (length >= 126 && length < 65_536) {
    header[0] = 0x80 | opcode;
    header[1] = 0x80 | 126;
    header.writeUInt16BE(length, 2);
  } else if (length >= 65_536) {
    header[0] = 0x80 | opcode;
    header[1] = 0x80 | 127;
    header.writeBigUInt64BE(BigInt(length), 2);
  }
  const masked = Buffer.alloc(length);
  for (let index = 0; index < length; index += 1) masked[index] = (payload[index] ?? 0) ^ (mask[index % 4] ?? 0);
  return Buffer.concat([header, mask, masked]);
}

/** Splits the buffered bytes into whole frames; returns them and what is left over. */
function takeFrames(buffer: Buffer): { frames: Frame[]; rest: Buffer } {
  const frames: Frame[] = [];
  let offset = 0;
  for (;;) {
    if (buffer.length - offset < 2) break;
    const first = buffer[offset] ?? 0;
    const second = buffer[offset + 1] ?? 0;
    let length = second & 0x7f;
    let headerLength = 2;
    if (length === 126) {
      if (buffer.length - offset < 4) break;
      length = buffer.readUInt16BE(offset + 2);
      headerLength = 4;
    } else if (length === 127) {
      if (buffer.length - offset < 10) break;
      length = Number(buffer.readBigUInt64BE(offset + 2));
      headerLength = 10;
    }
    const masked = (second & 0x80) !== 0;
    const maskLength = masked ? 4 : 0;
    if (buffer.length - offset < headerLength + maskLength + length) break;
    const start = offset + headerLength + maskLength;
    let payload = Buffer.from(buffer.subarray(start, start + length));
    if (masked) {
      const mask = buffer.subarray(offset + headerLength, offset + headerLength + 4);
      payload = Buffer.from(payload.map((byte, index) => byte ^ (mask[index % 4] ?? 0)));
    }
    frames.push({ opcode: first & 0x0f, payload });
    offset = start + length;
  }
  return { frames, rest: buffer.subarray(offset) };
}

/**
 * Reads channel messages until the server closes the connection or
 * `timeoutMs` passes; `onOpen` may send messages first (with {@link sendOnChannel}).
 */
export function readChannels(
  opened: { socket: Socket; head: Buffer },
  timeoutMs: number,
  onMessage?: (channel: number, data: Buffer, socket: Socket) => void,
): Promise<ChannelSession> {
  const { socket } = opened;
  const channels = new Map<number, Buffer>();
  let buffered = Buffer.from(opened.head);
  let fragments: Buffer[] = [];
  return new Promise((resolve) => {
    let done = false;
    const finish = (ended: string): void => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      socket.destroy();
      resolve({ channels, ended });
    };
    const timer = setTimeout(() => finish(`no close from the server within ${timeoutMs} ms`), timeoutMs);
    const consume = (): void => {
      const { frames, rest } = takeFrames(buffered);
      buffered = Buffer.from(rest);
      for (const frame of frames) {
        if (frame.opcode === 0x8) {
          socket.write(clientFrame(0x8, Buffer.alloc(0)));
          finish('closed');
          return;
        }
        if (frame.opcode === 0x9) {
          socket.write(clientFrame(0xa, frame.payload));
          continue;
        }
        if (frame.opcode === 0x0 || frame.opcode === 0x1 || frame.opcode === 0x2) {
          fragments.push(frame.payload);
          // The kubelet's server sends whole messages; continuation frames are joined all the same.
          const message = Buffer.concat(fragments);
          fragments = [];
          if (message.length === 0) continue;
          const channel = message[0] ?? 0;
          const data = message.subarray(1);
          channels.set(channel, Buffer.concat([channels.get(channel) ?? Buffer.alloc(0), data]));
          onMessage?.(channel, data, socket);
        }
      }
    };
    socket.on('data', (chunk: Buffer) => {
      buffered = Buffer.concat([buffered, chunk]);
      consume();
    });
    socket.on('end', () => finish('closed'));
    socket.on('close', () => finish('closed'));
    socket.on('error', (error) => finish(error.message));
    consume();
  });
}

/** Sends `data` on `channel` as one binary message. */
export function sendOnChannel(socket: Socket, channel: number, data: Buffer): void {
  socket.write(clientFrame(0x2, Buffer.concat([Buffer.from([channel]), data])));
}
