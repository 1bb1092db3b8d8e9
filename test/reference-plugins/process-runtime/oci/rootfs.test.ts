import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import t from 'tap';
import { isMountPoint, mountOverlay, RootfsError, unmountIfMounted } from '../../../../reference-plugins/process-runtime/oci/rootfs.js';
import { cleanup, tempDir } from './oci-fixture.js';

const skip = process.getuid?.() === 0 ? false : 'needs root';

t.test('a single-layer overlay shows the layer and keeps writes in the upper folder', { skip }, async (t) => {
  const root = tempDir(t);
  const layer = path.join(root, 'layers', 'one');
  fs.mkdirSync(layer, { recursive: true });
  fs.writeFileSync(path.join(layer, 'file'), 'from the layer');
  const target = path.join(root, 'rootfs');
  cleanup(t, () => unmountIfMounted(target));
  await mountOverlay({ lowerDirs: [layer], upperDir: path.join(root, 'upper'), workDir: path.join(root, 'work'), target });
  t.equal(fs.readFileSync(path.join(target, 'file'), 'utf8'), 'from the layer');
  fs.writeFileSync(path.join(target, 'new'), 'written');
  t.ok(fs.existsSync(path.join(root, 'upper', 'new')), 'the write went to the upper folder');
  t.notOk(fs.existsSync(path.join(layer, 'new')), 'the layer is untouched');
  await unmountIfMounted(target);
  t.notOk(await isMountPoint(target), 'unmounted');
  await unmountIfMounted(target);
  t.pass('unmounting again is a no-op');
});

t.test('upper layers hide lower ones, in image order (lowest first)', { skip }, async (t) => {
  const root = tempDir(t);
  const layers = ['base', 'middle', 'top'].map((name) => path.join(root, name));
  layers.forEach((layer, index) => {
    fs.mkdirSync(layer);
    fs.writeFileSync(path.join(layer, 'who'), path.basename(layer));
    fs.writeFileSync(path.join(layer, `only-${index}`), '');
  });
  const target = path.join(root, 'rootfs');
  cleanup(t, () => unmountIfMounted(target));
  await mountOverlay({ lowerDirs: layers, upperDir: path.join(root, 'upper'), workDir: path.join(root, 'work'), target });
  t.equal(fs.readFileSync(path.join(target, 'who'), 'utf8'), 'top', 'the last layer wins');
  t.same(fs.readdirSync(target).sort(), ['only-0', 'only-1', 'only-2', 'who']);
});

for (const count of [40, 120]) {
t.test(`an image whose ${count} layers' paths exceed a page is mounted (relative paths, or short links)`, { skip }, async (t) => {
  const root = tempDir(t);
  const base = path.join(root, 'images', 'layers');
  const layers: string[] = [];
  for (let i = 0; i < count; i++) {
    const layer = path.join(base, `${String(i).padStart(3, '0')}${'0123456789abcdef'.repeat(4)}`.slice(0, 64));
    fs.mkdirSync(layer, { recursive: true });
    fs.writeFileSync(path.join(layer, `layer-${i}`), '');
    layers.push(layer);
  }
  t.ok(layers.join(':').length > 4096, `the absolute lowerdir is ${layers.join(':').length} bytes`);
  const target = path.join(root, 'rootfs');
  cleanup(t, () => unmountIfMounted(target));
  await mountOverlay({ lowerDirs: layers, upperDir: path.join(root, 'upper'), workDir: path.join(root, 'work'), target });
  t.equal(fs.readdirSync(target).length, count, 'every layer is visible');
  t.notOk(fs.readdirSync(os.tmpdir()).some((name) => name.startsWith('kubeplug-lowers-')), 'no link folder is left');
});
}

t.test('an overlay without a layer, or with a comma in a path, is refused', async (t) => {
  await t.rejects(mountOverlay({ lowerDirs: [], upperDir: '/u', workDir: '/w', target: '/t' }), RootfsError);
  await t.rejects(mountOverlay({ lowerDirs: ['/a,b'], upperDir: '/u', workDir: '/w', target: '/t' }), RootfsError);
});
