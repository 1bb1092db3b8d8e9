/**
 * The wire format between cni-exec-shim.c and the CNI node agent: one call
 * per connection, big-endian u32 lengths, strings as (u32 length, bytes).
 *
 * request:  "KPCNIA01" | plugin type | caller pid (u32) | env count (u32) |
 *           that many "KEY=VALUE" strings | stdin, then the shim shuts down
 *           its sending side, so the agent decodes once, at end of stream
 * response: exit status (u32) | stdout | stderr
 */

/** One CNI call as the shim hands it over. */
export interface AgentRequest {
  readonly pluginType: string;
  readonly callerPid: number;
  readonly env: Readonly<Record<string, string>>;
  readonly stdin: string;
}

/** What the shim prints and exits with. */
export interface AgentResponse {
  readonly exitCode: number;
  readonly stdout: string;
  readonly stderr: string;
}

/** A request that breaks the wire format; the agent drops the connection. */
export class AgentProtocolError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'AgentProtocolError';
  }
}

export const requestMagic = Buffer.from('KPCNIA01', 'latin1');
// A network configuration is a few KiB; these bounds only stop a broken client from exhausting memory.
const maxStringBytes = 16 * 1024 * 1024;
const maxEnvEntries = 4096;

/** Decodes a whole request; throws AgentProtocolError on anything else. */
export function decodeRequest(bytes: Buffer): AgentRequest {
  const reader = new FrameReader(bytes);
  if (!reader.bytes(requestMagic.length).equals(requestMagic)) fail('not a kubeplug CNI shim request');
  const pluginType = reader.string();
  const callerPid = reader.u32();
  const envCount = reader.u32();
  if (envCount > maxEnvEntries) fail(`${envCount} environment entries`);
  const env: Record<string, string> = {};
  for (let index = 0; index < envCount; index += 1) {
    const entry = reader.string();
    const equals = entry.indexOf('=');
    // An entry without "=" is no variable; getenv would not see it either.
    if (equals > 0) env[entry.slice(0, equals)] = entry.slice(equals + 1);
  }
  const stdin = reader.string();
  if (reader.remaining() > 0) fail('bytes after the end of the request');
  return { pluginType, callerPid, env, stdin };
}

/** Encodes the agent's answer. */
export function encodeResponse(response: AgentResponse): Buffer {
  const status = Buffer.alloc(4);
  status.writeUInt32BE(response.exitCode >>> 0);
  return Buffer.concat([status, encodeString(response.stdout), encodeString(response.stderr)]);
}

/** Encodes a request as the shim does (the tests drive the agent with it). */
export function encodeRequest(request: AgentRequest): Buffer {
  const numbers = Buffer.alloc(8);
  numbers.writeUInt32BE(request.callerPid >>> 0, 0);
  const entries = Object.entries(request.env);
  numbers.writeUInt32BE(entries.length, 4);
  return Buffer.concat([
    requestMagic,
    encodeString(request.pluginType),
    numbers,
    ...entries.map(([key, value]) => encodeString(`${key}=${value}`)),
    encodeString(request.stdin),
  ]);
}

/** Decodes a whole response (for tests and clients written in TypeScript). */
export function decodeResponse(bytes: Buffer): AgentResponse {
  const reader = new FrameReader(bytes);
  const exitCode = reader.u32();
  const stdout = reader.string();
  const stderr = reader.string();
  return { exitCode, stdout, stderr };
}

function encodeString(text: string): Buffer {
  const body = Buffer.from(text, 'utf8');
  const length = Buffer.alloc(4);
  length.writeUInt32BE(body.length);
  return Buffer.concat([length, body]);
}

function fail(message: string): never {
  throw new AgentProtocolError(message);
}

/** Reads fields off a buffer; a read past its end is a truncated frame. */
class FrameReader {
  #offset = 0;
  readonly #bytes: Buffer;

  constructor(bytes: Buffer) {
    this.#bytes = bytes;
  }

  remaining(): number {
    return this.#bytes.length - this.#offset;
  }

  bytes(length: number): Buffer {
    if (this.remaining() < length) fail('truncated frame');
    const slice = this.#bytes.subarray(this.#offset, this.#offset + length);
    this.#offset += length;
    return slice;
  }

  u32(): number {
    return this.bytes(4).readUInt32BE();
  }

  string(): string {
    const length = this.u32();
    if (length > maxStringBytes) fail(`a field of ${length} bytes`);
    return this.bytes(length).toString('utf8');
  }
}
