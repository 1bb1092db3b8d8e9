/** WebSocket opcodes (RFC 6455 section 5.2). */
export const opcodes = { continuation: 0x0, text: 0x1, binary: 0x2, close: 0x8, ping: 0x9, pong: 0xa } as const;

/** One decoded frame. */
export interface WebSocketFrame {
  readonly fin: boolean;
  readonly opcode: number;
  readonly masked: boolean;
  readonly payload: Buffer;
}

/** Why the bytes cannot be read as frames; the connection closes with `closeCode`. */
export class WebSocketProtocolError extends Error {
  readonly closeCode: number;
  constructor(message: string, closeCode = 1002) {
    super(message);
    this.name = 'WebSocketProtocolError';
    this.closeCode = closeCode;
  }
}

/**
 * Splits buffered bytes into whole frames, unmasking client payloads.
 * @throws WebSocketProtocolError when a frame declares more than `maxPayload` bytes
 */
export function decodeFrames(buffer: Buffer, maxPayload: number): { frames: WebSocketFrame[]; rest: Buffer } {
  const frames: WebSocketFrame[] = [];
  let offset = 0;
  while (buffer.length - offset >= 2) {
    const first = buffer[offset] ?? 0;
    const second = buffer[offset + 1] ?? 0;
    if ((first & 0x70) !== 0) throw new WebSocketProtocolError('reserved bits set without a negotiated extension');
    let length = second & 0x7f;
    let headerLength = 2;
    if (length === 126) {
      if (buffer.length - offset < 4) break;
      length = buffer.readUInt16BE(offset + 2);
      headerLength = 4;
    } else if (length === 127) {
      if (buffer.length - offset < 10) break;
      const long = buffer.readBigUInt64BE(offset + 2);
      if (long > BigInt(maxPayload)) throw new WebSocketProtocolError(`a frame of ${long} bytes is past the ${maxPayload}-byte limit`, 1009);
      length = Number(long);
      headerLength = 10;
    }
    if (length > maxPayload) throw new WebSocketProtocolError(`a frame of ${length} bytes is past the ${maxPayload}-byte limit`, 1009);
    const masked = (second & 0x80) !== 0;
    const start = offset + headerLength + (masked ? 4 : 0);
    if (buffer.length < start + length) break;
    const payload = Buffer.from(buffer.subarray(start, start + length));
    if (masked) {
      const mask = buffer.subarray(offset + headerLength, start);
      for (let index = 0; index < payload.length; index += 1) payload[index] = (payload[index] ?? 0) ^ (mask[index & 3] ?? 0);
    }
    frames.push({ fin: (first & 0x80) !== 0, opcode: first & 0x0f, masked, payload });
    offset = start + length;
  }
  return { frames, rest: buffer.subarray(offset) };
}

/** Encodes one unmasked, final server frame. */
export function encodeFrame(opcode: number, payload: Buffer): Buffer {
  const length = payload.length;
  let header: Buffer;
  if (length < 126) {
    header = Buffer.from([0x80 | opcode, length]);
  } else if (length < 65_536) {
    header = Buffer.alloc(4);
    header[0] = 0x80 | opcode;
    header[1] = 126;
    header.writeUInt16BE(length, 2);
  } else {
    header = Buffer.alloc(10);
    header[0] = 0x80 | opcode;
    header[1] = 127;
    header.writeBigUInt64BE(BigInt(length), 2);
  }
  return Buffer.concat([header, payload]);
}

/** A close frame's payload: the status code, then the reason in UTF-8 (cut to fit a control frame). */
export function closePayload(code: number, reason: string): Buffer {
  const payload = Buffer.alloc(2);
  payload.writeUInt16BE(code, 0);
  return Buffer.concat([payload, Buffer.from(reason, 'utf8').subarray(0, 123)]);
}
