/**
 * The wire format of mount-server.c (see its header comment): requests and
 * answers framed by big-endian u32 lengths, strings as (u32 length, bytes).
 */

/** Operation numbers, as mount-server.c numbers them. */
export const mountServerOps = { mount: 1, umount: 2, loopAttach: 3, loopDetach: 4, exec: 5 } as const;

/** One of {@link mountServerOps}. */
export type MountServerOp = keyof typeof mountServerOps;

/** A decoded answer: its request id, status (errno, or exit status for exec) and text. */
export interface MountServerAnswer {
  readonly id: number;
  readonly status: number;
  readonly text: string;
}

/** Encodes one request. Strings with NUL are the caller's bug: the server refuses them with EINVAL. */
export function encodeMountServerRequest(id: number, op: MountServerOp, args: readonly string[]): Buffer {
  const strings = args.map((arg) => Buffer.from(arg, 'utf8'));
  const length = 12 + strings.reduce((sum, bytes) => sum + 4 + bytes.length, 0);
  const out = Buffer.alloc(4 + length);
  let offset = out.writeUInt32BE(length, 0);
  offset = out.writeUInt32BE(id, offset);
  offset = out.writeUInt32BE(mountServerOps[op], offset);
  offset = out.writeUInt32BE(strings.length, offset);
  for (const bytes of strings) {
    offset = out.writeUInt32BE(bytes.length, offset);
    offset += bytes.copy(out, offset);
  }
  return out;
}

/**
 * Takes every whole answer off the front of `pending`; returns them and the
 * bytes left over (an answer not yet complete). Throws when the stream is
 * not the server's format, which only a broken server can cause.
 */
export function decodeMountServerAnswers(pending: Buffer): { answers: MountServerAnswer[]; rest: Buffer } {
  const answers: MountServerAnswer[] = [];
  let offset = 0;
  while (pending.length - offset >= 4) {
    const length = pending.readUInt32BE(offset);
    if (length < 12) throw new Error(`mount server answer of ${length} bytes is malformed`);
    if (pending.length - offset - 4 < length) break;
    const body = pending.subarray(offset + 4, offset + 4 + length);
    const textLength = body.readUInt32BE(8);
    if (textLength !== length - 12) throw new Error('mount server answer has a wrong text length');
    answers.push({ id: body.readUInt32BE(0), status: body.readInt32BE(4), text: body.toString('utf8', 12) });
    offset += 4 + length;
  }
  return { answers, rest: pending.subarray(offset) };
}
