import fs from 'node:fs';
import path from 'node:path';
import t from 'tap';
import { openTestStore, skipWithoutRegistry, startRegistryWithImages } from './image-fixture.js';

t.test('smoke: pull busybox', { skip: skipWithoutRegistry }, async (t) => {
  const { images } = await startRegistryWithImages(t);
  const { store } = await openTestStore(t);
  const busybox = images.images.busybox;
  const started = process.hrtime.bigint();
  const image = await store.pull(busybox.reference);
  const ms = Number(process.hrtime.bigint() - started) / 1e6;
  t.comment(`pull took ${ms.toFixed(1)} ms`);
  t.equal(image.id, busybox.id);
  t.ok(fs.existsSync(path.join(image.layerDirs[0]!, 'bin', 'busybox')) || fs.readdirSync(image.layerDirs[0]!).length > 0);
  t.comment(JSON.stringify(image, (_, v) => (typeof v === 'bigint' ? v.toString() : v)));
  for (const dir of image.layerDirs) t.comment(fs.readdirSync(dir).join(' '));
  const layers = await store.pull(images.images.layers.reference);
  for (const dir of layers.layerDirs) t.comment(`${dir}: ${fs.readdirSync(dir).join(' ')}`);
});
