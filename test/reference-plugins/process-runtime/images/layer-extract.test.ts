import { execFileSync } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import t, { type Test } from 'tap';
import { gzipTar, opaqueWhiteout, whiteout, writeTar, type TarEntry } from '../../../../conformance/cri/test-images/index.js';
import { LayerExtractError } from '../../../../reference-plugins/process-runtime/images/image-errors.js';
import { extractLayer, layerRelativePath } from '../../../../reference-plugins/process-runtime/images/layer-extract.js';
import { tempDir } from './image-fixture.js';

const isRoot = process.getuid?.() === 0;
const skipUnlessRoot = isRoot ? false : 'needs root (whiteouts are character devices, ownership needs chown)';

async function* once(bytes: Buffer): AsyncGenerator<Buffer> {
  for (let offset = 0; offset < bytes.length; offset += 4096) yield bytes.subarray(offset, offset + 4096);
}

/** Extracts tar layers bottom-up into sibling folders, as the layer store does; returns their folders. */
async function extractStack(t: Test, layers: readonly TarEntry[][]): Promise<{ dirs: string[]; base: string; notes: string[] }> {
  const base = tempDir(t, 'layers');
  const dirs: string[] = [];
  const notes: string[] = [];
  for (const [index, entries] of layers.entries()) {
    const target = path.join(base, `layer-${index}`);
    fs.mkdirSync(target);
    const result = await extractLayer({ source: once(gzipTar(writeTar(entries))), target, lowerDirs: [...dirs] });
    notes.push(...result.notes);
    dirs.push(target);
  }
  return { dirs, base, notes };
}

/** Mounts the layers read-only with overlayfs (topmost first), unmounted at teardown. */
function mountLayers(t: Test, base: string, dirs: readonly string[]): string {
  const merged = path.join(base, 'merged');
  fs.mkdirSync(merged);
  execFileSync('mount', ['-t', 'overlay', 'overlay', '-o', `lowerdir=${[...dirs].reverse().join(':')}`, merged]);
  t.teardown(() => execFileSync('umount', [merged]));
  return merged;
}

function isWhiteout(file: string): boolean {
  const stat = fs.lstatSync(file);
  return stat.isCharacterDevice() && stat.rdev === 0;
}

t.test('entry names are read relative to the layer and ".." is rejected', async (t) => {
  t.equal(layerRelativePath('/etc/passwd'), 'etc/passwd');
  t.equal(layerRelativePath('./a//b/'), 'a/b');
  t.equal(layerRelativePath('./'), '');
  for (const name of ['../x', 'a/../../x', 'a/..', '..', '/../etc']) t.throws(() => layerRelativePath(name), LayerExtractError, name);
});

t.test('a whiteout becomes a 0/0 character device that hides the lower file and folder', { skip: skipUnlessRoot }, async (t) => {
  const { dirs, base } = await extractStack(t, [
    [{ type: 'dir', path: 'a/' }, { type: 'file', path: 'a/file', content: 'x' }, { type: 'dir', path: 'a/dir/' }, { type: 'file', path: 'a/dir/inner', content: 'y' }, { type: 'file', path: 'a/kept', content: 'k' }],
    [{ type: 'dir', path: 'a/' }, whiteout('a/file'), whiteout('a/dir')],
  ]);
  t.ok(isWhiteout(path.join(dirs[1]!, 'a/file')), 'a/file is a whiteout in the upper layer');
  t.ok(isWhiteout(path.join(dirs[1]!, 'a/dir')), 'a/dir is a whiteout in the upper layer');
  t.notOk(fs.existsSync(path.join(dirs[1]!, 'a/.wh.file')), 'the .wh. file itself is not written');
  const merged = mountLayers(t, base, dirs);
  t.same(fs.readdirSync(path.join(merged, 'a')).sort(), ['kept']);
});

t.test('an opaque folder hides everything the lower layers hold in it, recursively', { skip: skipUnlessRoot }, async (t) => {
  const { dirs, base } = await extractStack(t, [
    [{ type: 'dir', path: 'd/' }, { type: 'file', path: 'd/old-1', content: '1' }, { type: 'dir', path: 'd/sub/' }, { type: 'file', path: 'd/sub/old', content: 'o' }],
    [{ type: 'dir', path: 'd/' }, { type: 'file', path: 'd/old-2', content: '2' }],
    [{ type: 'dir', path: 'd/' }, opaqueWhiteout('d'), { type: 'file', path: 'd/new', content: 'n' }, { type: 'dir', path: 'd/sub/' }, { type: 'file', path: 'd/sub/newer', content: 'm' }],
  ]);
  t.notOk(fs.existsSync(path.join(dirs[2]!, 'd/.wh..wh..opq')), 'the marker itself is not written');
  const merged = mountLayers(t, base, dirs);
  t.same(fs.readdirSync(path.join(merged, 'd')).sort(), ['new', 'sub']);
  t.same(fs.readdirSync(path.join(merged, 'd/sub')), ['newer']);
});

t.test('the opaque marker may come before or after the folder\'s own entries', { skip: skipUnlessRoot }, async (t) => {
  const { dirs, base } = await extractStack(t, [
    [{ type: 'dir', path: 'd/' }, { type: 'file', path: 'd/old', content: '1' }],
    [{ type: 'file', path: 'd/new', content: 'n' }, opaqueWhiteout('d')],
  ]);
  const merged = mountLayers(t, base, dirs);
  t.same(fs.readdirSync(path.join(merged, 'd')), ['new']);
});

t.test('hard links share an inode inside a layer; a target in a lower layer is copied up', { skip: skipUnlessRoot }, async (t) => {
  const { dirs } = await extractStack(t, [
    [{ type: 'file', path: 'lower-file', content: 'from below', mode: 0o640, uid: 7, gid: 8 }],
    [
      { type: 'file', path: 'orig', content: 'same' },
      { type: 'hardlink', path: 'link', target: 'orig' },
      { type: 'hardlink', path: 'up', target: '/lower-file' },
    ],
  ]);
  const top = dirs[1]!;
  t.equal(fs.statSync(path.join(top, 'orig')).ino, fs.statSync(path.join(top, 'link')).ino);
  t.equal(fs.statSync(path.join(top, 'orig')).nlink, 2);
  t.equal(fs.readFileSync(path.join(top, 'up'), 'utf8'), 'from below');
  const up = fs.statSync(path.join(top, 'up'));
  t.same([up.mode & 0o7777, up.uid, up.gid], [0o640, 7, 8]);
});

t.test('modes (set-user-ID included), owners and mtimes are kept; device nodes are skipped with a note', { skip: skipUnlessRoot }, async (t) => {
  const device = deviceEntry('dev/null-ish');
  const base = tempDir(t, 'layers');
  const target = path.join(base, 'layer');
  fs.mkdirSync(target);
  const tar = Buffer.concat([
    writeTar([
      { type: 'dir', path: 'bin/', mode: 0o711, uid: 3, gid: 4, mtime: 1_600_000_000 },
      { type: 'file', path: 'bin/tool', content: '#!/bin/sh\n', mode: 0o4755, uid: 5, gid: 6, mtime: 1_500_000_000 },
      { type: 'symlink', path: 'bin/alias', target: 'tool', uid: 9, gid: 9, mtime: 1_400_000_000 },
    ]).subarray(0, -1024),
    device,
    Buffer.alloc(1024),
  ]);
  const result = await extractLayer({ source: once(tar), target, lowerDirs: [] });
  t.equal(result.diffId, `sha256:${crypto.createHash('sha256').update(tar).digest('hex')}`, 'an uncompressed layer\'s diff ID is its own digest');
  const dir = fs.statSync(path.join(target, 'bin'));
  t.same([dir.mode & 0o7777, dir.uid, dir.gid, dir.mtimeMs / 1000], [0o711, 3, 4, 1_600_000_000]);
  const tool = fs.statSync(path.join(target, 'bin/tool'));
  t.same([tool.mode & 0o7777, tool.uid, tool.gid, tool.mtimeMs / 1000], [0o4755, 5, 6, 1_500_000_000]);
  const alias = fs.lstatSync(path.join(target, 'bin/alias'));
  t.same([alias.isSymbolicLink(), fs.readlinkSync(path.join(target, 'bin/alias')), alias.uid, alias.mtimeMs / 1000], [true, 'tool', 9, 1_400_000_000]);
  t.notOk(fs.existsSync(path.join(target, 'dev/null-ish')), 'no device node is created');
  t.match(result.notes.join('\n'), /dev\/null-ish: char-device 1:3 skipped/);
});

/** A ustar character-device entry (major 1, minor 3), which the shared tar writer does not make. */
function deviceEntry(name: string): Buffer {
  const block = Buffer.alloc(512);
  block.write(name, 0);
  block.write('0000666\0', 100);
  block.write('0000000\0', 108);
  block.write('0000000\0', 116);
  block.write('00000000000\0', 124);
  block.write('00000000000\0', 136);
  block.write('3', 156);
  block.write('ustar\0', 257);
  block.write('00', 263);
  block.write('0000001\0', 329);
  block.write('0000003\0', 337);
  block.fill(0x20, 148, 156);
  let sum = 0;
  for (const byte of block) sum += byte;
  block.write(`${sum.toString(8).padStart(6, '0')}\0 `, 148);
  return block;
}

const escapes: readonly [string, TarEntry[], RegExp][] = [
  ['a ".." entry', [{ type: 'file', path: '../escaped', content: 'x' }], /escape/],
  ['a nested ".." entry', [{ type: 'dir', path: 'a/' }, { type: 'file', path: 'a/../../escaped', content: 'x' }], /escape/],
  ['a write through a symlink to an absolute folder', [{ type: 'symlink', path: 'link', target: '__OUTSIDE__' }, { type: 'file', path: 'link/escaped', content: 'x' }], /symlink/],
  ['a write through a relative symlink', [{ type: 'symlink', path: 'up', target: '../..' }, { type: 'file', path: 'up/escaped', content: 'x' }], /symlink/],
  ['a folder entry through a symlink', [{ type: 'symlink', path: 'link', target: '__OUTSIDE__' }, { type: 'dir', path: 'link/sub/' }], /symlink/],
  ['a whiteout through a symlink', [{ type: 'symlink', path: 'link', target: '__OUTSIDE__' }, whiteout('link/victim')], /symlink/],
  ['a hard link whose name escapes', [{ type: 'file', path: 'f', content: 'x' }, { type: 'hardlink', path: '../escaped', target: 'f' }], /escape/],
  ['a hard link to a file outside through a symlink', [{ type: 'symlink', path: 'link', target: '__OUTSIDE__' }, { type: 'hardlink', path: 'stolen', target: 'link/victim' }], /does not exist/],
  ['a hard link to a ".." target', [{ type: 'hardlink', path: 'stolen', target: '../victim' }], /escape/],
];

for (const [what, entries, reason] of escapes) {
  t.test(`${what} is rejected and nothing outside the layer changes`, { skip: skipUnlessRoot }, async (t) => {
    const base = tempDir(t, 'escape');
    const outside = path.join(base, 'outside');
    fs.mkdirSync(outside);
    fs.writeFileSync(path.join(outside, 'victim'), 'untouched');
    const target = path.join(base, 'deep', 'layer');
    fs.mkdirSync(target, { recursive: true });
    const resolved = entries.map((entry) => ('target' in entry && entry.target === '__OUTSIDE__' ? { ...entry, target: outside } : entry));
    await t.rejects(extractLayer({ source: once(writeTar(resolved)), target, lowerDirs: [] }), reason);
    t.same(fs.readdirSync(outside), ['victim'], 'nothing was added outside');
    t.equal(fs.readFileSync(path.join(outside, 'victim'), 'utf8'), 'untouched');
    t.equal(fs.statSync(path.join(outside, 'victim')).nlink, 1, 'the outside file gained no hard link');
    t.notOk(fs.existsSync(path.join(base, 'escaped')) || fs.existsSync(path.join(base, 'deep', 'escaped')), 'no escaped file');
  });
}

t.test('a file entry replaces a symlink at its own path instead of writing through it', { skip: skipUnlessRoot }, async (t) => {
  const base = tempDir(t, 'replace');
  const outsideFile = path.join(base, 'outside-file');
  fs.writeFileSync(outsideFile, 'untouched');
  const target = path.join(base, 'layer');
  fs.mkdirSync(target);
  await extractLayer({ source: once(writeTar([{ type: 'symlink', path: 'x', target: outsideFile }, { type: 'file', path: 'x', content: 'inside' }])), target, lowerDirs: [] });
  t.equal(fs.readFileSync(outsideFile, 'utf8'), 'untouched');
  t.equal(fs.readFileSync(path.join(target, 'x'), 'utf8'), 'inside');
  t.notOk(fs.lstatSync(path.join(target, 'x')).isSymbolicLink());
});

t.test('absolute entry names land inside the layer', { skip: skipUnlessRoot }, async (t) => {
  const target = tempDir(t, 'abs');
  await extractLayer({ source: once(writeTar([{ type: 'file', path: '/etc/kubeplug-abs-test', content: 'inside' }])), target, lowerDirs: [] });
  t.equal(fs.readFileSync(path.join(target, 'etc/kubeplug-abs-test'), 'utf8'), 'inside');
  t.notOk(fs.existsSync('/etc/kubeplug-abs-test'));
});

t.test('a layer that is neither tar nor gzip fails as a layer error, and broken gzip too', async (t) => {
  const target = tempDir(t, 'bad');
  const gz = gzipTar(writeTar([{ type: 'file', path: 'f', content: 'x'.repeat(10_000) }]));
  await t.rejects(extractLayer({ source: once(gz.subarray(0, gz.length - 40)), target, lowerDirs: [] }), LayerExtractError);
  await t.rejects(extractLayer({ source: once(Buffer.from([0x28, 0xb5, 0x2f, 0xfd, 0, 0])), target, lowerDirs: [] }), /zstd/);
});
