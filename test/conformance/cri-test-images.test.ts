/**
 * The CRI test images: tars that GNU tar reads back as written, digests that
 * do not move between builds, and images that a real docker-registry (Debian's,
 * on loopback) stores and serves by tag and digest, with and without basic auth.
 */
import { execFile, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import { promisify } from 'node:util';
import { gunzipSync } from 'node:zlib';
import t, * as Tap from 'tap';
import {
  buildImageIndex,
  buildTestImage,
  buildTestImageSet,
  dockerMediaTypes,
  foreignPlatform,
  getManifest,
  gzipTar,
  hostileLayerKinds,
  hostileLayers,
  hostPlatform,
  htpasswdLine,
  layersImageExpectations,
  manifestDigest,
  ociMediaTypes,
  opaqueWhiteout,
  provisionTestImages,
  pushImage,
  pushImageIndex,
  RegistryHttpError,
  registryUnavailable,
  sha256Digest,
  startLoopbackRegistry,
  startTestImageRegistry,
  testImagesUnavailable,
  testImageNames,
  testRegistryCredentials,
  whiteout,
  writeTar,
  type BuiltImage,
  type HostileLayer,
  type LoopbackRegistry,
  type LoopbackRegistryOptions,
  type TarEntry,
} from '../../conformance/cri/test-images/index.js';
import { tempDir } from '../helpers/temp-dir.js';

const execFileAsync = promisify(execFile);

const noImages = testImagesUnavailable();
const noRegistry = registryUnavailable() ?? noImages;

/** Starts a registry in a fresh folder; stopped (and the folder removed) in teardown. */
async function loopbackRegistry(t: Tap.Test, options: Omit<LoopbackRegistryOptions, 'dir'> = {}): Promise<LoopbackRegistry> {
  const dir = tempDir(t, 'kp-registry-');
  const registry = await startLoopbackRegistry({ dir, ...options });
  t.teardown(() => registry.stop());
  return registry;
}

/** One line of `tar -tv --numeric-owner`, split into its fields. */
interface ListedEntry {
  readonly mode: string;
  readonly owner: string;
  readonly size: number;
  readonly time: string;
  readonly name: string;
}

/** Lists a gzipped tar with GNU tar, which must read it without a complaint. */
async function listWithGnuTar(t: Tap.Test, gzipped: Buffer, extraArgs: readonly string[] = []): Promise<ListedEntry[]> {
  const file = path.join(tempDir(t, 'kp-tar-'), 'layer.tar.gz');
  fs.writeFileSync(file, gzipped);
  const { stdout, stderr } = await execFileAsync('tar', ['-tvzf', file, '--numeric-owner', ...extraArgs], { env: { ...process.env, TZ: 'UTC' } });
  t.equal(stderr, '', 'tar reads the archive without warnings');
  return stdout
    .split('\n')
    .filter((line) => line.length > 0)
    .map((line) => {
      const match = /^(\S{10})\s+(\d+\/\d+)\s+(\d+)\s+(\S+ \S+)\s(.*)$/.exec(line);
      if (match === null) throw new Error(`unexpected tar listing line: ${line}`);
      return { mode: match[1] ?? '', owner: match[2] ?? '', size: Number(match[3]), time: match[4] ?? '', name: match[5] ?? '' };
    });
}

const longFolder = `${'deep-folder/'.repeat(9)}`; // 108 bytes: the name needs ustar's prefix field
const longName = `${'x'.repeat(120)}`; // one path element past 100 bytes: only a pax record can hold it

const sampleEntries: TarEntry[] = [
  { type: 'dir', path: 'tmp/', mode: 0o1777 },
  { type: 'file', path: 'tmp/owned', content: 'owned by 1000\n', mode: 0o600, uid: 1000, gid: 1001 },
  { type: 'file', path: 'bin/tool', content: Buffer.from([0, 1, 2, 255]), mode: 0o4755 },
  { type: 'symlink', path: 'bin/link', target: 'tool' },
  { type: 'hardlink', path: 'bin/hard', target: 'bin/tool' },
  { type: 'file', path: `${longFolder}file`, content: 'deep\n' },
  { type: 'file', path: `long/${longName}`, content: 'long\n' },
  { type: 'symlink', path: 'far-link', target: `/${longName}/${longName}` },
];

t.test('GNU tar lists every kind of entry with the mode, owner, size, time and link target written', async (t) => {
  const listed = await listWithGnuTar(t, gzipTar(writeTar(sampleEntries)));
  t.same(
    listed.map((entry) => [entry.mode, entry.owner, entry.size, entry.name]),
    [
      ['drwxrwxrwt', '0/0', 0, 'tmp/'],
      ['-rw-------', '1000/1001', 14, 'tmp/owned'],
      ['-rwsr-xr-x', '0/0', 4, 'bin/tool'],
      ['lrwxrwxrwx', '0/0', 0, 'bin/link -> tool'],
      ['hrw-r--r--', '0/0', 0, 'bin/hard link to bin/tool'],
      ['-rw-r--r--', '0/0', 5, `${longFolder}file`],
      ['-rw-r--r--', '0/0', 5, `long/${longName}`],
      ['lrwxrwxrwx', '0/0', 0, `far-link -> /${longName}/${longName}`],
    ],
  );
  t.ok(
    listed.every((entry) => entry.time === '2024-01-01 00:00'),
    'every entry has the fixed time',
  );
});

t.test('GNU tar extracts the same contents that were written', async (t) => {
  const dir = tempDir(t, 'kp-untar-');
  const file = path.join(dir, 'layer.tar.gz');
  fs.writeFileSync(file, gzipTar(writeTar(sampleEntries)));
  const root = path.join(dir, 'root');
  fs.mkdirSync(root);
  await execFileAsync('tar', ['-xzf', file, '-C', root, '--numeric-owner']);
  t.equal(fs.readFileSync(path.join(root, 'tmp/owned'), 'utf8'), 'owned by 1000\n');
  t.same([...fs.readFileSync(path.join(root, 'bin/tool'))], [0, 1, 2, 255]);
  t.equal(fs.readlinkSync(path.join(root, 'bin/link')), 'tool');
  t.equal(fs.statSync(path.join(root, 'bin/hard')).ino, fs.statSync(path.join(root, 'bin/tool')).ino, 'the hard link shares the inode');
  t.equal(fs.readFileSync(path.join(root, `long/${longName}`), 'utf8'), 'long\n');
  t.equal(fs.readFileSync(path.join(root, `${longFolder}file`), 'utf8'), 'deep\n');
});

t.test('hostile names and link targets reach the archive unchanged', async (t) => {
  const hostile: TarEntry[] = [
    { type: 'file', path: '../escape', content: 'x' },
    { type: 'file', path: '/absolute', content: 'x' },
    { type: 'symlink', path: 'out', target: '../../..' },
    { type: 'file', path: 'out/through-link', content: 'x' },
    { type: 'hardlink', path: 'leak', target: '/etc/shadow' },
  ];
  // --absolute-names: list the names as stored instead of the safe names GNU tar would extract to.
  const listed = await listWithGnuTar(t, gzipTar(writeTar(hostile)), ['--absolute-names']);
  t.same(
    listed.map((entry) => entry.name),
    ['../escape', '/absolute', 'out -> ../../..', 'out/through-link', 'leak link to /etc/shadow'],
  );
});

/**
 * Extracts a hostile layer with GNU tar into a fresh root and returns the
 * layer's checks that failed; whatever escaped is removed in teardown.
 */
async function extractHostile(t: Tap.Test, hostile: HostileLayer, tarArgs: readonly string[]): Promise<string[]> {
  const parent = tempDir(t, 'kp-hostile-');
  const root = path.join(parent, 'root');
  fs.mkdirSync(root);
  const resolve = (name: string) => (path.isAbsolute(name) ? name : path.resolve(root, name));
  t.teardown(() => {
    for (const name of hostile.cleanup) fs.rmSync(resolve(name), { recursive: true, force: true });
  });
  for (const victim of hostile.victims) fs.writeFileSync(resolve(victim.path), victim.content);
  const file = path.join(parent, 'hostile.tar.gz');
  fs.writeFileSync(file, gzipTar(writeTar(hostile.entries)));
  // GNU tar may refuse some entries and exit non-zero; only where the bytes went matters here.
  await execFileAsync('tar', ['-xzf', file, '-C', root, ...tarArgs]).catch(() => undefined);
  const failed: string[] = [];
  for (const name of hostile.mustNotExist) if (fs.existsSync(resolve(name))) failed.push(`${name} exists`);
  for (const name of hostile.mustKeep) {
    const victim = hostile.victims.find((candidate) => candidate.path === name);
    if (fs.readFileSync(resolve(name), 'utf8') !== victim?.content) failed.push(`${name} changed`);
  }
  for (const [inside, victim] of hostile.mustNotShareInode) {
    if (fs.lstatSync(resolve(inside), { throwIfNoEntry: false })?.ino === fs.statSync(resolve(victim)).ino) failed.push(`${inside} is ${victim}`);
  }
  return failed;
}

t.test('GNU tar, a safe extractor, passes every hostile layer check', async (t) => {
  const layers = hostileLayers({ sentinel: `kubeplug-escape-${randomBytes(4).toString('hex')}` });
  t.same(Object.keys(layers), [...hostileLayerKinds]);
  for (const hostile of Object.values(layers)) {
    t.same(await extractHostile(t, hostile, []), [], hostile.description);
  }
});

t.test('GNU tar told to keep names as stored (--absolute-names) fails the checks of every kind but symlinkOverwrite', async (t) => {
  const layers = hostileLayers({ sentinel: `kubeplug-escape-${randomBytes(4).toString('hex')}` });
  for (const hostile of Object.values(layers)) {
    const failed = await extractHostile(t, hostile, ['--absolute-names']);
    // GNU tar replaces a symlink by a later file of the same name even then, so that check has nothing to catch.
    if (hostile.kind === 'symlinkOverwrite') t.same(failed, [], hostile.description);
    else t.not(failed.length, 0, `${hostile.kind}: ${failed.join(', ')}`);
  }
});

t.test('building an image twice gives the same digests, and different images differ', { skip: noImages }, async (t) => {
  const first = buildTestImageSet();
  const second = buildTestImageSet();
  const digestOf = (build: (typeof first)[keyof typeof first]) => (build.kind === 'image' ? build.image.manifestDigest : build.index.indexDigest);
  for (const key of Object.keys(first) as (keyof typeof first)[]) {
    t.equal(digestOf(first[key]), digestOf(second[key]), `${key} is reproducible`);
  }
  const all = Object.values(first).map(digestOf);
  t.equal(new Set(all).size, all.length, 'every image has its own digest');
  const busybox = first.busybox.kind === 'image' ? first.busybox.image : undefined;
  const alt = first.busyboxAlt.kind === 'image' ? first.busyboxAlt.image : undefined;
  t.not(busybox?.configDigest, alt?.configDigest, 'busybox:1 and busybox:2 have different ids');
  t.equal(busybox?.layers[0]?.digest, alt?.layers[0]?.digest, 'they share the busybox base layer');
  t.same(busybox?.config.config.Entrypoint, alt?.config.config.Entrypoint, 'with the same entrypoint');
});

/** Checks that the manifest, config and layers of an image agree with each other and with the media types. */
function checkImageDocuments(t: Tap.Test, image: BuiltImage, types: typeof ociMediaTypes | typeof dockerMediaTypes): void {
  t.equal(image.manifestDigest, sha256Digest(image.manifestBytes));
  t.same(JSON.parse(image.manifestBytes.toString('utf8')), image.manifest);
  t.equal(image.manifest.mediaType, types.manifest);
  t.same(image.manifest.config, { mediaType: types.config, digest: sha256Digest(image.configBytes), size: image.configBytes.length });
  t.same(
    image.config.rootfs.diff_ids,
    image.layers.map((layer) => sha256Digest(gunzipSync(layer.data))),
    'diff ids are the digests of the uncompressed layers',
  );
  for (const [index, layer] of image.layers.entries()) {
    t.same(image.manifest.layers[index], { mediaType: types.layerGzip, digest: sha256Digest(layer.data), size: layer.data.length });
  }
}

t.test('manifests, configs and layers agree, with OCI or Docker schema 2 media types', { skip: noImages }, async (t) => {
  checkImageDocuments(t, buildTestImage({ name: 'oci' }), ociMediaTypes);
  checkImageDocuments(t, buildTestImage({ name: 'docker', format: 'docker' }), dockerMediaTypes);
  const plain = buildTestImage({ name: 'plain', compression: 'none', layers: [[{ type: 'file', path: 'a', content: 'a' }]] });
  t.equal(plain.manifest.layers[0]?.mediaType, ociMediaTypes.layerTar);
  t.equal(plain.layers[0]?.digest, plain.layers[0]?.diffId, 'an uncompressed layer is its own diff id');
});

t.test('an image index lists the foreign platform first and this host second', { skip: noImages }, async (t) => {
  const set = buildTestImageSet();
  t.equal(set.index.kind, 'index');
  if (set.index.kind !== 'index') return;
  const platforms = set.index.index.index.manifests.map((entry) => entry.platform?.architecture);
  t.same(platforms, [foreignPlatform().architecture, hostPlatform().architecture]);
  const rebuilt = buildImageIndex({ images: set.index.index.images });
  t.equal(rebuilt.indexDigest, set.index.index.indexDigest);
  t.equal(rebuilt.mediaType, ociMediaTypes.index);
});

t.test('the layers image writes whiteouts, an opaque marker and hard links in its top layer', { skip: noImages }, async (t) => {
  const build = buildTestImageSet().layers;
  if (build.kind !== 'image') throw new Error('the layers image is not an index');
  const top = build.image.layers.at(-1);
  if (top === undefined) throw new Error('no layers');
  const names = (await listWithGnuTar(t, top.data)).map((entry) => entry.name);
  for (const wanted of ['data/.wh.removed', 'data/.wh.removed-dir', 'data/opaque/.wh..wh..opq', 'data/added-link link to data/added']) {
    t.ok(names.includes(wanted), `${wanted} is in the top layer`);
  }
  t.equal(layersImageExpectations.files['/data/keep'], 'keep v2\n');
  t.equal(whiteout('data/dir/').path, 'data/.wh.dir', 'a whiteout of a folder named with a trailing slash');
  t.equal(opaqueWhiteout('data/dir/').path, 'data/dir/.wh..wh..opq');
});

t.test('the default image runs: busybox applets, the test user and its groups, a sticky /tmp', {
  skip: noImages ?? (process.getuid?.() === 0 ? false : 'needs root to chroot'),
}, async (t) => {
  const build = buildTestImageSet().user;
  if (build.kind !== 'image') throw new Error('the user image is not an index');
  const root = path.join(tempDir(t, 'kp-rootfs-'), 'rootfs');
  fs.mkdirSync(root);
  for (const layer of build.image.layers) {
    const file = `${root}.layer.tar.gz`;
    fs.writeFileSync(file, layer.data);
    await execFileAsync('tar', ['-xzf', file, '-C', root, '--numeric-owner']);
  }
  const script = 'id kubeplug; stat -c %a /tmp; cat /etc/kubeplug-test-image; echo $PATH';
  const { stdout } = await execFileAsync('chroot', [root, '/bin/env', '-i', 'PATH=/bin:/usr/bin', '/bin/sh', '-c', script]);
  t.equal(
    stdout,
    'uid=1000(kubeplug) gid=1000(kubeplug) groups=1000(kubeplug),1001(kubeplug-extra)\n1777\nkubeplug-test/user:1\n/bin:/usr/bin\n',
  );
});

t.test('provisioned images are served by tag and by digest, byte for byte, and provisioning again changes nothing', { skip: noRegistry }, async (t) => {
  const registry = await loopbackRegistry(t);
  const set = await provisionTestImages(registry.host);
  const builds = buildTestImageSet();
  t.same(Object.keys(set.images).sort(), Object.keys(testImageNames).sort());
  for (const [key, image] of Object.entries(set.images)) {
    const build = builds[key as keyof typeof builds];
    const bytes = build.kind === 'image' ? build.image.manifestBytes : build.index.indexBytes;
    const target = { registryHost: registry.host, repository: image.repository.slice(registry.host.length + 1) };
    const byTag = await getManifest(target, image.tag);
    t.equal(byTag.digest, image.manifestDigest, `${image.name} by tag has the expected digest`);
    t.equal(byTag.mediaType, image.mediaType);
    t.ok(byTag.bytes.equals(bytes), `${image.name} by tag is served byte for byte`);
    const byDigest = await getManifest(target, image.manifestDigest);
    t.ok(byDigest.bytes.equals(bytes), `${image.name} by digest is served byte for byte`);
    t.equal(image.reference, `${registry.host}/${image.name}`);
  }
  t.same(await provisionTestImages(registry.host), set, 'a second provisioning describes the same images');
});

t.test('a registry with basic auth accepts the right password and refuses a missing or wrong one', { skip: noRegistry }, async (t) => {
  const registry = await loopbackRegistry(t, { htpasswd: testRegistryCredentials });
  const image = buildTestImage({ name: 'auth' });
  const target = { registryHost: registry.host, repository: 'kubeplug-test/auth' };
  const refused = async (credentials: { user: string; password: string } | undefined, label: string) => {
    const error: unknown = await pushImage({ ...target, credentials }, image, '1').then(
      () => undefined,
      (caught: unknown) => caught,
    );
    t.ok(error instanceof RegistryHttpError && error.status === 401, label);
  };
  await refused(undefined, 'no credentials: 401');
  await refused({ user: testRegistryCredentials.user, password: 'wrong' }, 'a wrong password: 401');
  await pushImage({ ...target, credentials: testRegistryCredentials }, image, '1');
  t.equal(await manifestDigest({ ...target, credentials: testRegistryCredentials }, '1'), image.manifestDigest);
});

t.test('a test image registry with basic auth holds every test image, pulled with its credentials', { skip: noRegistry }, async (t) => {
  const dir = tempDir(t, 'kp-registry-');
  const started = await startTestImageRegistry({ dir, htpasswd: testRegistryCredentials });
  t.teardown(() => started.stop());
  const busybox = started.images.busybox;
  const target = { registryHost: started.registry.host, repository: 'kubeplug-test/busybox', credentials: testRegistryCredentials };
  t.equal(await manifestDigest(target, busybox.tag), busybox.manifestDigest);
  const anonymous = await manifestDigest({ ...target, credentials: undefined }, busybox.tag).then(
    () => undefined,
    (error: unknown) => error,
  );
  t.ok(anonymous instanceof RegistryHttpError && anonymous.status === 401, 'an anonymous pull is refused');
});

t.test('credentials other than the shipped ones are hashed on the spot and accepted', { skip: noRegistry }, async (t) => {
  const credentials = { user: 'someone', password: 'other-secret' };
  let line: string;
  try {
    line = htpasswdLine(credentials);
  } catch (error) {
    t.comment(`no bcrypt hasher here: ${String(error)}`);
    return;
  }
  t.match(line, /^someone:\$2[aby]\$/);
  const registry = await loopbackRegistry(t, { htpasswd: credentials });
  const index = buildImageIndex({ images: [buildTestImage({ name: 'index-auth' })] });
  const target = { registryHost: registry.host, repository: 'kubeplug-test/index-auth', credentials };
  await pushImageIndex(target, index, 'latest');
  t.equal(await manifestDigest(target, 'latest'), index.indexDigest);
});

/** The status of `GET /v2/`, or the error code when nothing answers. */
function probe(url: string): Promise<number | string> {
  return new Promise((resolve) => {
    http
      .get(`${url}/v2/`, { agent: false }, (response) => {
        response.resume();
        resolve(response.statusCode ?? 0);
      })
      .on('error', (error: NodeJS.ErrnoException) => resolve(error.code ?? 'error'));
  });
}

t.test('stop ends the registry process and frees its port', { skip: noRegistry }, async (t) => {
  const registry = await loopbackRegistry(t);
  t.equal(await probe(registry.url), 200);
  await registry.stop();
  t.throws(() => process.kill(registry.pid, 0), { code: 'ESRCH' }, 'the registry process is gone');
  t.equal(await probe(registry.url), 'ECONNREFUSED');
  await registry.stop();
  t.pass('stopping twice is harmless');
});

/** Whether a process is still there (a zombie counts as gone only once reaped, so poll). */
function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

t.test('a registry dies with the process that started it, even when that process is SIGKILLed', {
  skip: noRegistry ?? (fs.existsSync('/usr/bin/setpriv') ? false : 'needs setpriv (util-linux) for the parent-death signal'),
}, async (t) => {
  const dir = tempDir(t, 'kp-registry-');
  const moduleUrl = new URL('../../conformance/cri/test-images/loopback-registry.ts', import.meta.url).href;
  // The starter is a second Node process with tap's TypeScript loader, so it can import the source.
  const loader = process.execArgv.filter((arg) => arg.includes('@tapjs/typescript'));
  const code = [
    `import { startLoopbackRegistry } from ${JSON.stringify(moduleUrl)};`,
    'const registry = await startLoopbackRegistry({ dir: process.argv[1] });',
    'console.log(registry.pid);',
    'setInterval(() => {}, 1000);',
  ].join('\n');
  const starter = spawn(process.execPath, [...loader, '--input-type=module', '-e', code, dir], { stdio: ['ignore', 'pipe', 'inherit'] });
  t.teardown(() => {
    if (starter.exitCode === null && starter.signalCode === null) starter.kill('SIGKILL');
  });
  let output = '';
  starter.stdout.setEncoding('utf8');
  const pid = await new Promise<number>((resolve, reject) => {
    starter.stdout.on('data', (chunk: string) => {
      output += chunk;
      if (output.includes('\n')) resolve(Number(output.trim()));
    });
    starter.once('exit', (code) => reject(new Error(`the starter exited (${code}) before printing the registry pid`)));
  });
  t.teardown(() => {
    if (alive(pid)) process.kill(pid, 'SIGKILL');
  });
  t.ok(alive(pid), 'the registry runs');
  starter.kill('SIGKILL');
  const deadline = Date.now() + 5000;
  while (alive(pid) && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 50));
  t.notOk(alive(pid), 'the registry is gone once its starter is');
});

t.test('registryUnavailable names the missing binary', async (t) => {
  t.match(registryUnavailable('/nonexistent/docker-registry'), /\/nonexistent\/docker-registry/);
});
