import { createHash } from 'node:crypto';
import fs from 'node:fs';

import { gzipTar, writeTar, type TarEntry } from './tar-writer.js';

/** Where Debian's busybox-static installs its statically linked busybox. */
export const debianStaticBusybox = '/bin/busybox';

/** Media types of the OCI image spec. @see opencontainers/image-spec media-types.md */
export const ociMediaTypes = {
  manifest: 'application/vnd.oci.image.manifest.v1+json',
  index: 'application/vnd.oci.image.index.v1+json',
  config: 'application/vnd.oci.image.config.v1+json',
  layerGzip: 'application/vnd.oci.image.layer.v1.tar+gzip',
  layerTar: 'application/vnd.oci.image.layer.v1.tar',
} as const;

/** Media types of Docker's image manifest v2 schema 2. @see distribution/distribution docs/spec/manifest-v2-2.md */
export const dockerMediaTypes = {
  manifest: 'application/vnd.docker.distribution.manifest.v2+json',
  index: 'application/vnd.docker.distribution.manifest.list.v2+json',
  config: 'application/vnd.docker.container.image.v1+json',
  layerGzip: 'application/vnd.docker.image.rootfs.diff.tar.gzip',
  layerTar: 'application/vnd.docker.image.rootfs.diff.tar',
} as const;

/** Which family of media types an image is written with. */
export type ManifestFormat = 'oci' | 'docker';

/** The user and groups every test image's /etc/passwd and /etc/group declare. */
export const testImageUser = {
  name: 'kubeplug',
  uid: 1000,
  gid: 1000,
  home: '/home/kubeplug',
  /** Groups that list `kubeplug` as a member in /etc/group. */
  supplementaryGroups: [{ name: 'kubeplug-extra', gid: 1001 }],
} as const;

/**
 * Busybox applets linked into /bin of every test image; all are in Debian's
 * busybox-static 1.35 (`busybox --list`).
 */
export const busyboxApplets = [
  'awk', 'basename', 'cat', 'chmod', 'chown', 'cp', 'cut', 'date', 'dd', 'df', 'dirname', 'du', 'echo', 'env', 'expr',
  'false', 'find', 'free', 'grep', 'head', 'hostname', 'id', 'ip', 'kill', 'ln', 'ls', 'md5sum', 'mkdir', 'mkfifo',
  'mount', 'mv', 'nc', 'netstat', 'nproc', 'nslookup', 'ping', 'printf', 'ps', 'pwd', 'readlink', 'rm', 'rmdir',
  'sed', 'seq', 'setsid', 'sh', 'sha256sum', 'sleep', 'sort', 'stat', 'sync', 'tail', 'tee', 'test', 'timeout',
  'top', 'touch', 'tr', 'true', 'umount', 'uname', 'usleep', 'wc', 'wget', 'which', 'whoami', 'xargs', 'yes',
] as const;

/** The parts of an image config's `config` object the test images set. @see opencontainers/image-spec config.md */
export interface TestImageConfig {
  readonly Env?: readonly string[];
  readonly Entrypoint?: readonly string[];
  readonly Cmd?: readonly string[];
  readonly WorkingDir?: string;
  readonly User?: string;
  readonly StopSignal?: string;
  readonly Labels?: Readonly<Record<string, string>>;
  readonly ExposedPorts?: Readonly<Record<string, Record<string, never>>>;
  readonly Volumes?: Readonly<Record<string, Record<string, never>>>;
}

/** What {@link buildTestImage} builds. */
export interface TestImageOptions {
  /** A label for the image, recorded in its history; not part of any reference. */
  readonly name: string;
  /**
   * The layers, lowest first: each a list of tar entries, or a layer already
   * built (to share one blob between images). Unset: {@link busyboxBaseLayer}
   * then {@link markerLayer} of `name`.
   */
  readonly layers?: readonly (readonly TarEntry[] | BuiltLayer)[];
  /** Merged over {@link defaultTestImageConfig}. */
  readonly config?: TestImageConfig;
  /** `oci` (default) or Docker schema 2 media types. */
  readonly format?: ManifestFormat;
  /** Gzip the layers (default) or store them as plain tar. */
  readonly compression?: 'gzip' | 'none';
  /** The config's platform; this host's when unset. */
  readonly platform?: ImagePlatform;
  /** Annotations on the manifest (OCI only). */
  readonly annotations?: Readonly<Record<string, string>>;
}

/** An OCI platform. */
export interface ImagePlatform {
  readonly os: string;
  readonly architecture: string;
  readonly variant?: string;
}

/** A content descriptor. @see opencontainers/image-spec descriptor.md */
export interface Descriptor {
  readonly mediaType: string;
  readonly digest: string;
  readonly size: number;
  readonly platform?: ImagePlatform;
  readonly annotations?: Readonly<Record<string, string>>;
}

/** One built layer blob. */
export interface BuiltLayer {
  readonly mediaType: string;
  /** `sha256:` of the blob as stored (compressed when gzipped). */
  readonly digest: string;
  /** `sha256:` of the uncompressed tar, as listed in the config's rootfs.diff_ids. */
  readonly diffId: string;
  readonly size: number;
  readonly data: Buffer;
}

/** An image manifest as JSON. */
export interface ImageManifest {
  readonly schemaVersion: 2;
  readonly mediaType: string;
  readonly config: Descriptor;
  readonly layers: readonly Descriptor[];
  readonly annotations?: Readonly<Record<string, string>>;
}

/** An image config as JSON. */
export interface ImageConfigDocument {
  readonly created: string;
  readonly architecture: string;
  readonly os: string;
  readonly variant?: string;
  readonly config: TestImageConfig;
  readonly rootfs: { readonly type: 'layers'; readonly diff_ids: readonly string[] };
  readonly history: readonly { readonly created: string; readonly created_by: string; readonly comment?: string }[];
}

/** A complete image held in memory: every blob with its digest, ready to push. */
export interface BuiltImage {
  readonly name: string;
  readonly manifest: ImageManifest;
  /** The exact manifest bytes {@link manifestDigest} is computed over. */
  readonly manifestBytes: Buffer;
  readonly manifestDigest: string;
  readonly mediaType: string;
  readonly config: ImageConfigDocument;
  readonly configBytes: Buffer;
  /** `sha256:` of the config; what CRI reports as the image id. */
  readonly configDigest: string;
  readonly layers: readonly BuiltLayer[];
  readonly platform: ImagePlatform;
}

/** An image index held in memory with the images it points to. */
export interface BuiltImageIndex {
  readonly index: { readonly schemaVersion: 2; readonly mediaType: string; readonly manifests: readonly Descriptor[] };
  readonly indexBytes: Buffer;
  readonly indexDigest: string;
  readonly mediaType: string;
  readonly images: readonly BuiltImage[];
}

/** A fixed creation time, so configs and their digests are reproducible. */
const createdAt = '2024-01-01T00:00:00Z';

/** Node's `process.arch` → the OCI platform architecture. */
const ociArchitectures: Readonly<Partial<Record<NodeJS.Architecture, string>>> = {
  x64: 'amd64',
  arm64: 'arm64',
  arm: 'arm',
  ia32: '386',
  ppc64: 'ppc64le',
  s390x: 's390x',
  riscv64: 'riscv64',
};

/** The OCI platform of this host; throws when Node's architecture has no OCI name. */
export function hostPlatform(): ImagePlatform {
  const architecture = ociArchitectures[process.arch];
  if (architecture === undefined) throw new Error(`no OCI architecture known for ${process.arch}`);
  return { os: 'linux', architecture };
}

/** A platform that is not this host's, for index entries a runtime must not pick. */
export function foreignPlatform(): ImagePlatform {
  return hostPlatform().architecture === 's390x' ? { os: 'linux', architecture: 'riscv64' } : { os: 'linux', architecture: 's390x' };
}

/** Why the test images cannot be built here, or undefined when they can. */
export function testImagesUnavailable(busybox = debianStaticBusybox): string | undefined {
  if (ociArchitectures[process.arch] === undefined) return `no OCI architecture known for ${process.arch}`;
  try {
    fs.accessSync(busybox, fs.constants.R_OK);
  } catch {
    return `needs a static busybox at ${busybox} (Debian package busybox-static)`;
  }
  return undefined;
}

/** The config every test image starts from. */
export const defaultTestImageConfig = {
  Env: ['PATH=/bin:/usr/bin'],
  Entrypoint: ['/bin/sh', '-c'],
  // Exits 0 within a second of SIGTERM, so a default stop ends "Completed" without waiting for SIGKILL.
  Cmd: ['trap "exit 0" TERM INT; while :; do sleep 1; done'],
  WorkingDir: '/',
  Labels: { 'io.kubeplug.test-image': 'true' },
} as const satisfies TestImageConfig;

/** `sha256:<hex>` of some bytes. */
export function sha256Digest(data: Buffer): string {
  return `sha256:${createHash('sha256').update(data).digest('hex')}`;
}

/** A whiteout: the entry hiding `path` from the layers below. @see opencontainers/image-spec layer.md#whiteouts */
export function whiteout(path: string): TarEntry {
  const trimmed = path.replace(/\/+$/, '');
  const slash = trimmed.lastIndexOf('/');
  return { type: 'file', path: `${trimmed.slice(0, slash + 1)}.wh.${trimmed.slice(slash + 1)}`, content: '' };
}

/** An opaque whiteout: the entry hiding everything the layers below put in `dir`. */
export function opaqueWhiteout(dir: string): TarEntry {
  return { type: 'file', path: `${dir.replace(/\/+$/, '')}/.wh..wh..opq`, content: '' };
}

/**
 * The base layer of every test image: /bin/busybox with a symlink per applet,
 * /etc/passwd and /etc/group (root, `kubeplug` 1000:1000 in `kubeplug-extra`
 * 1001, nobody), empty /etc/hostname, /etc/hosts and /etc/resolv.conf, a
 * world-writable sticky /tmp, and the usual empty folders.
 * It is the same for every image, so images share its blob.
 */
export function busyboxBaseLayer(options: { busybox?: string } = {}): TarEntry[] {
  const user = testImageUser;
  const extra = user.supplementaryGroups.map((group) => `${group.name}:x:${group.gid}:${user.name}\n`).join('');
  return [
    { type: 'dir', path: 'bin/' },
    { type: 'file', path: 'bin/busybox', content: fs.readFileSync(options.busybox ?? debianStaticBusybox), mode: 0o755 },
    ...busyboxApplets.map((applet): TarEntry => ({ type: 'symlink', path: `bin/${applet}`, target: 'busybox' })),
    { type: 'dir', path: 'dev/' },
    { type: 'dir', path: 'etc/' },
    {
      type: 'file',
      path: 'etc/passwd',
      content:
        'root:x:0:0:root:/root:/bin/sh\n' +
        `${user.name}:x:${user.uid}:${user.gid}:kubeplug test user:${user.home}:/bin/sh\n` +
        'nobody:x:65534:65534:nobody:/nonexistent:/bin/false\n',
    },
    { type: 'file', path: 'etc/group', content: `root:x:0:\n${user.name}:x:${user.gid}:\n${extra}nogroup:x:65534:\n` },
    // Empty mount points for the files a runtime bind-mounts, so a read-only rootfs need not grow them.
    { type: 'file', path: 'etc/hostname', content: '' },
    { type: 'file', path: 'etc/hosts', content: '' },
    { type: 'file', path: 'etc/resolv.conf', content: '' },
    { type: 'dir', path: 'home/' },
    { type: 'dir', path: `${user.home.slice(1)}/`, uid: user.uid, gid: user.gid, mode: 0o750 },
    { type: 'dir', path: 'proc/' },
    { type: 'dir', path: 'root/', mode: 0o700 },
    { type: 'dir', path: 'run/' },
    { type: 'dir', path: 'sys/' },
    { type: 'dir', path: 'tmp/', mode: 0o1777 },
    { type: 'dir', path: 'usr/' },
    { type: 'dir', path: 'usr/bin/' },
    { type: 'dir', path: 'var/' },
  ];
}

/** The file that tells test images apart: `marker` in /etc/kubeplug-test-image. */
export const markerPath = '/etc/kubeplug-test-image';

/** A small layer writing `marker` (and a newline) to {@link markerPath}, plus any extra entries. */
export function markerLayer(marker: string, extra: readonly TarEntry[] = []): TarEntry[] {
  return [{ type: 'dir', path: 'etc/' }, { type: 'file', path: markerPath.slice(1), content: `${marker}\n` }, ...extra];
}

/** Stable JSON bytes; key order is the order the objects are built in. */
function jsonBytes(value: unknown): Buffer {
  return Buffer.from(JSON.stringify(value));
}

/** Tars (and gzips) one layer's entries and computes its digests. */
export function buildLayer(entries: readonly TarEntry[], options: { format?: ManifestFormat; compression?: 'gzip' | 'none' } = {}): BuiltLayer {
  const types = options.format === 'docker' ? dockerMediaTypes : ociMediaTypes;
  const tar = writeTar(entries);
  const diffId = sha256Digest(tar);
  if (options.compression === 'none') return { mediaType: types.layerTar, digest: diffId, diffId, size: tar.length, data: tar };
  const data = gzipTar(tar);
  return { mediaType: types.layerGzip, digest: sha256Digest(data), diffId, size: data.length, data };
}

function isTarEntryList(input: readonly TarEntry[] | BuiltLayer): input is readonly TarEntry[] {
  return Array.isArray(input);
}

/** Drops keys whose value is undefined, so they do not reach the JSON (and the digest). */
function definedOnly<T extends object>(value: T): T {
  return Object.fromEntries(Object.entries(value).filter(([, v]) => v !== undefined)) as T;
}

/**
 * Builds an image in memory: layers, config and manifest with their digests.
 * The same options always give the same digests.
 */
export function buildTestImage(options: TestImageOptions): BuiltImage {
  const format = options.format ?? 'oci';
  const types = format === 'docker' ? dockerMediaTypes : ociMediaTypes;
  const platform = options.platform ?? hostPlatform();
  const layerInputs = options.layers ?? [busyboxBaseLayer(), markerLayer(options.name)];
  const layers = layerInputs.map((input) =>
    isTarEntryList(input) ? buildLayer(input, { format, compression: options.compression ?? 'gzip' }) : input,
  );
  const config: ImageConfigDocument = definedOnly({
    created: createdAt,
    architecture: platform.architecture,
    os: platform.os,
    variant: platform.variant,
    config: definedOnly({ ...defaultTestImageConfig, ...options.config }),
    rootfs: { type: 'layers', diff_ids: layers.map((layer) => layer.diffId) },
    history: layers.map((_, index) => ({ created: createdAt, created_by: `kubeplug buildTestImage ${options.name} layer ${index}` })),
  });
  const configBytes = jsonBytes(config);
  const configDigest = sha256Digest(configBytes);
  const manifest: ImageManifest = definedOnly({
    schemaVersion: 2,
    mediaType: types.manifest,
    config: { mediaType: types.config, digest: configDigest, size: configBytes.length },
    layers: layers.map((layer) => ({ mediaType: layer.mediaType, digest: layer.digest, size: layer.size })),
    annotations: format === 'oci' ? options.annotations : undefined,
  });
  const manifestBytes = jsonBytes(manifest);
  return {
    name: options.name,
    manifest,
    manifestBytes,
    manifestDigest: sha256Digest(manifestBytes),
    mediaType: types.manifest,
    config,
    configBytes,
    configDigest,
    layers,
    platform,
  };
}

/**
 * Builds an image index (or Docker manifest list) pointing at each image's
 * manifest with the image's platform, in the order given.
 * @see opencontainers/image-spec image-index.md
 */
export function buildImageIndex(options: { images: readonly BuiltImage[]; format?: ManifestFormat }): BuiltImageIndex {
  const types = options.format === 'docker' ? dockerMediaTypes : ociMediaTypes;
  const index = {
    schemaVersion: 2 as const,
    mediaType: types.index,
    manifests: options.images.map(
      (image): Descriptor => ({
        mediaType: image.mediaType,
        digest: image.manifestDigest,
        size: image.manifestBytes.length,
        platform: definedOnly({ architecture: image.platform.architecture, os: image.platform.os, variant: image.platform.variant }),
      }),
    ),
  };
  const indexBytes = jsonBytes(index);
  return { index, indexBytes, indexDigest: sha256Digest(indexBytes), mediaType: types.index, images: options.images };
}
