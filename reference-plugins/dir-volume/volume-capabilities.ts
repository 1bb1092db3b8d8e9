import { VolumeCapability_AccessMode_Mode as Mode, type VolumeCapability } from '../../specs/csi/index.js';
import type { AccessType } from './state-store.js';

/** The access modes this driver serves: every single-node mode. Multi-node modes need storage shared between nodes. */
export const supportedAccessModes: ReadonlySet<number> = new Set([
  Mode.SINGLE_NODE_WRITER,
  Mode.SINGLE_NODE_READER_ONLY,
  Mode.SINGLE_NODE_SINGLE_WRITER,
  Mode.SINGLE_NODE_MULTI_WRITER,
]);

/** The filesystem every mount volume gets; `fs_type` may name it or be empty. */
export const filesystemType = 'ext4';

/**
 * Mount options a CO may pass in mount_flags. A closed list, because mount(8)
 * options can name files and helpers (`loop=`, `offset=`, `helper=`,
 * `X-mount.*`), which a request must never reach.
 */
const allowedMountFlags = new Set([
  'ro', 'rw', 'noatime', 'relatime', 'strictatime', 'nodiratime', 'lazytime', 'nolazytime',
  'noexec', 'exec', 'nosuid', 'suid', 'nodev', 'dev', 'sync', 'async', 'dirsync',
  'discard', 'nodiscard', 'acl', 'noacl', 'user_xattr', 'nouser_xattr',
  'errors=continue', 'errors=remount-ro', 'errors=panic', 'barrier', 'nobarrier',
]);

/** A capability read into the terms this driver acts on. */
export interface ParsedCapability {
  readonly accessType: AccessType;
  readonly accessMode: number;
  readonly mountFlags: readonly string[];
  readonly fsType: string;
}

/** Why a capability cannot be served, with the CSI field at fault; `undefined` when it can. */
export interface CapabilityProblem {
  readonly field: string;
  readonly reason: string;
  /** `missing`: a required field is absent; `unsupported`: valid CSI this driver cannot serve; `invalid`: a value it refuses. */
  readonly kind: 'missing' | 'unsupported' | 'invalid';
}

/** The access mode's name for messages. */
export function accessModeName(mode: number): string {
  return Mode[mode] ?? `UNKNOWN(${mode})`;
}

/** Reads a capability, or reports the first reason this driver cannot serve it. */
export function parseCapability(capability: VolumeCapability, field: string): ParsedCapability | CapabilityProblem {
  const mode = capability.accessMode?.mode;
  if (mode === undefined || mode === Mode.UNKNOWN) return { field: `${field}.access_mode`, reason: 'is required', kind: 'missing' };
  if (!supportedAccessModes.has(mode)) {
    return { field: `${field}.access_mode`, reason: `${accessModeName(mode)} is not supported: volumes live on one node`, kind: 'unsupported' };
  }
  const accessType = capability.accessType;
  if (accessType === undefined) return { field: `${field}.access_type`, reason: 'is required (block or mount)', kind: 'missing' };
  if (accessType.$case === 'block') return { accessType: 'block', accessMode: mode, mountFlags: [], fsType: '' };
  const mount = accessType.value;
  if (mount.fsType !== '' && mount.fsType !== filesystemType) {
    return { field: `${field}.mount.fs_type`, reason: `${JSON.stringify(mount.fsType)} is not supported; only ${filesystemType}`, kind: 'unsupported' };
  }
  if (mount.volumeMountGroup !== '') return { field: `${field}.mount.volume_mount_group`, reason: 'is not supported (no VOLUME_MOUNT_GROUP capability)', kind: 'unsupported' };
  const badFlag = mount.mountFlags.find((flag) => !allowedMountFlags.has(flag));
  // The flag itself is not echoed: CSI warns mount_flags may carry sensitive data.
  if (badFlag !== undefined) return { field: `${field}.mount.mount_flags`, reason: `holds a mount option this driver does not accept (allowed: ${[...allowedMountFlags].join(', ')})`, kind: 'invalid' };
  return { accessType: 'mount', accessMode: mode, mountFlags: [...mount.mountFlags], fsType: filesystemType };
}

/** True when parseCapability reported a problem. */
export function isProblem(value: ParsedCapability | CapabilityProblem): value is CapabilityProblem {
  return 'reason' in value;
}

/** True for the modes whose publications must stay read-only. */
export function isReadOnlyMode(mode: number): boolean {
  return mode === Mode.SINGLE_NODE_READER_ONLY;
}

/** True for the mode that lets one node publish a volume at several targets at once. */
export function allowsSeveralTargets(mode: number): boolean {
  return mode === Mode.SINGLE_NODE_MULTI_WRITER;
}
