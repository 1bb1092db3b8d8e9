import { execFile } from 'node:child_process';
import crypto from 'node:crypto';
import { constants as fsConstants, type Stats } from 'node:fs';
import fs from 'node:fs/promises';
import path from 'node:path';
import { Readable } from 'node:stream';
import { promisify } from 'node:util';
import zlib from 'node:zlib';
import { LayerExtractError } from './image-errors.js';
import { TarReader, type TarEntry } from './tar-reader.js';

const execFileAsync = promisify(execFile);

/** Options for {@link extractLayer}. */
export interface ExtractLayerOptions {
  /** The layer blob's bytes: gzip-compressed or plain tar (detected from the first bytes). */
  source: AsyncIterable<Buffer>;
  /** An existing, empty folder that becomes this layer's overlay lower dir. */
  target: string;
  /** The unpacked layers below this one, lowest first (read for opaque directories, hard links and parent attributes). */
  lowerDirs: readonly string[];
}

/** What {@link extractLayer} did. */
export interface ExtractLayerResult {
  /** sha256 of the uncompressed tar: must equal the config's diff_id. */
  readonly diffId: string;
  readonly entries: number;
  /** Entries skipped and why (device nodes, xattrs): nothing secret, fit for a log. */
  readonly notes: readonly string[];
}

const whiteoutPrefix = '.wh.';
const opaqueMarker = '.wh..wh..opq';

/**
 * Unpacks one image layer into `target` as an overlayfs lower dir, applying
 * the OCI image-spec layer rules (image-spec layer.md "Whiteouts"):
 *
 * - `.wh.<name>` becomes an overlay whiteout, a 0/0 character device at `<name>`;
 * - `.wh..wh..opq` (opaque directory) becomes a whiteout for every name the
 *   lower layers hold in that directory (recursively for directories the
 *   layer itself re-creates). overlayfs would read `trusted.overlay.opaque=y`
 *   instead, but Node cannot set xattrs and Debian's base system has no
 *   setfattr; since a layer folder is named by its chain ID, its lower layers
 *   are fixed, so explicit whiteouts hide exactly what the xattr would.
 * - hard links link within the layer; a target only present in a lower
 *   layer is copied up first.
 *
 * Nothing is ever written outside `target`: entry names with a `..`
 * component are rejected, absolute names are read relative to the layer, and
 * every parent directory of a written path is checked with lstat, so a
 * symlink (from this layer or an earlier entry) is never followed. A parent
 * that is a symlink only in a lower layer is not followed either: this layer
 * gets a real directory there (docker resolves it inside the rootfs instead;
 * layers made by diffing a filesystem never hold such paths).
 * Whiteouts and FIFOs need CAP_MKNOD (root), as overlayfs itself does; there
 * is no flattening fallback, since the runtime runs as root anyway.
 * xattrs (pax SCHILY.xattr) are not applied: Node has no xattr call.
 * Directory mtimes are set last, deepest first, so child writes do not move them.
 */
export async function extractLayer(options: ExtractLayerOptions): Promise<ExtractLayerResult> {
  const hash = crypto.createHash('sha256');
  const tarBytes = hashing(await decompressed(options.source), hash);
  const applier = new LayerApplier(options.target, options.lowerDirs);
  const reader = new TarReader(tarBytes);
  let entries = 0;
  for (let entry = await reader.next(); entry !== undefined; entry = await reader.next()) {
    entries += 1;
    await applier.apply(entry, reader);
  }
  await reader.drain();
  await applier.finish();
  return { diffId: `sha256:${hash.digest('hex')}`, entries, notes: applier.notes };
}

async function* hashing(source: AsyncIterable<Buffer>, hash: crypto.Hash): AsyncGenerator<Buffer> {
  for await (const chunk of source) {
    hash.update(chunk);
    yield chunk;
  }
}

/** Yields the uncompressed bytes of a gzip or plain tar stream. */
async function decompressed(source: AsyncIterable<Buffer>): Promise<AsyncIterable<Buffer>> {
  const iterator = source[Symbol.asyncIterator]();
  let head = Buffer.alloc(0);
  let ended = false;
  while (head.length < 4 && !ended) {
    const next = await iterator.next();
    if (next.done === true) ended = true;
    else head = Buffer.concat([head, next.value]);
  }
  async function* replay(): AsyncGenerator<Buffer> {
    if (head.length > 0) yield head;
    if (ended) return;
    for (let next = await iterator.next(); next.done !== true; next = await iterator.next()) yield next.value;
  }
  if (head[0] === 0x28 && head[1] === 0xb5 && head[2] === 0x2f && head[3] === 0xfd) {
    throw new LayerExtractError('zstd-compressed layers are not supported');
  }
  if (head[0] !== 0x1f || head[1] !== 0x8b) return replay();
  // Large output chunks: fewer, bigger writes per file.
  const gunzip = zlib.createGunzip({ chunkSize: 256 << 10 });
  const input = Readable.from(replay());
  input.once('error', (error) => gunzip.destroy(error));
  input.pipe(gunzip);
  return gunzipErrors(gunzip);
}

async function* gunzipErrors(gunzip: zlib.Gunzip): AsyncGenerator<Buffer> {
  try {
    for await (const chunk of gunzip as AsyncIterable<Buffer>) yield chunk;
  } catch (error) {
    if (error instanceof LayerExtractError) throw error;
    throw new LayerExtractError(`layer is not valid gzip: ${(error as Error).message}`, { cause: error });
  }
}

/**
 * Reads an entry name as a path relative to the layer root: leading `/` and
 * `./` dropped, `''` for the root itself. A `..` component is rejected even
 * where it would stay inside, since no honest layer needs one.
 */
export function layerRelativePath(name: string): string {
  if (name.includes('\0')) throw new LayerExtractError(`entry ${JSON.stringify(name)}: NUL in path`);
  const parts = name.split('/').filter((part) => part !== '' && part !== '.');
  if (parts.includes('..')) throw new LayerExtractError(`entry ${JSON.stringify(name)}: ".." in path would escape the layer`);
  return parts.join('/');
}

async function lstatOrUndefined(file: string): Promise<Stats | undefined> {
  try {
    return await fs.lstat(file);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === 'ENOENT' || code === 'ENOTDIR') return undefined;
    throw error;
  }
}

/** lstat of `base/rel` that refuses to pass through a symlink or non-directory on the way. */
async function lstatBeneath(base: string, rel: string): Promise<Stats | undefined> {
  const parts = rel === '' ? [] : rel.split('/');
  let current = base;
  for (let index = 0; index < parts.length; index += 1) {
    current = path.join(current, parts[index]!);
    const stat = await lstatOrUndefined(current);
    if (stat === undefined) return undefined;
    if (index < parts.length - 1 && !stat.isDirectory()) return undefined;
    if (index === parts.length - 1) return stat;
  }
  return lstatOrUndefined(base);
}

const isRoot = process.getuid?.() === 0;

class LayerApplier {
  readonly notes: string[] = [];
  readonly #root: string;
  readonly #lowerDirs: readonly string[];
  // Directories of this layer known to be real directories (never symlinks).
  readonly #checkedDirs = new Set<string>(['']);
  readonly #dirTimes = new Map<string, number>();
  readonly #whiteouts = new Set<string>();
  readonly #opaqueDirs = new Set<string>();
  #xattrsSkipped = 0;

  constructor(root: string, lowerDirs: readonly string[]) {
    this.#root = root;
    this.#lowerDirs = lowerDirs;
  }

  async apply(entry: TarEntry, reader: TarReader): Promise<void> {
    const rel = layerRelativePath(entry.path);
    const base = path.posix.basename(rel);
    const parent = path.posix.dirname(rel) === '.' ? '' : path.posix.dirname(rel);
    if (Object.keys(entry.xattrs).length > 0) this.#xattrsSkipped += 1;
    if (base.startsWith(whiteoutPrefix)) {
      await this.#ensureDirectory(parent, entry);
      if (base === opaqueMarker) this.#opaqueDirs.add(parent);
      else if (base.startsWith(`${whiteoutPrefix}${whiteoutPrefix}`)) this.notes.push(`${entry.path}: aufs metadata skipped`);
      else {
        const hidden = base.slice(whiteoutPrefix.length);
        if (hidden === '' || hidden === '..' || hidden === '.') throw new LayerExtractError(`entry ${JSON.stringify(entry.path)}: malformed whiteout`);
        this.#whiteouts.add(parent === '' ? hidden : `${parent}/${hidden}`);
      }
      return;
    }
    if (rel === '') {
      if (entry.type === 'directory') await this.#setAttributes(this.#root, entry, 'directory');
      this.#dirTimes.set('', entry.mtime);
      return;
    }
    switch (entry.type) {
      case 'directory':
        await this.#writeDirectory(rel, entry);
        return;
      case 'file':
        await this.#writeFile(rel, entry, reader);
        return;
      case 'symlink':
        await this.#prepare(rel, entry);
        await fs.symlink(entry.linkName, path.join(this.#root, rel));
        await this.#setAttributes(path.join(this.#root, rel), entry, 'symlink');
        return;
      case 'hardlink':
        await this.#writeHardLink(rel, entry);
        return;
      case 'fifo':
        await this.#prepare(rel, entry);
        await runMknod([path.join(this.#root, rel), 'p'], entry.path);
        await this.#setAttributes(path.join(this.#root, rel), entry, 'other');
        return;
      case 'char-device':
      case 'block-device':
        this.notes.push(`${entry.path}: ${entry.type} ${entry.devMajor}:${entry.devMinor} skipped (containers get devices from the runtime spec)`);
        return;
      default:
        this.notes.push(`${entry.path}: entry type ${JSON.stringify(entry.typeFlag)} skipped`);
    }
  }

  /** Whiteouts, opaque directories and directory times, once every entry is in place. */
  async finish(): Promise<void> {
    for (const rel of this.#whiteouts) {
      if ((await lstatOrUndefined(path.join(this.#root, rel))) !== undefined) continue; // the layer re-created it
      await this.#makeWhiteout(rel);
    }
    for (const dir of this.#opaqueDirs) await this.#hideLowerContent(dir);
    if (this.#xattrsSkipped > 0) this.notes.push(`${this.#xattrsSkipped} entries carried xattrs, which were not applied`);
    const byDepth = [...this.#dirTimes].sort((a, b) => b[0].split('/').length - a[0].split('/').length);
    for (const [rel, mtime] of byDepth) {
      const stat = await lstatOrUndefined(path.join(this.#root, rel));
      if (stat?.isDirectory() === true) await fs.utimes(path.join(this.#root, rel), mtime, mtime);
    }
  }

  async #makeWhiteout(rel: string): Promise<void> {
    await this.#ensureDirectory(path.posix.dirname(rel) === '.' ? '' : path.posix.dirname(rel), undefined);
    await runMknod(['-m', '000', path.join(this.#root, rel), 'c', '0', '0'], rel);
  }

  /** Makes `dir` hide every lower entry, as an opaque directory does. */
  async #hideLowerContent(dir: string): Promise<void> {
    const names = new Set<string>();
    for (const lower of this.#lowerDirs) {
      const stat = await lstatBeneath(lower, dir);
      if (stat?.isDirectory() !== true) continue;
      for (const name of await fs.readdir(path.join(lower, dir))) names.add(name);
    }
    for (const name of names) {
      const rel = dir === '' ? name : `${dir}/${name}`;
      const upper = await lstatOrUndefined(path.join(this.#root, rel));
      if (upper === undefined) {
        await this.#makeWhiteout(rel);
      } else if (upper.isDirectory()) {
        const lower = await this.#lowerStat(rel);
        if (lower?.isDirectory() === true) await this.#hideLowerContent(rel);
      }
    }
  }

  /** The topmost lower layer's entry at `rel`, and that layer's folder. */
  async #lowerEntry(rel: string): Promise<{ stat: Stats; dir: string } | undefined> {
    for (let index = this.#lowerDirs.length - 1; index >= 0; index -= 1) {
      const dir = this.#lowerDirs[index]!;
      const stat = await lstatBeneath(dir, rel);
      if (stat !== undefined) return { stat, dir };
    }
    return undefined;
  }

  async #lowerStat(rel: string): Promise<Stats | undefined> {
    return (await this.#lowerEntry(rel))?.stat;
  }

  /**
   * Makes every component of `rel` a real directory inside the layer,
   * creating missing ones with the attributes the lower layers give them.
   * A symlink or file in the way is an error: following it could write
   * outside the layer.
   */
  async #ensureDirectory(rel: string, entry: TarEntry | undefined): Promise<void> {
    if (this.#checkedDirs.has(rel)) return;
    const parts = rel.split('/');
    for (let index = 1; index <= parts.length; index += 1) {
      const prefix = parts.slice(0, index).join('/');
      if (this.#checkedDirs.has(prefix)) continue;
      const full = path.join(this.#root, prefix);
      const stat = await lstatOrUndefined(full);
      if (stat === undefined) {
        await fs.mkdir(full, { mode: 0o755 });
        const lower = await this.#lowerStat(prefix);
        if (lower?.isDirectory() === true) {
          await this.#chown(full, lower.uid, lower.gid, false);
          await fs.chmod(full, lower.mode & 0o7777);
          this.#dirTimes.set(prefix, lower.mtimeMs / 1000);
        }
      } else if (!stat.isDirectory()) {
        const what = stat.isSymbolicLink() ? 'a symlink' : 'not a directory';
        throw new LayerExtractError(`entry ${JSON.stringify(entry?.path ?? rel)}: parent ${JSON.stringify(prefix)} is ${what} in the layer; refusing to write through it`);
      }
      this.#checkedDirs.add(prefix);
    }
  }

  /** Checks the parents of `rel` and removes whatever is at `rel`, unless both it and the entry are directories. */
  async #prepare(rel: string, entry: TarEntry): Promise<Stats | undefined> {
    const parent = path.posix.dirname(rel) === '.' ? '' : path.posix.dirname(rel);
    await this.#ensureDirectory(parent, entry);
    const full = path.join(this.#root, rel);
    const existing = await lstatOrUndefined(full);
    if (existing === undefined) return undefined;
    if (existing.isDirectory() && entry.type === 'directory') return existing;
    await fs.rm(full, { recursive: true, force: true });
    if (existing.isDirectory()) {
      for (const checked of [...this.#checkedDirs]) {
        if (checked === rel || checked.startsWith(`${rel}/`)) this.#checkedDirs.delete(checked);
      }
    }
    return undefined;
  }

  async #writeDirectory(rel: string, entry: TarEntry): Promise<void> {
    const existing = await this.#prepare(rel, entry);
    const full = path.join(this.#root, rel);
    if (existing === undefined) await fs.mkdir(full, { mode: 0o700 });
    this.#checkedDirs.add(rel);
    await this.#setAttributes(full, entry, 'directory');
    this.#dirTimes.set(rel, entry.mtime);
  }

  async #writeFile(rel: string, entry: TarEntry, reader: TarReader): Promise<void> {
    await this.#prepare(rel, entry);
    const full = path.join(this.#root, rel);
    const handle = await fs.open(full, fsConstants.O_WRONLY | fsConstants.O_CREAT | fsConstants.O_EXCL | fsConstants.O_NOFOLLOW, 0o600);
    try {
      for await (const chunk of reader.body()) await handle.write(chunk);
      if (isRoot) await handle.chown(entry.uid, entry.gid);
      await handle.chmod(entry.mode);
      await handle.utimes(entry.mtime, entry.mtime);
    } finally {
      await handle.close();
    }
  }

  async #writeHardLink(rel: string, entry: TarEntry): Promise<void> {
    const targetRel = layerRelativePath(entry.linkName);
    if (targetRel === '') throw new LayerExtractError(`entry ${JSON.stringify(entry.path)}: hard link to the layer root`);
    if (targetRel === rel) return;
    await this.#prepare(rel, entry);
    const full = path.join(this.#root, rel);
    const inLayer = await lstatBeneath(this.#root, targetRel);
    if (inLayer !== undefined) {
      if (inLayer.isDirectory()) throw new LayerExtractError(`entry ${JSON.stringify(entry.path)}: hard link to directory ${JSON.stringify(entry.linkName)}`);
      if (inLayer.isCharacterDevice() && inLayer.rdev === 0) throw new LayerExtractError(`entry ${JSON.stringify(entry.path)}: hard link to a whiteout`);
      await fs.link(path.join(this.#root, targetRel), full);
      return;
    }
    // The target lives in a lower layer: copy it up, as overlayfs would on write.
    const lower = await this.#lowerEntry(targetRel);
    if (lower === undefined || lower.stat.isDirectory() || (lower.stat.isCharacterDevice() && lower.stat.rdev === 0)) {
      throw new LayerExtractError(`entry ${JSON.stringify(entry.path)}: hard link target ${JSON.stringify(entry.linkName)} does not exist`);
    }
    const source = path.join(lower.dir, targetRel);
    if (lower.stat.isSymbolicLink()) {
      await fs.symlink(await fs.readlink(source), full);
    } else if (lower.stat.isFile()) {
      await fs.copyFile(source, full, fsConstants.COPYFILE_EXCL);
      await fs.chmod(full, lower.stat.mode & 0o7777);
    } else {
      throw new LayerExtractError(`entry ${JSON.stringify(entry.path)}: hard link to a special file in a lower layer`);
    }
    await this.#chown(full, lower.stat.uid, lower.stat.gid, lower.stat.isSymbolicLink());
    if (lower.stat.isFile()) await fs.chmod(full, lower.stat.mode & 0o7777);
    await fs.lutimes(full, lower.stat.atimeMs / 1000, lower.stat.mtimeMs / 1000);
  }

  async #setAttributes(full: string, entry: TarEntry, kind: 'directory' | 'symlink' | 'other'): Promise<void> {
    await this.#chown(full, entry.uid, entry.gid, kind === 'symlink');
    if (kind === 'symlink') {
      await fs.lutimes(full, entry.mtime, entry.mtime);
      return;
    }
    // chmod after chown: chown clears set-user-ID and set-group-ID bits.
    await fs.chmod(full, entry.mode);
    if (kind !== 'directory') await fs.utimes(full, entry.mtime, entry.mtime);
  }

  async #chown(full: string, uid: number, gid: number, symlink: boolean): Promise<void> {
    // Without root a layer keeps the caller's ownership; the runtime itself always runs as root.
    if (!isRoot) return;
    if (symlink) await fs.lchown(full, uid, gid);
    else await fs.chown(full, uid, gid);
  }
}

async function runMknod(args: string[], what: string): Promise<void> {
  try {
    await execFileAsync('mknod', args);
  } catch (error) {
    const stderr = String((error as { stderr?: unknown }).stderr ?? '').trim();
    throw new LayerExtractError(`${what}: mknod failed (${stderr || (error as Error).message}); whiteouts and FIFOs need root`, { cause: error });
  }
}
