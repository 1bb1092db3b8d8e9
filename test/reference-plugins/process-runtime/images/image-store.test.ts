import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import t, { type Test } from 'tap';
import { buildTestImage, layersImageExpectations, pushImage, testImageNames, testRegistryCredentials, type TestImageSet } from '../../../../conformance/cri/test-images/index.js';
import { InvalidImageReferenceError, RegistryError } from '../../../../reference-plugins/process-runtime/images/image-errors.js';
import { ImageStore } from '../../../../reference-plugins/process-runtime/images/image-store.js';
import { openTestStore, skipWithoutRegistry, startRegistryWithImages } from './image-fixture.js';

if (skipWithoutRegistry !== false) {
  t.plan(0, skipWithoutRegistry);
} else {
  let shared: TestImageSet | undefined;
  let registryHost = '';
  t.before(async () => {
    const started = await startRegistryWithImages(t);
    shared = started.images;
    registryHost = started.registry.host;
  });
  const images = (): TestImageSet['images'] => shared!.images;

  t.test('every test image pulls to the id the registry holds, with its tag and digest', async (t) => {
    const { store } = await openTestStore(t);
    for (const key of Object.keys(testImageNames) as (keyof typeof testImageNames)[]) {
      const expected = images()[key];
      const image = await store.pull(expected.reference);
      t.equal(image.id, expected.id, `${key}: id is the config digest`);
      t.same(image.repoTags, [expected.reference], `${key}: tagged`);
      t.same(image.repoDigests, [`${expected.repository}@${expected.manifestDigest}`], `${key}: digest is what the tag resolves to`);
      t.equal(image.layerDirs.length, expected.layerDigests.length);
      for (const dir of image.layerDirs) t.ok(fs.statSync(dir).isDirectory(), `${key}: ${dir} unpacked`);
    }
    t.equal((await store.list()).length, Object.keys(testImageNames).length);
  });

  t.test('the busybox image pulls from the loopback registry in seconds, and again from the cache', async (t) => {
    const { store } = await openTestStore(t);
    const started = process.hrtime.bigint();
    const image = await store.pull(images().busybox.reference);
    const ms = Number(process.hrtime.bigint() - started) / 1e6;
    t.comment(`pull of ${images().busybox.reference} (${image.size} bytes) took ${ms.toFixed(1)} ms`);
    // Loose bound: a shared 2-core machine under load takes ~0.2–1 s; this only catches a stall.
    t.ok(ms < 10_000);
    const again = process.hrtime.bigint();
    await store.pull(images().busybox.reference);
    t.comment(`pull again (cached) took ${(Number(process.hrtime.bigint() - again) / 1e6).toFixed(1)} ms`);
    t.equal(image.config.entrypoint[0], '/bin/sh');
  });

  t.test('the layers image, mounted from its layer dirs with overlayfs, shows exactly what the layer rules say', async (t) => {
    const { store, root } = await openTestStore(t);
    const image = await store.pull(images().layers.reference);
    const merged = path.join(path.dirname(root), 'merged');
    fs.mkdirSync(merged);
    execFileSync('mount', ['-t', 'overlay', 'overlay', '-o', `lowerdir=${[...image.layerDirs].reverse().join(':')}`, merged]);
    t.teardown(() => execFileSync('umount', [merged]));
    const at = (p: string): string => path.join(merged, p);
    for (const [file, content] of Object.entries(layersImageExpectations.files)) t.equal(fs.readFileSync(at(file), 'utf8'), content, file);
    for (const file of layersImageExpectations.absent) t.notOk(fs.existsSync(at(file)), `${file} absent`);
    for (const [link, target] of Object.entries(layersImageExpectations.symlinks)) t.equal(fs.readlinkSync(at(link)), target, link);
    for (const [a, b] of layersImageExpectations.hardlinks) t.equal(fs.statSync(at(a)).ino, fs.statSync(at(b)).ino, `${a} and ${b} are one inode`);
    for (const [file, owner] of Object.entries(layersImageExpectations.owners)) {
      const stat = fs.statSync(at(file));
      t.same({ mode: stat.mode & 0o7777, uid: stat.uid, gid: stat.gid }, owner, `${file} owner and mode`);
    }
    t.ok(fs.statSync(at('bin/busybox')).isFile(), 'the base layer is visible');
  });

  t.test('images are found by id, id prefix, tag and repository@digest', async (t) => {
    const { store } = await openTestStore(t);
    const expected = images().busybox;
    const image = await store.pull(expected.reference);
    const hex = image.id.slice('sha256:'.length);
    for (const reference of [image.id, hex, hex.slice(0, 12), `sha256:${hex.slice(0, 12)}`, expected.reference, expected.digestReference]) {
      t.equal((await store.find(reference))?.id, image.id, reference);
    }
    t.equal(await store.find(`${expected.repository}:nope`), undefined, 'unknown tag');
    t.equal(await store.find('0000000000'), undefined, 'unknown id prefix');
    await t.rejects(store.find('Not A Reference'), InvalidImageReferenceError);
  });

  t.test('concurrent pulls of one reference share one pull; images share their base layer dir', async (t) => {
    const { store } = await openTestStore(t);
    const first = store.pull(images().busybox.reference);
    const second = store.pull(images().busybox.reference);
    t.equal(first, second, 'the same pull');
    const [a, b] = await Promise.all([first, store.pull(images().busyboxAlt.reference)]);
    t.equal(a.layerDirs[0], b.layerDirs[0], 'one folder for the shared base layer');
    t.not(a.layerDirs[1], b.layerDirs[1]);
  });

  t.test('removing by tag or id removes the image and the layers nobody else uses', async (t) => {
    const { store } = await openTestStore(t);
    const busybox = await store.pull(images().busybox.reference);
    const alt = await store.pull(images().busyboxAlt.reference);
    await store.remove(images().busybox.reference);
    t.equal(await store.find(busybox.id), undefined, 'the only tag removed the image');
    t.ok(fs.existsSync(alt.layerDirs[0]!), 'the shared base layer stays for the other image');
    t.notOk(fs.existsSync(busybox.layerDirs[1]!), 'the image\'s own layer is gone');
    await store.remove(images().busybox.reference);
    await store.remove(busybox.id);
    t.pass('removing again is no error');
  });

  t.test('a tag re-pointed at another image moves; the old image keeps its digest', async (t) => {
    const { store } = await openTestStore(t);
    const repository = 'kubeplug-test/moving';
    const target = { registryHost, repository };
    await pushImage(target, buildTestImage({ name: 'moving one', annotations: { 'io.kubeplug.test/one': 'yes' } }), 'tag');
    const one = await store.pull(`${registryHost}/${repository}:tag`);
    t.same(one.annotations, { 'io.kubeplug.test/one': 'yes' }, 'manifest annotations are kept');
    await pushImage(target, buildTestImage({ name: 'moving two' }), 'tag');
    const two = await store.pull(`${registryHost}/${repository}:tag`);
    t.not(one.id, two.id);
    t.same((await store.find(one.id))?.repoTags, [], 'the old image lost the tag');
    t.equal((await store.find(one.id))?.repoDigests.length, 1, 'and keeps its digest');
    t.same((await store.find(two.id))?.repoTags, [`${registryHost}/${repository}:tag`]);
    await store.remove(`${registryHost}/${repository}@${(await store.find(one.id))!.repoDigests[0]!.split('@')[1]!}`);
    t.equal(await store.find(one.id), undefined, 'removing by digest removes the image');
  });

  t.test('an image with two tags gets both; removing it by one tag removes it with every name (CRI-IMAGE-019)', async (t) => {
    const { store } = await openTestStore(t);
    const repository = 'kubeplug-test/two-tags';
    const target = { registryHost, repository };
    const built = buildTestImage({ name: 'two tags' });
    await pushImage(target, built, 'first');
    await pushImage(target, built, 'second');
    await store.pull(`${registryHost}/${repository}:first`);
    const image = await store.pull(`${registryHost}/${repository}:second`);
    t.same(image.repoTags.sort(), [`${registryHost}/${repository}:first`, `${registryHost}/${repository}:second`]);
    t.equal(image.repoDigests.length, 1, 'one manifest, one digest');
    await store.remove(`${registryHost}/${repository}:first`);
    t.equal(await store.find(image.id), undefined);
    t.equal(await store.find(`${registryHost}/${repository}:second`), undefined);
  });

  t.test('a pull by digest adds no tag (CRI-IMAGE-011)', async (t) => {
    const { store } = await openTestStore(t);
    const image = await store.pull(images().busybox.digestReference);
    t.same(image.repoTags, []);
    t.same(image.repoDigests, [images().busybox.digestReference]);
    t.equal((await store.pull(images().busybox.reference)).id, image.id, 'the same id by tag (CRI-IMAGE-003)');
  });

  t.test('removing an image while another pull needs its layers leaves that pull whole', async (t) => {
    const { store } = await openTestStore(t);
    await store.pull(images().busybox.reference);
    const [alt] = await Promise.all([store.pull(images().busyboxAlt.reference), store.remove(images().busybox.reference)]);
    for (const dir of alt.layerDirs) t.ok(fs.existsSync(dir), `${dir} kept`);
    const again = await ImageStore.open({ root: path.dirname(path.dirname(alt.layerDirs[0]!)), log: () => {} });
    t.same((await again.list()).map((image) => image.id), [alt.id]);
  });

  t.test('layers a container has mounted survive the removal of their image', async (t) => {
    const inUse = new Set<string>();
    const { store } = await openTestStore(t, { layersInUse: () => inUse });
    const image = await store.pull(images().workdir.reference);
    inUse.add(image.layerDirs[1]!);
    await store.remove(image.id);
    t.ok(fs.existsSync(image.layerDirs[1]!), 'the mounted layer stays');
    t.notOk(fs.existsSync(image.layerDirs[0]!), 'the unmounted one goes');
    inUse.clear();
    await store.pull(images().busybox.reference);
    await store.remove(images().busybox.reference);
    t.notOk(fs.existsSync(image.layerDirs[1]!), 'once unmounted, the next removal collects it');
  });

  t.test('a reopened store finds its images and drops what a crash half wrote', async (t) => {
    const { store, root } = await openTestStore(t);
    const image = await store.pull(images().busybox.reference);
    fs.writeFileSync(path.join(root, 'tmp', 'blob-halfwritten'), 'x');
    fs.mkdirSync(path.join(root, 'layers', '.tmp-0123-half'));
    fs.writeFileSync(path.join(root, 'layers', '.tmp-0123-half', 'file'), 'x');
    const reopened = await ImageStore.open({ root, log: () => {} });
    t.same(await reopened.find(images().busybox.reference), image);
    t.same(fs.readdirSync(path.join(root, 'tmp')), [], 'temp files dropped');
    t.notOk(fs.existsSync(path.join(root, 'layers', '.tmp-0123-half')), 'half-unpacked layer dropped');
  });

  t.test('fsInfo counts the bytes and inodes under the root', async (t) => {
    const { store, root } = await openTestStore(t);
    const empty = await store.fsInfo();
    await store.pull(images().busybox.reference);
    const full = await store.fsInfo();
    t.equal(full.mountpoint, root);
    t.ok(full.usedBytes > empty.usedBytes + 1_000_000n, `bytes grew (${empty.usedBytes} → ${full.usedBytes})`);
    t.ok(full.inodesUsed > empty.inodesUsed + 5n, `inodes grew (${empty.inodesUsed} → ${full.inodesUsed})`);
  });

  t.test('unknown tags and unreachable registries fail with typed registry errors', async (t) => {
    const { store } = await openTestStore(t);
    await t.rejects(store.pull(`${registryHost}/kubeplug-test/busybox:absent`), { name: 'RegistryError', kind: 'not-found' });
    await t.rejects(store.pull(`${registryHost}/kubeplug-test/never-pushed:1`), { name: 'RegistryError', kind: 'not-found' });
    const unreachable = await openTestStore(t, { timeoutMs: 2000 });
    const error = await unreachable.store.pull('127.0.0.1:1/app:1').catch((e: unknown) => e);
    t.type(error, RegistryError);
    t.match(error, { kind: 'unreachable' });
    await t.rejects(store.pull(''), InvalidImageReferenceError);
  });

  t.test('a registry behind basic auth needs the credentials', async (t: Test) => {
    const { registry, images: secured } = await startRegistryWithImages(t, { credentials: testRegistryCredentials });
    const { store } = await openTestStore(t);
    await t.rejects(store.pull(secured.images.busybox.reference), { kind: 'unauthorized', message: /no credentials/ });
    await t.rejects(store.pull(secured.images.busybox.reference, { username: testRegistryCredentials.user, password: 'wrong' }), { kind: 'unauthorized', message: /HTTP 401 even with credentials/ });
    t.same(await store.list(), [], 'a refused pull leaves no image');
    const image = await store.pull(secured.images.busybox.reference, { username: testRegistryCredentials.user, password: testRegistryCredentials.password });
    t.equal(image.id, secured.images.busybox.id);
    const encoded = Buffer.from(`${testRegistryCredentials.user}:${testRegistryCredentials.password}`).toString('base64');
    const other = await store.pull(secured.images.workdir.reference, { auth: encoded });
    t.equal(other.id, secured.images.workdir.id, 'the encoded auth field works too');
    t.ok(registry.pid > 0);
  });
}
