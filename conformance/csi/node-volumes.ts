import fs from 'node:fs/promises';
import type {
  CreateVolumeRequest,
  NodePublishVolumeRequest,
  NodeStageVolumeRequest,
  Volume,
  VolumeCapability,
} from '../../specs/csi/index.js';
import type { CaseContext } from '../framework/index.js';
import { callController, callNode } from './csi-calls.js';
import type { CsiSubject } from './csi-subject.js';
import { describeOutcome, unknownVolumeId } from './expect-status.js';
import { mountsUnder } from './mount-checks.js';
import {
  createTestVolume,
  createVolumeRequest,
  deferNodeUnpublish,
  deferNodeUnstage,
  makeStagingPath,
  makeTargetPath,
  mountCapability,
  secretsFor,
} from './test-volumes.js';

type Ctx = CaseContext<CsiSubject>;

/** A volume made ready on this node: created, attached when the controller attaches, staged when the node stages. */
export interface NodeVolume {
  readonly volume: Volume;
  readonly capability: VolumeCapability;
  /** What ControllerPublishVolume returned, or nothing when the controller does not publish. */
  readonly publishContext: Readonly<Record<string, string>>;
  /** Where the volume is staged; empty when the plugin does not stage (STAGE_UNSTAGE_VOLUME). */
  readonly stagingPath: string;
}

/** A volume no plugin knows: a unique ID and nothing else, for NOT_FOUND and missing-field cases. */
export function missingVolume(ctx: Ctx): Volume {
  return { volumeId: unknownVolumeId(ctx), capacityBytes: 0n, volumeContext: {}, accessibleTopology: [] };
}

/** Whether the node plugin stages volumes before publishing them. */
export function stagesVolumes(ctx: Ctx): boolean {
  return ctx.subject.capabilities.has('node.STAGE_UNSTAGE_VOLUME');
}

/** The node's ID from NodeGetInfo; a refusal stops the case citing `ids`. */
export async function nodeIdOf(ctx: Ctx, ids: readonly string[]): Promise<string> {
  const info = await callNode(ctx, 'nodeGetInfo', {});
  ctx.require(info.ok && info.response.nodeId !== '', {
    ids,
    what: 'NodeGetInfo names this node (needed to attach the volume)',
    expected: 'OK with a node_id',
    got: info.ok ? info.response : describeOutcome(info),
  });
  return info.ok ? info.response.nodeId : '';
}

/**
 * Attaches a volume to this node when the controller advertises
 * PUBLISH_UNPUBLISH_VOLUME (as a CO does before any node call) and
 * registers the detach first; returns the publish context.
 */
export async function attachToThisNode(
  ctx: Ctx,
  volume: Volume,
  options: { ids: readonly string[]; capability: VolumeCapability; readonly?: boolean },
): Promise<Record<string, string>> {
  if (!ctx.subject.capabilities.has('controller.PUBLISH_UNPUBLISH_VOLUME')) return {};
  const nodeId = await nodeIdOf(ctx, options.ids);
  ctx.defer(
    () =>
      callController(ctx, 'controllerUnpublishVolume', {
        volumeId: volume.volumeId,
        nodeId,
        secrets: secretsFor(ctx, 'ControllerUnpublishVolumeSecret'),
      }),
    `controller-unpublish ${volume.volumeId}`,
  );
  const published = await callController(ctx, 'controllerPublishVolume', {
    volumeId: volume.volumeId,
    nodeId,
    volumeCapability: options.capability,
    readonly: options.readonly ?? false,
    secrets: secretsFor(ctx, 'ControllerPublishVolumeSecret'),
    volumeContext: volume.volumeContext,
  });
  ctx.require(published.ok, {
    ids: options.ids,
    what: `ControllerPublishVolume attaches ${volume.volumeId} to this node`,
    expected: 'OK',
    got: describeOutcome(published),
  });
  return published.ok ? published.response.publishContext : {};
}

/** A NodeStageVolume request for a volume at a staging path, with the run's secrets. */
export function stageRequest(
  ctx: Ctx,
  volume: Volume,
  stagingPath: string,
  options: { capability?: VolumeCapability; publishContext?: Readonly<Record<string, string>> } = {},
): NodeStageVolumeRequest {
  return {
    volumeId: volume.volumeId,
    publishContext: { ...options.publishContext },
    stagingTargetPath: stagingPath,
    volumeCapability: options.capability ?? mountCapability(),
    secrets: secretsFor(ctx, 'NodeStageVolumeSecret'),
    volumeContext: { ...volume.volumeContext },
  };
}

/**
 * Stages a volume at a fresh staging folder when the plugin stages, the
 * unstage registered first; returns the staging path ('' when not staging).
 */
export async function stageForCase(
  ctx: Ctx,
  volume: Volume,
  options: { ids: readonly string[]; capability: VolumeCapability; publishContext: Readonly<Record<string, string>>; stagingPath?: string },
): Promise<string> {
  if (!stagesVolumes(ctx)) return '';
  const stagingPath = options.stagingPath ?? (await makeStagingPath(ctx));
  deferNodeUnstage(ctx, volume.volumeId, stagingPath);
  const staged = await callNode(ctx, 'nodeStageVolume', stageRequest(ctx, volume, stagingPath, options));
  ctx.require(staged.ok, {
    ids: options.ids,
    what: `NodeStageVolume stages ${volume.volumeId}`,
    expected: 'OK',
    got: describeOutcome(staged),
  });
  return stagingPath;
}

/**
 * Creates a volume and makes it ready for NodePublishVolume as a CO would:
 * attached to this node if the controller attaches, staged if the node
 * stages. Every step's undo is registered before the step.
 */
export async function prepareNodeVolume(
  ctx: Ctx,
  options: {
    ids: readonly string[];
    capability?: VolumeCapability;
    request?: Partial<CreateVolumeRequest>;
    /** A volume the case made itself; otherwise one is created. */
    volume?: Volume;
    /** A staging folder the case made itself; otherwise a fresh one. */
    stagingPath?: string;
  },
): Promise<NodeVolume> {
  const capability = options.capability ?? mountCapability();
  const volume =
    options.volume ??
    (await createTestVolume(ctx, { ids: options.ids, request: { volumeCapabilities: [capability], ...options.request } }));
  const publishContext = await attachToThisNode(ctx, volume, { ids: options.ids, capability });
  const stagingPath = await stageForCase(ctx, volume, {
    ids: options.ids,
    capability,
    publishContext,
    ...(options.stagingPath === undefined ? {} : { stagingPath: options.stagingPath }),
  });
  return { volume, capability, publishContext, stagingPath };
}

/**
 * Creates a volume with options a plugin may refuse (another access type or
 * mode); its deletion is registered first. Returns undefined, with a note,
 * when the plugin refuses: the case then has nothing to judge.
 */
export async function tryCreateVolume(ctx: Ctx, request: Partial<CreateVolumeRequest>): Promise<Volume | undefined> {
  const full = createVolumeRequest(ctx, request);
  const created = await callController(ctx, 'createVolume', full);
  const volume = created.ok ? created.response.volume : undefined;
  if (volume === undefined) {
    ctx.note(`CreateVolume ${full.name} was refused: ${describeOutcome(created)}`);
    return undefined;
  }
  ctx.defer(
    () => callController(ctx, 'deleteVolume', { volumeId: volume.volumeId, secrets: secretsFor(ctx, 'DeleteVolumeSecret') }),
    `delete volume ${volume.volumeId}`,
  );
  return volume;
}

/** A NodePublishVolume request for a prepared volume at a target path. */
export function publishRequest(
  ctx: Ctx,
  nodeVolume: NodeVolume,
  targetPath: string,
  overrides: Partial<NodePublishVolumeRequest> = {},
): NodePublishVolumeRequest {
  return {
    volumeId: nodeVolume.volume.volumeId,
    publishContext: { ...nodeVolume.publishContext },
    stagingTargetPath: nodeVolume.stagingPath,
    targetPath,
    volumeCapability: nodeVolume.capability,
    readonly: false,
    secrets: secretsFor(ctx, 'NodePublishVolumeSecret'),
    volumeContext: { ...nodeVolume.volume.volumeContext },
    ...overrides,
  };
}

/**
 * Publishes a prepared volume at a fresh target path (or the one given), the
 * unpublish registered first; a refusal stops the case citing `ids`.
 */
export async function publishForCase(
  ctx: Ctx,
  nodeVolume: NodeVolume,
  options: { ids: readonly string[]; readonly?: boolean; targetPath?: string },
): Promise<string> {
  const targetPath = options.targetPath ?? (await makeTargetPath(ctx));
  deferNodeUnpublish(ctx, nodeVolume.volume.volumeId, targetPath);
  const published = await callNode(
    ctx,
    'nodePublishVolume',
    publishRequest(ctx, nodeVolume, targetPath, { readonly: options.readonly ?? false }),
  );
  ctx.require(published.ok, {
    ids: options.ids,
    what: `NodePublishVolume publishes ${nodeVolume.volume.volumeId} at ${targetPath}`,
    expected: 'OK',
    got: describeOutcome(published),
  });
  return targetPath;
}

/**
 * Unpublishes as a step the case builds on. If the plugin answers OK but
 * leaves a mount, the case stops citing CSI-NODE-039 (judged by its own
 * cases), so a broken unpublish is not blamed on the rule under test.
 */
export async function unpublishBeforeNextStep(ctx: Ctx, volumeId: string, targetPath: string): Promise<void> {
  const answer = await callNode(ctx, 'nodeUnpublishVolume', { volumeId, targetPath });
  const left = await mountsUnder(targetPath);
  ctx.require(answer.ok && left.length === 0, {
    ids: ['CSI-NODE-039'],
    what: `NodeUnpublishVolume of ${targetPath} succeeds and unmounts it (needed for the next step)`,
    expected: 'OK, no mount left',
    got: { status: describeOutcome(answer), mounts: left.map((entry) => entry.mountPoint) },
  });
}

/** Unstages as a step the case builds on; stops citing CSI-NODE-021 if a mount stays. @see unpublishBeforeNextStep */
export async function unstageBeforeNextStep(ctx: Ctx, volumeId: string, stagingPath: string): Promise<void> {
  const answer = await callNode(ctx, 'nodeUnstageVolume', { volumeId, stagingTargetPath: stagingPath });
  const left = await mountsUnder(stagingPath);
  ctx.require(answer.ok && left.length === 0, {
    ids: ['CSI-NODE-021'],
    what: `NodeUnstageVolume of ${stagingPath} succeeds and unmounts it (needed for the next step)`,
    expected: 'OK, no mount left',
    got: { status: describeOutcome(answer), mounts: left.map((entry) => entry.mountPoint) },
  });
}

/** What is at a path: `missing`, or its kind. */
export async function pathKind(target: string): Promise<'missing' | 'directory' | 'block-device' | 'file' | 'other'> {
  const stat = await fs.lstat(target).catch(() => undefined);
  if (stat === undefined) return 'missing';
  if (stat.isDirectory()) return 'directory';
  if (stat.isBlockDevice()) return 'block-device';
  if (stat.isFile()) return 'file';
  return 'other';
}

/** Writes a file through a published target; returns the error code on failure (`EROFS`, …) or 'written'. */
export async function tryWrite(file: string, content: string): Promise<string> {
  try {
    await fs.writeFile(file, content);
    return 'written';
  } catch (error) {
    return (error as NodeJS.ErrnoException).code ?? String(error);
  }
}

/** Reads a file through a published target, or undefined when it is not there. */
export async function tryRead(file: string): Promise<string | undefined> {
  return fs.readFile(file, 'utf8').catch(() => undefined);
}

/** Checks that an unpublished target holds no mount and no longer exists. */
export async function checkTargetGone(ctx: Ctx, targetPath: string, id: string): Promise<void> {
  const mounts = await mountsUnder(targetPath);
  ctx.check(mounts.length === 0, {
    ids: [id],
    what: 'after NodeUnpublishVolume nothing is mounted at or under the target (mount table)',
    expected: [],
    got: mounts.map((entry) => `${entry.mountPoint} (${entry.fsType} ${entry.source})`),
  });
  ctx.check((await pathKind(targetPath)) === 'missing', {
    ids: [id],
    what: 'after NodeUnpublishVolume the target path no longer exists (the plugin removes what it created)',
    expected: 'missing',
    got: await pathKind(targetPath),
  });
}
