import fs from 'node:fs/promises';
import path from 'node:path';
import {
  VolumeCapability_AccessMode_Mode,
  type CreateVolumeRequest,
  type Volume,
  type VolumeCapability,
} from '../../specs/csi/index.js';
import type { CaseContext } from '../framework/index.js';
import { callController, callNode } from './csi-calls.js';
import type { CsiSubject } from './csi-subject.js';
import type { SecretKey } from './run-config.js';

type Ctx = CaseContext<CsiSubject>;

/** A filesystem capability, read-write on one node: what every driver must support to be tested. */
export function mountCapability(
  mode: VolumeCapability_AccessMode_Mode = VolumeCapability_AccessMode_Mode.SINGLE_NODE_WRITER,
  fsType = '',
): VolumeCapability {
  return { accessType: { $case: 'mount', value: { fsType, mountFlags: [], volumeMountGroup: '' } }, accessMode: { mode } };
}

/** A raw block capability. */
export function blockCapability(
  mode: VolumeCapability_AccessMode_Mode = VolumeCapability_AccessMode_Mode.SINGLE_NODE_WRITER,
): VolumeCapability {
  return { accessType: { $case: 'block', value: {} }, accessMode: { mode } };
}

/** The secrets the run was given for one RPC (csi-sanity's key), or none. */
export function secretsFor(ctx: Ctx, key: SecretKey): Record<string, string> {
  return { ...ctx.subject.config.secrets[key] };
}

/**
 * A CreateVolume request as the suite sends it by default: a unique name,
 * the run's test size, parameters and secrets, one mount capability.
 */
export function createVolumeRequest(ctx: Ctx, overrides: Partial<CreateVolumeRequest> = {}): CreateVolumeRequest {
  return {
    name: ctx.uniqueName('kubeplug-vol'),
    capacityRange: { requiredBytes: BigInt(ctx.subject.config.testVolumeSizeBytes), limitBytes: 0n },
    volumeCapabilities: [mountCapability()],
    parameters: { ...ctx.subject.config.testVolumeParameters },
    secrets: secretsFor(ctx, 'CreateVolumeSecret'),
    mutableParameters: {},
    ...overrides,
  };
}

/**
 * Creates a volume the case needs as a precondition and registers its
 * deletion first, so it goes even when the case fails. A refusal stops the
 * case (ctx.require) citing the ids given.
 */
export async function createTestVolume(
  ctx: Ctx,
  options: { ids: readonly string[]; request?: Partial<CreateVolumeRequest> },
): Promise<Volume> {
  const request = createVolumeRequest(ctx, options.request);
  const created = await callController(ctx, 'createVolume', request);
  ctx.require(created.ok && created.response.volume !== undefined, {
    ids: options.ids,
    what: `CreateVolume "${request.name}" succeeds and returns a volume`,
    expected: 'OK with a volume',
    got: created.ok ? created.response : `${created.error.code}: ${created.error.message}`,
  });
  const volume = created.ok ? created.response.volume : undefined;
  if (volume === undefined) throw new Error('unreachable: required above');
  ctx.defer(async () => {
    await callController(ctx, 'deleteVolume', { volumeId: volume.volumeId, secrets: secretsFor(ctx, 'DeleteVolumeSecret') });
  }, `delete volume ${volume.volumeId}`);
  return volume;
}

/**
 * A fresh staging folder for one case, made by the suite as the CO must
 * (the CO creates staging_target_path), removed afterwards if empty.
 */
export async function makeStagingPath(ctx: Ctx): Promise<string> {
  const dir = path.join(ctx.subject.config.stagingDir, ctx.uniqueName('staging'));
  await fs.mkdir(dir);
  ctx.defer(() => fs.rmdir(dir).catch(() => undefined), `remove staging folder ${dir}`);
  return dir;
}

/**
 * A publish target path for one case: its parent exists (the CO's duty), the
 * path itself does not (the plugin creates it). The parent is removed
 * afterwards if the plugin left it empty.
 */
export async function makeTargetPath(ctx: Ctx): Promise<string> {
  const parent = path.join(ctx.subject.config.mountDir, ctx.uniqueName('pod'));
  await fs.mkdir(parent);
  ctx.defer(() => fs.rmdir(parent).catch(() => undefined), `remove target parent ${parent}`);
  return path.join(parent, 'volume');
}

/**
 * Registers the undo of a NodeStageVolume/NodePublishVolume so a failed case
 * leaves nothing mounted; errors of the undo are ignored (the case already
 * judged the plugin).
 */
export function deferNodeUnpublish(ctx: Ctx, volumeId: string, targetPath: string): void {
  ctx.defer(() => callNode(ctx, 'nodeUnpublishVolume', { volumeId, targetPath }), `unpublish ${volumeId} from ${targetPath}`);
}

/** @see deferNodeUnpublish */
export function deferNodeUnstage(ctx: Ctx, volumeId: string, stagingTargetPath: string): void {
  ctx.defer(
    () => callNode(ctx, 'nodeUnstageVolume', { volumeId, stagingTargetPath }),
    `unstage ${volumeId} from ${stagingTargetPath}`,
  );
}
