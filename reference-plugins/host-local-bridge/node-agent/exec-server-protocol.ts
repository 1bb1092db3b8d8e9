import type { LaunchOutcome, LaunchRequest } from '../bridge/command-launcher.js';

/**
 * The wire format of netns-exec-server.c: one command per connection,
 * big-endian u32 lengths and counts, strings as (u32 length, bytes).
 *
 * request:  "KPNSX001" | netns ("" for the server's own) | PATH |
 *           sysctl count | (file, value)… | argc | arg… | stdin,
 *           then the client ends its sending side
 * response: "KPNSX001" | outcome (0 exited, 1 killed by a signal, 2 not run)
 *           | value (exit status, signal number or errno) | stdout | stderr
 */
const magic = Buffer.from('KPNSX001', 'latin1');

/**
 * A lock request holds its connection open: "KPNSL001" | file | wait
 * seconds; answer "KPNSL001" | outcome (0 held, 1 wait expired, 2 failed) |
 * errno. The server's worker holds the flock(2) until the connection closes.
 */
export const lockMagic = Buffer.from('KPNSL001', 'latin1');
export const lockAnswerBytes = lockMagic.length + 8;

/** Encodes a lock request. */
export function encodeLockRequest(file: string, waitSeconds: number): Buffer {
  const name = Buffer.from(file, 'utf8');
  const header = Buffer.alloc(4);
  header.writeUInt32BE(name.length);
  const wait = Buffer.alloc(4);
  wait.writeUInt32BE(Math.max(0, Math.ceil(waitSeconds)));
  return Buffer.concat([lockMagic, header, name, wait]);
}

/** Encodes one command for the exec server. */
export function encodeExecRequest(request: LaunchRequest): Buffer {
  const parts: Buffer[] = [magic];
  const u32 = (value: number): void => {
    const bytes = Buffer.alloc(4);
    bytes.writeUInt32BE(value);
    parts.push(bytes);
  };
  const string = (text: string): void => {
    const bytes = Buffer.from(text, 'utf8');
    u32(bytes.length);
    parts.push(bytes);
  };
  string(request.netns ?? '');
  string(request.path);
  const sysctls = request.sysctls ?? [];
  u32(sysctls.length);
  for (const { path, value } of sysctls) {
    string(path);
    string(value);
  }
  u32(request.argv.length);
  for (const arg of request.argv) string(arg);
  string(request.input ?? '');
  return Buffer.concat(parts);
}

/** Decodes the server's answer; undefined when it is cut short or malformed (the server's worker died). */
export function decodeExecResponse(bytes: Buffer): LaunchOutcome | undefined {
  let offset = 0;
  const u32 = (): number | undefined => {
    if (offset + 4 > bytes.length) return undefined;
    const value = bytes.readUInt32BE(offset);
    offset += 4;
    return value;
  };
  const string = (): string | undefined => {
    const length = u32();
    if (length === undefined || offset + length > bytes.length) return undefined;
    const text = bytes.toString('utf8', offset, offset + length);
    offset += length;
    return text;
  };
  if (bytes.length < magic.length || !bytes.subarray(0, magic.length).equals(magic)) return undefined;
  offset = magic.length;
  const outcome = u32();
  const value = u32();
  const stdout = string();
  const stderr = string();
  if (outcome === undefined || value === undefined || stdout === undefined || stderr === undefined || offset !== bytes.length) return undefined;
  if (outcome === 0) return { exitCode: value, stdout, stderr };
  if (outcome === 1) return { exitCode: null, stdout, stderr: `${stderr}killed by signal ${value}\n` };
  return { exitCode: null, stdout, stderr };
}
