import type { TarEntry } from './tar-writer.js';
import { buildTestImage, busyboxBaseLayer, markerLayer, type BuiltImage } from './test-image.js';

/**
 * The ways a layer tries to write outside the folder it is extracted into.
 * @see opencontainers/image-spec layer.md (paths are relative to the root; implementations must not escape it)
 */
export const hostileLayerKinds = [
  'dotdot',
  'nestedDotdot',
  'absolutePath',
  'symlinkToParent',
  'symlinkAbsolute',
  'symlinkChain',
  'symlinkOverwrite',
  'hardlinkToParent',
  'hardlinkAbsolute',
  'whiteoutDotdot',
] as const;

/** One of {@link hostileLayerKinds}. */
export type HostileLayerKind = (typeof hostileLayerKinds)[number];

/**
 * A hostile layer and how to tell that extracting it stayed inside its root.
 * Paths starting with `/` are host paths; the others are relative to the
 * extraction root (and start with `../` when they lie beside it).
 */
export interface HostileLayer {
  readonly kind: HostileLayerKind;
  /** What the layer attempts, as a sentence. */
  readonly description: string;
  readonly entries: readonly TarEntry[];
  /** Files to create before extracting, so the layer has something outside the root to hit. */
  readonly victims: readonly { readonly path: string; readonly content: string }[];
  /** Must not exist after extracting: they would be writes outside the root. */
  readonly mustNotExist: readonly string[];
  /** Victims that must still hold their content after extracting. */
  readonly mustKeep: readonly string[];
  /** Pairs (inside the root, a victim) that must not be the same inode. */
  readonly mustNotShareInode: readonly (readonly [inside: string, victim: string])[];
  /** Every path outside the root this layer may create, for cleanup after a failed check. */
  readonly cleanup: readonly string[];
}

/**
 * The hostile layers, one per kind. `sentinel` (a name fragment such as
 * `kubeplug-escape-<random>`) goes into every path outside the root, so
 * parallel runs do not collide and leftovers are easy to recognise; paths on
 * the host are under /tmp.
 */
export function hostileLayers(options: { sentinel: string }): Record<HostileLayerKind, HostileLayer> {
  const s = options.sentinel;
  if (!/^[A-Za-z0-9._-]+$/.test(s)) throw new Error(`sentinel ${s} must be a plain file name`);
  const layer = (kind: HostileLayerKind, fields: Omit<HostileLayer, 'kind' | 'victims' | 'mustKeep' | 'mustNotShareInode' | 'cleanup'> & Partial<HostileLayer>): HostileLayer => ({
    kind,
    victims: [],
    mustKeep: [],
    mustNotShareInode: [],
    cleanup: [...fields.mustNotExist, ...(fields.victims ?? []).map((victim) => victim.path)],
    ...fields,
  });
  return {
    dotdot: layer('dotdot', {
      description: 'a file named ../x writes beside the root',
      entries: [{ type: 'file', path: `../${s}-dotdot`, content: 'escaped\n' }],
      mustNotExist: [`../${s}-dotdot`],
    }),
    nestedDotdot: layer('nestedDotdot', {
      description: 'a file named dir/../../x climbs out through a folder',
      entries: [
        { type: 'dir', path: 'nested/' },
        { type: 'file', path: `nested/../../${s}-nested`, content: 'escaped\n' },
      ],
      mustNotExist: [`../${s}-nested`],
    }),
    absolutePath: layer('absolutePath', {
      description: 'a file named /tmp/x writes to the host when the name is taken as absolute',
      entries: [{ type: 'file', path: `/tmp/${s}-absolute`, content: 'escaped\n' }],
      mustNotExist: [`/tmp/${s}-absolute`],
    }),
    symlinkToParent: layer('symlinkToParent', {
      description: 'a symlink to .. and then a file written through it',
      entries: [
        { type: 'symlink', path: 'up', target: '..' },
        { type: 'file', path: `up/${s}-through-parent-link`, content: 'escaped\n' },
      ],
      mustNotExist: [`../${s}-through-parent-link`],
    }),
    symlinkAbsolute: layer('symlinkAbsolute', {
      description: 'a symlink to /tmp and then a file written through it',
      entries: [
        { type: 'symlink', path: 'host-tmp', target: '/tmp' },
        { type: 'file', path: `host-tmp/${s}-through-absolute-link`, content: 'escaped\n' },
      ],
      mustNotExist: [`/tmp/${s}-through-absolute-link`],
    }),
    symlinkChain: layer('symlinkChain', {
      description: 'a symlink to a symlink to .., then a file written through the first',
      entries: [
        { type: 'symlink', path: 'hop-2', target: '..' },
        { type: 'symlink', path: 'hop-1', target: 'hop-2' },
        { type: 'file', path: `hop-1/${s}-through-link-chain`, content: 'escaped\n' },
      ],
      mustNotExist: [`../${s}-through-link-chain`],
    }),
    symlinkOverwrite: layer('symlinkOverwrite', {
      description: 'a symlink to a victim outside, then a regular file of the same name: the link is replaced, not written through',
      entries: [
        { type: 'symlink', path: 'overwrite-me', target: `../${s}-overwrite-victim` },
        { type: 'file', path: 'overwrite-me', content: 'escaped\n' },
      ],
      victims: [{ path: `../${s}-overwrite-victim`, content: 'victim\n' }],
      mustNotExist: [],
      mustKeep: [`../${s}-overwrite-victim`],
    }),
    hardlinkToParent: layer('hardlinkToParent', {
      description: 'a hard link to a file beside the root',
      entries: [{ type: 'hardlink', path: 'leak', target: `../${s}-link-victim` }],
      victims: [{ path: `../${s}-link-victim`, content: 'victim\n' }],
      mustNotExist: [],
      mustKeep: [`../${s}-link-victim`],
      mustNotShareInode: [['leak', `../${s}-link-victim`]],
    }),
    hardlinkAbsolute: layer('hardlinkAbsolute', {
      description: 'a hard link to a host file by absolute name',
      entries: [{ type: 'hardlink', path: 'leak-absolute', target: `/tmp/${s}-absolute-link-victim` }],
      victims: [{ path: `/tmp/${s}-absolute-link-victim`, content: 'victim\n' }],
      mustNotExist: [],
      mustKeep: [`/tmp/${s}-absolute-link-victim`],
      mustNotShareInode: [['leak-absolute', `/tmp/${s}-absolute-link-victim`]],
    }),
    whiteoutDotdot: layer('whiteoutDotdot', {
      description: 'a whiteout named ../.wh.x deletes a file beside the root',
      entries: [{ type: 'file', path: `../.wh.${s}-whiteout-victim`, content: '' }],
      victims: [{ path: `../${s}-whiteout-victim`, content: 'victim\n' }],
      mustNotExist: [`../.wh.${s}-whiteout-victim`],
      mustKeep: [`../${s}-whiteout-victim`],
    }),
  };
}

/**
 * A runnable image whose top layer is a hostile one: the busybox base, a
 * marker, then the hostile entries. A runtime must refuse it or keep every
 * write inside the layer's folder.
 */
export function buildHostileImage(hostile: HostileLayer): BuiltImage {
  const name = `kubeplug-test/hostile:${hostile.kind}`;
  return buildTestImage({ name, layers: [busyboxBaseLayer(), markerLayer(name), hostile.entries] });
}
