import { manifestDigest, pushImage, pushImageIndex, type RegistryTarget } from './push-image.js';
import type { RegistryCredentials } from './registry-htpasswd.js';
import type { TarEntry } from './tar-writer.js';
import {
  buildImageIndex,
  buildLayer,
  buildTestImage,
  busyboxBaseLayer,
  foreignPlatform,
  hostPlatform,
  markerLayer,
  opaqueWhiteout,
  testImageUser,
  whiteout,
  type BuiltImage,
  type BuiltImageIndex,
  type BuiltLayer,
  type TestImageConfig,
} from './test-image.js';

/**
 * The images the CRI suite, the runtime tests and the bench pull, by
 * repository and tag inside whatever registry they are provisioned to.
 */
export const testImageNames = {
  /** The default image: busybox, `sh -c` entrypoint, a loop that exits 0 on SIGTERM. */
  busybox: 'kubeplug-test/busybox:1',
  /** Same config as `busybox`, different content (marker), so it has another id. */
  busyboxAlt: 'kubeplug-test/busybox:2',
  /** `USER kubeplug` (uid 1000, gid 1000, supplementary 1001). */
  user: 'kubeplug-test/user:1',
  /** `USER 1000:1001`, numeric. */
  numericUser: 'kubeplug-test/user:numeric',
  /** `WORKDIR /srv/work`, holding a file `marker`. */
  workdir: 'kubeplug-test/workdir:1',
  /** `STOPSIGNAL SIGUSR1`; exits 0 on SIGUSR1 and ignores SIGTERM. */
  stopSignal: 'kubeplug-test/stopsignal:1',
  /** An OCI image index: a foreign-architecture manifest first, then this host's. */
  index: 'kubeplug-test/index:1',
  /** Base plus two layers with whiteouts, an opaque folder, hard links and a symlink. */
  layers: 'kubeplug-test/layers:1',
  /** The default image written with Docker schema 2 media types. */
  dockerSchema2: 'kubeplug-test/schema2:1',
} as const;

/** Names the images of {@link testImageNames}. */
export type TestImageKey = keyof typeof testImageNames;

/** Folder the layers image's extra layers write under. */
const layersRoot = 'data';

/**
 * What the layers image's root holds once its layers are applied in order:
 * the test for layer extraction and for a container's view of the rootfs.
 */
export const layersImageExpectations = {
  /** Regular files and their contents. */
  files: {
    '/data/keep': 'keep v2\n',
    '/data/original': 'hard-linked content\n',
    '/data/hardlink': 'hard-linked content\n',
    '/data/added': 'added in the top layer\n',
    '/data/added-link': 'added in the top layer\n',
    '/data/opaque/new': 'new after the opaque whiteout\n',
    '/data/private': 'private\n',
  },
  /** Paths that must not exist: hidden by whiteouts, or the whiteout files themselves. */
  absent: [
    '/data/removed',
    '/data/removed-dir',
    '/data/opaque/old-1',
    '/data/opaque/old-2',
    '/data/.wh.removed',
    '/data/.wh.removed-dir',
    '/data/opaque/.wh..wh..opq',
  ],
  /** Symlinks and their targets, written verbatim. */
  symlinks: { '/data/symlink': 'keep' },
  /** Pairs of paths that are one inode. */
  hardlinks: [
    ['/data/original', '/data/hardlink'],
    ['/data/added', '/data/added-link'],
  ],
  /** Owners and permission bits that must survive extraction. */
  owners: { '/data/private': { mode: 0o600, uid: testImageUser.uid, gid: testImageUser.gid } },
} as const;

/** The first extra layer of the layers image: what the top layer then hides or changes. */
function layersLowerLayer(): TarEntry[] {
  const user = testImageUser;
  return [
    { type: 'dir', path: `${layersRoot}/` },
    { type: 'file', path: `${layersRoot}/keep`, content: 'keep v1\n' },
    { type: 'file', path: `${layersRoot}/removed`, content: 'removed by a whiteout\n' },
    { type: 'dir', path: `${layersRoot}/removed-dir/` },
    { type: 'file', path: `${layersRoot}/removed-dir/inner`, content: 'inside a whited-out folder\n' },
    { type: 'dir', path: `${layersRoot}/opaque/` },
    { type: 'file', path: `${layersRoot}/opaque/old-1`, content: 'hidden by the opaque whiteout\n' },
    { type: 'file', path: `${layersRoot}/opaque/old-2`, content: 'hidden by the opaque whiteout\n' },
    { type: 'file', path: `${layersRoot}/original`, content: 'hard-linked content\n' },
    { type: 'hardlink', path: `${layersRoot}/hardlink`, target: `${layersRoot}/original` },
    { type: 'symlink', path: `${layersRoot}/symlink`, target: 'keep' },
    { type: 'file', path: `${layersRoot}/private`, content: 'private\n', mode: 0o600, uid: user.uid, gid: user.gid },
  ];
}

/** The top layer of the layers image: whiteouts, an opaque folder, a changed file, a new hard link. */
function layersUpperLayer(): TarEntry[] {
  return [
    { type: 'dir', path: `${layersRoot}/` },
    whiteout(`${layersRoot}/removed`),
    whiteout(`${layersRoot}/removed-dir`),
    { type: 'dir', path: `${layersRoot}/opaque/` },
    opaqueWhiteout(`${layersRoot}/opaque`),
    { type: 'file', path: `${layersRoot}/opaque/new`, content: 'new after the opaque whiteout\n' },
    { type: 'file', path: `${layersRoot}/keep`, content: 'keep v2\n' },
    { type: 'file', path: `${layersRoot}/added`, content: 'added in the top layer\n' },
    { type: 'hardlink', path: `${layersRoot}/added-link`, target: `${layersRoot}/added` },
  ];
}

/** The script of the stop-signal image: SIGUSR1 ends it with 0, SIGTERM is ignored. */
const waitForUsr1Script = `#!/bin/sh
# Only the image's STOPSIGNAL ends this gracefully; a runtime that sends SIGTERM must fall back to SIGKILL.
trap 'echo "stopped by SIGUSR1"; exit 0' USR1
trap '' TERM
echo ready
while :; do sleep 1; done
`;

/** One test image as built, before any push. */
export type TestImageBuild =
  | { readonly kind: 'image'; readonly image: BuiltImage; readonly marker: string }
  | { readonly kind: 'index'; readonly index: BuiltImageIndex; readonly marker: string };

/**
 * Builds every image of {@link testImageNames} in memory. The busybox base
 * layer is built once per media-type family and shared, as a registry and a
 * content store would share it.
 */
export function buildTestImageSet(): Record<TestImageKey, TestImageBuild> {
  const base: BuiltLayer = buildLayer(busyboxBaseLayer());
  const image = (name: string, options: { marker?: readonly TarEntry[]; extra?: readonly (readonly TarEntry[])[]; config?: TestImageConfig } = {}) => ({
    kind: 'image' as const,
    marker: `${name}\n`,
    image: buildTestImage({ name, layers: [base, options.marker ?? markerLayer(name), ...(options.extra ?? [])], config: options.config }),
  });
  const host = hostPlatform();
  const foreign = foreignPlatform();
  return {
    busybox: image(testImageNames.busybox),
    busyboxAlt: image(testImageNames.busyboxAlt),
    user: image(testImageNames.user, { config: { User: testImageUser.name } }),
    numericUser: image(testImageNames.numericUser, {
      config: { User: `${testImageUser.uid}:${testImageUser.supplementaryGroups[0]?.gid ?? testImageUser.gid}` },
    }),
    workdir: image(testImageNames.workdir, {
      marker: markerLayer(testImageNames.workdir, [
        { type: 'dir', path: 'srv/' },
        { type: 'dir', path: 'srv/work/' },
        { type: 'file', path: 'srv/work/marker', content: 'workdir\n' },
      ]),
      config: { WorkingDir: '/srv/work' },
    }),
    stopSignal: image(testImageNames.stopSignal, {
      marker: markerLayer(testImageNames.stopSignal, [
        { type: 'dir', path: 'usr/' },
        { type: 'dir', path: 'usr/bin/' },
        { type: 'file', path: 'usr/bin/wait-for-usr1', content: waitForUsr1Script, mode: 0o755 },
      ]),
      config: { StopSignal: 'SIGUSR1', Entrypoint: ['/usr/bin/wait-for-usr1'], Cmd: undefined },
    }),
    index: {
      kind: 'index',
      marker: `${testImageNames.index} ${host.os}/${host.architecture}\n`,
      index: buildImageIndex({
        images: [
          // Listed first so a runtime that takes the first entry instead of matching its platform gets a foreign image.
          buildTestImage({
            name: `${testImageNames.index} ${foreign.os}/${foreign.architecture}`,
            platform: foreign,
            layers: [markerLayer(`${testImageNames.index} ${foreign.os}/${foreign.architecture}`)],
          }),
          buildTestImage({
            name: `${testImageNames.index} ${host.os}/${host.architecture}`,
            platform: host,
            layers: [base, markerLayer(`${testImageNames.index} ${host.os}/${host.architecture}`)],
          }),
        ],
      }),
    },
    layers: image(testImageNames.layers, { extra: [layersLowerLayer(), layersUpperLayer()] }),
    dockerSchema2: {
      kind: 'image',
      marker: `${testImageNames.dockerSchema2}\n`,
      image: buildTestImage({
        name: testImageNames.dockerSchema2,
        format: 'docker',
        layers: [buildLayer(busyboxBaseLayer(), { format: 'docker' }), markerLayer(testImageNames.dockerSchema2)],
      }),
    },
  };
}

/** One provisioned image, with what a test compares a runtime's answers against. */
export interface ProvisionedTestImage {
  /** `kubeplug-test/busybox:1`. */
  readonly name: string;
  /** `<registryHost>/kubeplug-test/busybox:1`, what a test pulls. */
  readonly reference: string;
  /** `<registryHost>/kubeplug-test/busybox@sha256:…`, the same image by digest. */
  readonly digestReference: string;
  /** `<registryHost>/kubeplug-test/busybox`. */
  readonly repository: string;
  readonly tag: string;
  /** The digest the tag resolves to: the index's for an index. */
  readonly manifestDigest: string;
  readonly mediaType: string;
  /** The image id a runtime reports (config digest; for an index, of this host's image). */
  readonly id: string;
  /** The image config's `config` object (for an index, of this host's image). */
  readonly config: TestImageConfig;
  /** What /etc/kubeplug-test-image holds, newline included. */
  readonly marker: string;
  /** Layer digests (compressed), lowest first, of the image a runtime on this host unpacks. */
  readonly layerDigests: readonly string[];
}

/** Every image of {@link testImageNames} as provisioned to one registry. */
export interface TestImageSet {
  readonly registryHost: string;
  readonly images: Readonly<Record<TestImageKey, ProvisionedTestImage>>;
}

/** The image a runtime on this host ends up with. */
function runnableImage(build: TestImageBuild): BuiltImage {
  if (build.kind === 'image') return build.image;
  const host = hostPlatform();
  const match = build.index.images.find((image) => image.platform.architecture === host.architecture && image.platform.os === host.os);
  if (match === undefined) throw new Error('test image index lists no image for this host');
  return match;
}

/**
 * Pushes every image of {@link testImageNames} to a plain-http registry and
 * describes them. Idempotent: a tag already pointing at the expected digest is
 * left alone, and blobs the registry holds are not uploaded again.
 */
export async function provisionTestImages(registryHost: string, options: { credentials?: RegistryCredentials } = {}): Promise<TestImageSet> {
  const builds = buildTestImageSet();
  const images = {} as Record<TestImageKey, ProvisionedTestImage>;
  for (const key of Object.keys(testImageNames) as TestImageKey[]) {
    const name = testImageNames[key];
    const build = builds[key];
    const colon = name.lastIndexOf(':');
    const repository = name.slice(0, colon);
    const tag = name.slice(colon + 1);
    const target: RegistryTarget = { registryHost, repository, credentials: options.credentials };
    const expected = build.kind === 'image' ? build.image.manifestDigest : build.index.indexDigest;
    if ((await manifestDigest(target, tag)) !== expected) {
      if (build.kind === 'image') await pushImage(target, build.image, tag);
      else await pushImageIndex(target, build.index, tag);
    }
    const runnable = runnableImage(build);
    images[key] = {
      name,
      reference: `${registryHost}/${name}`,
      digestReference: `${registryHost}/${repository}@${expected}`,
      repository: `${registryHost}/${repository}`,
      tag,
      manifestDigest: expected,
      mediaType: build.kind === 'image' ? build.image.mediaType : build.index.mediaType,
      id: runnable.configDigest,
      config: runnable.config.config,
      marker: build.marker,
      layerDigests: runnable.layers.map((layer) => layer.digest),
    };
  }
  return { registryHost, images };
}
