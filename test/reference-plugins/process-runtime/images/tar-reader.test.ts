import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import t, { type Test } from 'tap';
import { TarFormatError } from '../../../../reference-plugins/process-runtime/images/image-errors.js';
import { TarReader, type TarEntry } from '../../../../reference-plugins/process-runtime/images/tar-reader.js';
import { tempDir } from './image-fixture.js';

async function* chunked(bytes: Buffer, size = 97): AsyncGenerator<Buffer> {
  for (let offset = 0; offset < bytes.length; offset += size) yield bytes.subarray(offset, offset + size);
}

async function readAll(bytes: Buffer, chunkSize?: number): Promise<{ entry: TarEntry; data: string }[]> {
  const reader = new TarReader(chunked(bytes, chunkSize));
  const out: { entry: TarEntry; data: string }[] = [];
  for (let entry = await reader.next(); entry !== undefined; entry = await reader.next()) {
    const chunks: Buffer[] = [];
    for await (const chunk of reader.body()) chunks.push(chunk);
    out.push({ entry, data: Buffer.concat(chunks).toString('utf8') });
  }
  return out;
}

/** A tree with long names and links, archived by GNU tar in each format. */
function archiveWithGnuTar(t: Test, format: 'gnu' | 'pax' | 'ustar'): Buffer {
  const dir = tempDir(t, 'tar');
  const longDir = format === 'ustar' ? 'd'.repeat(90) : 'd'.repeat(120);
  const longName = format === 'ustar' ? 'f'.repeat(90) : 'f'.repeat(150);
  fs.mkdirSync(path.join(dir, 'src', longDir), { recursive: true });
  fs.writeFileSync(path.join(dir, 'src', longDir, longName), 'long content\n');
  fs.writeFileSync(path.join(dir, 'src', 'small'), 'x'.repeat(1000));
  fs.chmodSync(path.join(dir, 'src', 'small'), 0o4755);
  fs.linkSync(path.join(dir, 'src', 'small'), path.join(dir, 'src', 'hard'));
  fs.symlinkSync(`../${'t'.repeat(format === 'ustar' ? 50 : 130)}`, path.join(dir, 'src', 'link'));
  fs.utimesSync(path.join(dir, 'src', 'small'), 1_700_000_000, 1_700_000_000);
  execFileSync('tar', [`--format=${format}`, '--sort=name', '-C', path.join(dir, 'src'), '-cf', path.join(dir, 'out.tar'), '.']);
  return fs.readFileSync(path.join(dir, 'out.tar'));
}

for (const format of ['gnu', 'pax', 'ustar'] as const) {
  t.test(`an archive GNU tar writes in ${format} format reads back entry by entry`, async (t) => {
    const archive = archiveWithGnuTar(t, format);
    for (const chunkSize of [1, 97, 512, 1 << 20]) {
      const entries = await readAll(archive, chunkSize);
      const byPath = new Map(entries.map((item) => [item.entry.path.replace(/^\.\//, '').replace(/\/$/, ''), item]));
      const longDir = format === 'ustar' ? 'd'.repeat(90) : 'd'.repeat(120);
      const longName = format === 'ustar' ? 'f'.repeat(90) : 'f'.repeat(150);
      t.equal(byPath.get(`${longDir}/${longName}`)?.data, 'long content\n', `long name read (chunks of ${chunkSize})`);
      t.equal(byPath.get(longDir)?.entry.type, 'directory');
      const small = byPath.get('small')?.entry.type === 'file' ? byPath.get('small') : byPath.get('hard');
      t.equal(small?.entry.type, 'file');
      t.equal(small?.data, 'x'.repeat(1000));
      t.equal(small?.entry.mode, 0o4755, 'set-user-ID bit kept');
      t.equal(Math.trunc(small?.entry.mtime ?? 0), 1_700_000_000);
      const hard = byPath.get('small')?.entry.type === 'hardlink' ? byPath.get('small') : byPath.get('hard');
      t.equal(hard?.entry.type, 'hardlink');
      t.match(hard?.entry.linkName ?? '', /(hard|small)$/);
      t.equal(byPath.get('link')?.entry.type, 'symlink');
      t.equal(byPath.get('link')?.entry.linkName, `../${'t'.repeat(format === 'ustar' ? 50 : 130)}`, 'long link name read');
    }
  });
}

/** One valid ustar header for a file of `size` bytes, checksum filled in. */
function header(fields: { name?: string; size?: number | string; type?: string; mode?: string } = {}): Buffer {
  const block = Buffer.alloc(512);
  block.write(fields.name ?? 'file', 0, 'utf8');
  block.write(fields.mode ?? '0000644\0', 100, 'latin1');
  block.write('0000000\0', 108, 'latin1');
  block.write('0000000\0', 116, 'latin1');
  const size = typeof fields.size === 'string' ? fields.size : `${(fields.size ?? 0).toString(8).padStart(11, '0')}\0`;
  block.write(size, 124, 'latin1');
  block.write('00000000000\0', 136, 'latin1');
  block.write(fields.type ?? '0', 156, 'latin1');
  block.write('ustar\0', 257, 'latin1');
  block.write('00', 263, 'latin1');
  fillChecksum(block);
  return block;
}

function fillChecksum(block: Buffer): void {
  block.fill(0x20, 148, 156);
  let sum = 0;
  for (const byte of block) sum += byte;
  block.write(`${sum.toString(8).padStart(6, '0')}\0 `, 148, 'latin1');
}

const end = Buffer.alloc(1024);
const data = (text: string): Buffer => {
  const padded = Buffer.alloc(Math.ceil(text.length / 512) * 512);
  padded.write(text);
  return padded;
};

const malformed: readonly [string, () => Buffer, RegExp][] = [
  ['a header whose checksum is wrong', () => {
    const block = header({ size: 3 });
    block[0] = 0x78;
    return Buffer.concat([block, data('abc'), end]);
  }, /checksum/],
  ['a size field that is not octal', () => Buffer.concat([header({ size: '0000000009z\0' }), end]), /not octal/],
  ['data cut short', () => Buffer.concat([header({ size: 2000 }), data('abc')]), /unexpected end/],
  ['a header cut short', () => header({ size: 0 }).subarray(0, 300), /inside a header/],
  ['a pax record whose length lies', () => {
    const record = '99 path=x\n';
    return Buffer.concat([header({ name: 'pax', type: 'x', size: record.length }), data(record), header(), end]);
  }, /pax record/],
  ['a pax record without a length', () => {
    const record = 'path=x\n';
    return Buffer.concat([header({ name: 'pax', type: 'x', size: record.length }), data(record), header(), end]);
  }, /pax record/],
  ['a GNU long name larger than 1 MiB', () => Buffer.concat([header({ name: '././@LongLink', type: 'L', size: 2 << 20 })]), /larger than/],
  ['a GNU sparse file', () => Buffer.concat([header({ type: 'S' }), end]), /sparse/],
  ['a negative base-256 size', () => {
    const block = header();
    block.fill(0xff, 124, 136);
    fillChecksum(block);
    return Buffer.concat([block, end]);
  }, /negative/],
  ['an empty name', () => Buffer.concat([header({ name: '' }), end]), /empty name/],
];

for (const [what, build, reason] of malformed) {
  t.test(`${what} raises TarFormatError`, async (t) => {
    await t.rejects(readAll(build()), TarFormatError);
    await t.rejects(readAll(build()), { message: reason });
  });
}

t.test('an empty stream and a stream of zero blocks are empty archives', async (t) => {
  t.same(await readAll(Buffer.alloc(0)), []);
  t.same(await readAll(end), []);
});

t.test('base-256 sizes are read', async (t) => {
  const block = header({ name: 'big' });
  block.fill(0, 124, 136);
  block[124] = 0x80;
  block[135] = 5;
  fillChecksum(block);
  const entries = await readAll(Buffer.concat([block, data('hello'), end]));
  t.equal(entries[0]?.data, 'hello');
});

t.test('flipping any header byte of a valid archive never crashes the reader', async (t) => {
  const archive = Buffer.concat([header({ name: 'a', size: 5 }), data('hello'), header({ name: 'dir/', type: '5' }), end]);
  let failures = 0;
  for (let offset = 0; offset < 512; offset += 1) {
    for (const value of [0x00, 0x37, 0x80, 0xff]) {
      const mutated = Buffer.from(archive);
      mutated[offset] = value;
      try {
        await readAll(mutated);
      } catch (error) {
        if (!(error instanceof TarFormatError)) t.fail(`offset ${offset} value ${value}: ${String(error)}`);
        failures += 1;
      }
    }
  }
  t.ok(failures > 0, `${failures} mutations were rejected as TarFormatError, none crashed`);
});
