import { gzipSync } from 'node:zlib';

/**
 * The modification time every entry gets unless it names its own, so the same
 * entries always make the same bytes and the same digests (2024-01-01T00:00:00Z).
 */
export const fixedTarMtime = 1_704_067_200;

/** Fields every kind of tar entry shares. */
interface TarEntryBase {
  /**
   * The name written into the archive as given: no normalisation, so hostile
   * names (`../escape`, `/abs`) reach the reader untouched.
   */
  readonly path: string;
  /** Permission bits (with setuid/setgid/sticky); a default per kind when unset. */
  readonly mode?: number;
  /** Owner ids; 0 (root) when unset. */
  readonly uid?: number;
  readonly gid?: number;
  /** Seconds since the epoch; {@link fixedTarMtime} when unset. */
  readonly mtime?: number;
}

/** A regular file with its whole content. */
export interface TarFileEntry extends TarEntryBase {
  readonly type: 'file';
  readonly content: Buffer | string;
}

/** A directory. */
export interface TarDirectoryEntry extends TarEntryBase {
  readonly type: 'dir';
}

/** A symbolic link; `target` is written verbatim and may point anywhere. */
export interface TarSymlinkEntry extends TarEntryBase {
  readonly type: 'symlink';
  readonly target: string;
}

/** A hard link to an entry named earlier in the archive (or a hostile name). */
export interface TarHardlinkEntry extends TarEntryBase {
  readonly type: 'hardlink';
  readonly target: string;
}

/** One entry of a tar archive. */
export type TarEntry = TarFileEntry | TarDirectoryEntry | TarSymlinkEntry | TarHardlinkEntry;

/** The ustar type flag of each entry kind. @see POSIX pax "ustar Interchange Format" */
const typeFlags = { file: '0', hardlink: '1', symlink: '2', dir: '5' } as const satisfies Record<TarEntry['type'], string>;

const defaultModes = { file: 0o644, hardlink: 0o644, symlink: 0o777, dir: 0o755 } as const satisfies Record<TarEntry['type'], number>;

const blockSize = 512;

/** Writes `value` as a NUL-terminated, zero-padded octal number filling `width` bytes. */
function writeOctal(header: Buffer, offset: number, width: number, value: number): void {
  const digits = value.toString(8).padStart(width - 1, '0');
  if (digits.length > width - 1) throw new RangeError(`tar header value ${value} does not fit in ${width} bytes`);
  header.write(digits, offset, width - 1, 'ascii');
  header[offset + width - 1] = 0;
}

/** Writes `text` into a fixed-width field; the caller has checked it fits. */
function writeField(header: Buffer, offset: number, width: number, text: string): void {
  const bytes = Buffer.from(text, 'utf8');
  if (bytes.length > width) throw new RangeError(`tar header field "${text}" is longer than ${width} bytes`);
  bytes.copy(header, offset);
}

/**
 * Splits a long name into ustar's prefix (155 bytes) and name (100 bytes) at a
 * slash, or returns undefined when no split fits and a pax record is needed.
 */
function splitUstarName(name: string): { prefix: string; name: string } | undefined {
  if (Buffer.byteLength(name) <= 100) return { prefix: '', name };
  for (let at = name.indexOf('/'); at >= 0; at = name.indexOf('/', at + 1)) {
    const prefix = name.slice(0, at);
    const rest = name.slice(at + 1);
    if (Buffer.byteLength(prefix) <= 155 && Buffer.byteLength(rest) <= 100 && rest.length > 0) return { prefix, name: rest };
  }
  return undefined;
}

interface HeaderFields {
  readonly name: string;
  readonly prefix: string;
  readonly mode: number;
  readonly uid: number;
  readonly gid: number;
  readonly size: number;
  readonly mtime: number;
  readonly typeFlag: string;
  readonly linkName: string;
}

/** One 512-byte ustar header with its checksum. */
function ustarHeader(fields: HeaderFields): Buffer {
  const header = Buffer.alloc(blockSize);
  writeField(header, 0, 100, fields.name);
  writeOctal(header, 100, 8, fields.mode);
  writeOctal(header, 108, 8, fields.uid);
  writeOctal(header, 116, 8, fields.gid);
  writeOctal(header, 124, 12, fields.size);
  writeOctal(header, 136, 12, fields.mtime);
  header.fill(0x20, 148, 156); // the checksum is computed with its own field read as spaces
  header.write(fields.typeFlag, 156, 1, 'ascii');
  writeField(header, 157, 100, fields.linkName);
  header.write('ustar\u000000', 257, 8, 'ascii');
  writeField(header, 265, 32, fields.uid === 0 ? 'root' : '');
  writeField(header, 297, 32, fields.gid === 0 ? 'root' : '');
  writeField(header, 345, 155, fields.prefix);
  let sum = 0;
  for (const byte of header) sum += byte;
  header.write(`${sum.toString(8).padStart(6, '0')}\u0000 `, 148, 8, 'ascii');
  return header;
}

/** Pads `data` with zeros to a whole number of blocks. */
function padToBlock(data: Buffer): Buffer {
  const rest = data.length % blockSize;
  return rest === 0 ? data : Buffer.concat([data, Buffer.alloc(blockSize - rest)]);
}

/** The last 100 characters of a name with anything outside printable ASCII replaced, so it fits a 100-byte field. */
function asciiTail(name: string): string {
  return name.replace(/[^\x20-\x7e]/g, '_').slice(-100);
}

/** One pax extended header record: `<length> <key>=<value>\n`, the length counting itself. */
function paxRecord(key: string, value: string): string {
  const body = ` ${key}=${value}\n`;
  const bodyLength = Buffer.byteLength(body);
  let digits = 1;
  while (String(bodyLength + digits).length !== digits) digits += 1;
  const total = bodyLength + digits;
  return `${total}${body}`;
}

/** The blocks of one entry: a pax header when a name does not fit ustar, then the header and data. */
function entryBlocks(entry: TarEntry): Buffer[] {
  const content = entry.type === 'file' ? Buffer.from(entry.content) : Buffer.alloc(0);
  const linkName = entry.type === 'symlink' || entry.type === 'hardlink' ? entry.target : '';
  const mtime = entry.mtime ?? fixedTarMtime;
  const uid = entry.uid ?? 0;
  const gid = entry.gid ?? 0;
  const blocks: Buffer[] = [];
  const split = splitUstarName(entry.path);
  const linkFits = Buffer.byteLength(linkName) <= 100;
  if (split === undefined || !linkFits) {
    let records = '';
    if (split === undefined) records += paxRecord('path', entry.path);
    if (!linkFits) records += paxRecord('linkpath', linkName);
    const data = Buffer.from(records, 'utf8');
    blocks.push(
      ustarHeader({ name: 'PaxHeaders/entry', prefix: '', mode: 0o644, uid: 0, gid: 0, size: data.length, mtime, typeFlag: 'x', linkName: '' }),
      padToBlock(data),
    );
  }
  // A reader without pax support sees a shortened printable-ASCII name: wrong, but never an overflowing field.
  const ustarName = split ?? { prefix: '', name: asciiTail(entry.path) };
  blocks.push(
    ustarHeader({
      name: ustarName.name,
      prefix: ustarName.prefix,
      mode: entry.mode ?? defaultModes[entry.type],
      uid,
      gid,
      size: content.length,
      mtime,
      typeFlag: typeFlags[entry.type],
      linkName: linkFits ? linkName : asciiTail(linkName),
    }),
  );
  if (content.length > 0) blocks.push(padToBlock(content));
  return blocks;
}

/**
 * Writes the entries, in the order given, as an uncompressed ustar archive
 * (pax records only for names past ustar's limits), ended by two zero blocks.
 * Equal entries always give equal bytes.
 */
export function writeTar(entries: readonly TarEntry[]): Buffer {
  const blocks = entries.flatMap(entryBlocks);
  blocks.push(Buffer.alloc(blockSize * 2));
  return Buffer.concat(blocks);
}

/**
 * Gzips an archive with a fixed level; node:zlib writes no name and a zero
 * time into the gzip header, so the output is reproducible.
 */
export function gzipTar(tar: Buffer): Buffer {
  return gzipSync(tar, { level: 6 });
}
