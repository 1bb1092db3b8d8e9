import { TarFormatError } from './image-errors.js';

/** What a tar entry is. */
export type TarEntryType = 'file' | 'hardlink' | 'symlink' | 'char-device' | 'block-device' | 'directory' | 'fifo' | 'other';

/** One entry's header, with pax and GNU long-name overrides applied. */
export interface TarEntry {
  readonly path: string;
  readonly type: TarEntryType;
  /** The raw type flag, for messages about `other` entries. */
  readonly typeFlag: string;
  readonly mode: number;
  readonly uid: number;
  readonly gid: number;
  readonly size: number;
  /** Seconds since the epoch; pax gives fractions. */
  readonly mtime: number;
  readonly linkName: string;
  readonly devMajor: number;
  readonly devMinor: number;
  /** pax `SCHILY.xattr.*` records. */
  readonly xattrs: Readonly<Record<string, string>>;
}

const blockSize = 512;
const maxMetadataBytes = 1 << 20;

const typeByFlag: Readonly<Record<string, TarEntryType>> = {
  '0': 'file',
  '\0': 'file',
  '7': 'file',
  '1': 'hardlink',
  '2': 'symlink',
  '3': 'char-device',
  '4': 'block-device',
  '5': 'directory',
  '6': 'fifo',
};

/** Buffers an async byte source so exact-length reads are possible. */
class ByteReader {
  readonly #iterator: AsyncIterator<Buffer>;
  #buffer: Buffer = Buffer.alloc(0);
  #ended = false;

  constructor(source: AsyncIterable<Buffer>) {
    this.#iterator = source[Symbol.asyncIterator]();
  }

  async #fill(wanted: number): Promise<void> {
    while (this.#buffer.length < wanted && !this.#ended) {
      const next = await this.#iterator.next();
      if (next.done === true) this.#ended = true;
      else this.#buffer = this.#buffer.length === 0 ? next.value : Buffer.concat([this.#buffer, next.value]);
    }
  }

  /** Exactly `length` bytes, or fewer only at the end of the source. */
  async read(length: number): Promise<Buffer> {
    await this.#fill(length);
    const out = this.#buffer.subarray(0, length);
    this.#buffer = this.#buffer.subarray(out.length);
    return out;
  }

  /** Up to `length` bytes as they arrive, without holding them all. */
  async *chunks(length: number): AsyncGenerator<Buffer> {
    let left = length;
    while (left > 0) {
      if (this.#buffer.length === 0) await this.#fill(1);
      if (this.#buffer.length === 0) throw new TarFormatError(`unexpected end of archive: ${left} bytes of an entry missing`);
      const out = this.#buffer.subarray(0, Math.min(left, this.#buffer.length));
      this.#buffer = this.#buffer.subarray(out.length);
      left -= out.length;
      yield out;
    }
  }

  /** Reads and drops everything left. */
  async drain(): Promise<void> {
    this.#buffer = Buffer.alloc(0);
    while (!this.#ended) {
      const next = await this.#iterator.next();
      if (next.done === true) this.#ended = true;
    }
  }
}

/**
 * A streaming reader of tar archives: POSIX ustar, pax extended headers
 * (`x` and global `g`), GNU long names (`L`, `K`) and base-256 numbers.
 * Malformed input raises {@link TarFormatError}; nothing is held in memory
 * beyond one entry's metadata. Call {@link next} for each header and, in
 * between, optionally read the entry's data with {@link body}.
 */
export class TarReader {
  readonly #reader: ByteReader;
  #unread = 0; // data bytes of the current entry not yet read, plus its padding
  #globals: Record<string, string> = {};
  #done = false;

  constructor(source: AsyncIterable<Buffer>) {
    this.#reader = new ByteReader(source);
  }

  /** The next entry, or undefined at the end of the archive. Skips any unread data of the previous entry. */
  async next(): Promise<TarEntry | undefined> {
    if (this.#done) return undefined;
    await this.#skipUnread();
    let pax: Record<string, string> = {};
    let longName: string | undefined;
    let longLink: string | undefined;
    for (;;) {
      const header = await this.#reader.read(blockSize);
      if (header.length === 0) {
        // No end-of-archive blocks at all: tolerated, as GNU tar does with a warning.
        this.#done = true;
        return undefined;
      }
      if (header.length < blockSize) throw new TarFormatError(`unexpected end of archive inside a header (${header.length} of 512 bytes)`);
      if (header.every((byte) => byte === 0)) {
        await this.#reader.read(blockSize); // the second zero block, if present
        this.#done = true;
        return undefined;
      }
      verifyChecksum(header);
      const flag = String.fromCharCode(header[156]!);
      const size = parseNumber(header, 124, 12, 'size');
      if (flag === 'x' || flag === 'g' || flag === 'L' || flag === 'K') {
        if (size > maxMetadataBytes) throw new TarFormatError(`${flag} metadata entry of ${size} bytes is larger than ${maxMetadataBytes}`);
        const data = await this.#readData(size);
        if (flag === 'x') pax = { ...pax, ...parsePaxRecords(data) };
        else if (flag === 'g') this.#globals = { ...this.#globals, ...parsePaxRecords(data) };
        else if (flag === 'L') longName = cString(data);
        else longLink = cString(data);
        continue;
      }
      if (flag === 'S') throw new TarFormatError('GNU sparse files are not supported');
      const records = { ...this.#globals, ...pax };
      const entry = buildEntry(header, flag, size, records, longName, longLink);
      // Only files (and unknown types, read as files) carry data; a hard link's size field is ignored.
      const dataSize = entry.type === 'file' || entry.type === 'other' ? entry.size : 0;
      this.#unread = dataSize === 0 ? 0 : roundUp(dataSize);
      this.#dataLeft = dataSize;
      return entry;
    }
  }

  #dataLeft = 0;

  /** The current entry's data, streamed. Reading it is optional; {@link next} skips what is left. */
  async *body(): AsyncGenerator<Buffer> {
    const length = this.#dataLeft;
    this.#dataLeft = 0;
    for await (const chunk of this.#reader.chunks(length)) {
      this.#unread -= chunk.length;
      yield chunk;
    }
  }

  /** Consumes the rest of the source (padding after the archive counts toward a layer's diff ID). */
  async drain(): Promise<void> {
    await this.#reader.drain();
  }

  async #skipUnread(): Promise<void> {
    if (this.#unread > 0) {
      for await (const chunk of this.#reader.chunks(this.#unread)) void chunk;
    }
    this.#unread = 0;
    this.#dataLeft = 0;
  }

  async #readData(size: number): Promise<Buffer> {
    const padded = roundUp(size);
    const data = await this.#reader.read(padded);
    if (data.length < padded) throw new TarFormatError('unexpected end of archive inside a metadata entry');
    return data.subarray(0, size);
  }
}

function roundUp(size: number): number {
  return Math.ceil(size / blockSize) * blockSize;
}

function verifyChecksum(header: Buffer): void {
  const stored = parseNumber(header, 148, 8, 'checksum');
  let unsigned = 0;
  let signed = 0;
  for (let index = 0; index < blockSize; index += 1) {
    const byte = index >= 148 && index < 156 ? 0x20 : header[index]!;
    unsigned += byte;
    signed += byte > 127 ? byte - 256 : byte;
  }
  if (stored !== unsigned && stored !== signed) throw new TarFormatError(`header checksum mismatch (stored ${stored}, computed ${unsigned})`);
}

/** Reads an octal field, or GNU base-256 when the high bit of its first byte is set. */
function parseNumber(header: Buffer, offset: number, length: number, field: string): number {
  const bytes = header.subarray(offset, offset + length);
  if ((bytes[0]! & 0x80) !== 0) {
    if ((bytes[0]! & 0x40) !== 0) throw new TarFormatError(`negative base-256 ${field} field`);
    let value = BigInt(bytes[0]! & 0x3f);
    for (const byte of bytes.subarray(1)) value = (value << 8n) | BigInt(byte);
    if (value > BigInt(Number.MAX_SAFE_INTEGER)) throw new TarFormatError(`${field} field too large`);
    return Number(value);
  }
  const text = bytes.toString('latin1').replace(/\0.*$/s, '').trim();
  if (text === '') return 0;
  if (!/^[0-7]+$/.test(text)) throw new TarFormatError(`${field} field ${JSON.stringify(text)} is not octal`);
  return parseInt(text, 8);
}

function cString(bytes: Buffer): string {
  const end = bytes.indexOf(0);
  return bytes.subarray(0, end < 0 ? bytes.length : end).toString('utf8');
}

/** Parses pax records: `<length> <key>=<value>\n`, the length counting the whole record. */
export function parsePaxRecords(data: Buffer): Record<string, string> {
  const records: Record<string, string> = {};
  let offset = 0;
  while (offset < data.length) {
    if (data[offset] === 0) break; // padding some writers leave
    const space = data.indexOf(0x20, offset);
    if (space < 0) throw new TarFormatError('pax record without a length');
    const lengthText = data.subarray(offset, space).toString('latin1');
    if (!/^[0-9]+$/.test(lengthText)) throw new TarFormatError(`pax record length ${JSON.stringify(lengthText)} is not a number`);
    const length = parseInt(lengthText, 10);
    const end = offset + length;
    if (length <= space - offset + 1 || end > data.length || data[end - 1] !== 0x0a) throw new TarFormatError('pax record length does not match its content');
    const record = data.subarray(space + 1, end - 1);
    const equals = record.indexOf(0x3d);
    if (equals <= 0) throw new TarFormatError('pax record without a key');
    records[record.subarray(0, equals).toString('utf8')] = record.subarray(equals + 1).toString('utf8');
    offset = end;
  }
  return records;
}

function buildEntry(
  header: Buffer,
  flag: string,
  headerSize: number,
  pax: Readonly<Record<string, string>>,
  longName: string | undefined,
  longLink: string | undefined,
): TarEntry {
  const magic = header.subarray(257, 263).toString('latin1');
  const isUstar = magic === 'ustar\0';
  let name = cString(header.subarray(0, 100));
  if (isUstar) {
    const prefix = cString(header.subarray(345, 500));
    if (prefix !== '') name = `${prefix}/${name}`;
  }
  if (longName !== undefined) name = longName;
  if (pax.path !== undefined) name = pax.path;
  let linkName = longLink ?? cString(header.subarray(157, 257));
  if (pax.linkpath !== undefined) linkName = pax.linkpath;
  if (name === '') throw new TarFormatError('entry with an empty name');
  const paxNumber = (key: string, fallback: number): number => {
    const text = pax[key];
    if (text === undefined) return fallback;
    const value = Number(text);
    if (!Number.isFinite(value) || value < 0) throw new TarFormatError(`pax ${key} ${JSON.stringify(text)} is not a number`);
    return value;
  };
  let type = typeByFlag[flag] ?? 'other';
  // Old (pre-POSIX) archives mark directories by a trailing slash on a regular file.
  if (type === 'file' && flag === '\0' && name.endsWith('/')) type = 'directory';
  const xattrs: Record<string, string> = {};
  for (const [key, value] of Object.entries(pax)) {
    if (key.startsWith('SCHILY.xattr.')) xattrs[key.slice('SCHILY.xattr.'.length)] = value;
  }
  const size = Math.trunc(paxNumber('size', headerSize));
  if (!Number.isSafeInteger(size)) throw new TarFormatError(`entry ${JSON.stringify(name)} has an unusable size`);
  return {
    path: name,
    type,
    typeFlag: flag,
    mode: parseNumber(header, 100, 8, 'mode') & 0o7777,
    uid: Math.trunc(paxNumber('uid', parseNumber(header, 108, 8, 'uid'))),
    gid: Math.trunc(paxNumber('gid', parseNumber(header, 116, 8, 'gid'))),
    size,
    mtime: paxNumber('mtime', parseNumber(header, 136, 12, 'mtime')),
    linkName,
    devMajor: isUstar || magic === 'ustar ' ? parseNumber(header, 329, 8, 'devmajor') : 0,
    devMinor: isUstar || magic === 'ustar ' ? parseNumber(header, 337, 8, 'devminor') : 0,
    xattrs,
  };
}
