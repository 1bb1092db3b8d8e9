import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';

const execFileAsync = promisify(execFile);

/** Where Debian's busybox-static installs its statically linked busybox. */
export const debianBusybox = '/bin/busybox';

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

/** What {@link writeBusyboxImageArchive} builds. */
export interface BusyboxImageOptions {
  /** An existing folder to build in; the archive is written there. */
  readonly dir: string;
  /** The full name the image is imported under, with a tag, e.g. `kubeplug.test/pause:1`. */
  readonly reference: string;
  /** The image's entrypoint, run with /bin/busybox as the only file in the image. */
  readonly entrypoint: readonly string[];
  /** A statically linked busybox to copy in; {@link debianBusybox} when unset. */
  readonly busybox?: string;
}

/** An OCI image layout archive on disk. */
export interface ImageArchive {
  readonly path: string;
  readonly reference: string;
  /** `sha256:…` of the image manifest. */
  readonly manifestDigest: string;
}

/** Why a busybox image cannot be built here, or undefined when it can. */
export function busyboxImageUnavailable(busybox = debianBusybox): string | undefined {
  if (ociArchitectures[process.arch] === undefined) return `no OCI architecture known for ${process.arch}`;
  try {
    fs.accessSync(busybox, fs.constants.X_OK);
  } catch {
    return `needs a static busybox at ${busybox} (Debian package busybox-static)`;
  }
  return undefined;
}

interface Descriptor {
  readonly mediaType: string;
  readonly digest: string;
  readonly size: number;
}

/** Stores bytes under `blobs/sha256/<hex>` of an image layout and describes them. */
function writeBlob(layoutDir: string, mediaType: string, bytes: Buffer): Descriptor {
  const hex = createHash('sha256').update(bytes).digest('hex');
  fs.writeFileSync(path.join(layoutDir, 'blobs', 'sha256', hex), bytes);
  return { mediaType, digest: `sha256:${hex}`, size: bytes.length };
}

function jsonBytes(value: unknown): Buffer {
  return Buffer.from(JSON.stringify(value));
}

/**
 * Builds a one-layer OCI image holding only a static busybox and writes it
 * as an OCI image layout tar (`oci-layout`, `index.json`, `blobs/sha256/…`)
 * that `ctr images import` takes, so a test needs no registry and no network.
 * The layer is an uncompressed tar made by `tar` with fixed owners and times;
 * digests are computed here.
 * @see opencontainers/image-spec image-layout.md, manifest.md, config.md
 */
export async function writeBusyboxImageArchive(options: BusyboxImageOptions): Promise<ImageArchive> {
  const architecture = ociArchitectures[process.arch];
  if (architecture === undefined) throw new Error(`no OCI architecture known for ${process.arch}`);
  const work = fs.mkdtempSync(path.join(options.dir, 'oci-image-'));
  const rootfs = path.join(work, 'rootfs');
  const layout = path.join(work, 'layout');
  fs.mkdirSync(path.join(rootfs, 'bin'), { recursive: true });
  fs.mkdirSync(path.join(layout, 'blobs', 'sha256'), { recursive: true });
  fs.copyFileSync(options.busybox ?? debianBusybox, path.join(rootfs, 'bin', 'busybox'));
  fs.chmodSync(path.join(rootfs, 'bin', 'busybox'), 0o755);

  const layerTar = path.join(work, 'layer.tar');
  await execFileAsync('tar', ['--create', '--file', layerTar, '--numeric-owner', '--owner=0', '--group=0', '--mtime=@0', '--sort=name', '-C', rootfs, 'bin']);
  const layer = writeBlob(layout, 'application/vnd.oci.image.layer.v1.tar', fs.readFileSync(layerTar));

  const config = writeBlob(
    layout,
    'application/vnd.oci.image.config.v1+json',
    jsonBytes({
      architecture,
      os: 'linux',
      config: { Entrypoint: options.entrypoint, WorkingDir: '/' },
      // An uncompressed layer's diff ID is its own digest.
      rootfs: { type: 'layers', diff_ids: [layer.digest] },
    }),
  );
  const manifest = writeBlob(
    layout,
    'application/vnd.oci.image.manifest.v1+json',
    jsonBytes({ schemaVersion: 2, mediaType: 'application/vnd.oci.image.manifest.v1+json', config, layers: [layer] }),
  );
  const tagAt = options.reference.indexOf(':', options.reference.lastIndexOf('/'));
  if (tagAt < 0) throw new Error(`image reference ${options.reference} has no tag`);
  const tag = options.reference.slice(tagAt + 1);
  fs.writeFileSync(path.join(layout, 'oci-layout'), JSON.stringify({ imageLayoutVersion: '1.0.0' }));
  fs.writeFileSync(
    path.join(layout, 'index.json'),
    JSON.stringify({
      schemaVersion: 2,
      mediaType: 'application/vnd.oci.image.index.v1+json',
      manifests: [
        {
          ...manifest,
          platform: { architecture, os: 'linux' },
          // containerd's importer takes the full name from its own annotation; the OCI one holds only the tag.
          annotations: { 'io.containerd.image.name': options.reference, 'org.opencontainers.image.ref.name': tag },
        },
      ],
    }),
  );

  const archive = path.join(options.dir, 'image.oci.tar');
  await execFileAsync('tar', ['--create', '--file', archive, '--numeric-owner', '--owner=0', '--group=0', '-C', layout, 'oci-layout', 'index.json', 'blobs']);
  fs.rmSync(work, { recursive: true, force: true });
  return { path: archive, reference: options.reference, manifestDigest: manifest.digest };
}
