import { spawn } from 'node:child_process';
import path from 'node:path';
import { VolumeCapability_AccessMode_Mode as Mode, type VolumeCapability } from '../../specs/csi/index.js';
import type { CaseContext, Suite } from '../framework/index.js';
import { callNode } from './csi-calls.js';
import type { CsiSubject } from './csi-subject.js';
import { expectStatus } from './expect-status.js';
import { mountsAtPath } from './mount-checks.js';
import {
  checkTargetGone,
  pathKind,
  prepareNodeVolume,
  publishForCase,
  publishRequest,
  tryCreateVolume,
  tryRead,
  tryWrite,
  type NodeVolume,
} from './node-volumes.js';
import { blockCapability, deferNodeUnpublish, makeTargetPath, mountCapability } from './test-volumes.js';

type Ctx = CaseContext<CsiSubject>;

const createsVolumes = 'controller.CREATE_DELETE_VOLUME';

/** Declares the publish cases that depend on the access type or mode (specs/csi/SPEC.md, CSI-NODE). */
export function declareNodePublishModeCases(suite: Suite<CsiSubject>): void {
  suite.declare({
    ids: ['CSI-NODE-032'],
    title: 'A block volume is published as a block device at the target and removed on unpublish',
    needs: { capabilities: [createsVolumes] },
    async run(ctx: Ctx) {
      const capability = blockCapability();
      const volume = await tryCreateVolume(ctx, { volumeCapabilities: [capability] });
      if (volume === undefined) return ctx.notApplicable('the plugin does not create block volumes');
      const nodeVolume = await prepareNodeVolume(ctx, { ids: ['CSI-NODE-032'], capability, volume });
      const targetPath = await publishForCase(ctx, nodeVolume, { ids: ['CSI-NODE-032'] });
      ctx.check((await pathKind(targetPath)) === 'block-device', {
        ids: ['CSI-NODE-032'],
        what: 'the target path is a block device',
        expected: 'block-device',
        got: await pathKind(targetPath),
      });
      const unpublished = await callNode(ctx, 'nodeUnpublishVolume', { volumeId: volume.volumeId, targetPath });
      expectStatus(ctx, unpublished, 'OK', { ids: ['CSI-NODE-039'], what: 'NodeUnpublishVolume of the block volume' });
      await checkTargetGone(ctx, targetPath, 'CSI-NODE-039');
    },
  });

  suite.declare({
    ids: ['CSI-NODE-033'],
    title: 'A SINGLE_NODE_SINGLE_WRITER volume is refused at a second target with FAILED_PRECONDITION',
    needs: { capabilities: ['node.SINGLE_NODE_MULTI_WRITER', createsVolumes] },
    async run(ctx: Ctx) {
      const nodeVolume = await prepareModeVolume(ctx, Mode.SINGLE_NODE_SINGLE_WRITER, 'CSI-NODE-033');
      await publishForCase(ctx, nodeVolume, { ids: ['CSI-NODE-033'] });
      const second = await makeTargetPath(ctx);
      deferNodeUnpublish(ctx, nodeVolume.volume.volumeId, second);
      const answer = await callNode(ctx, 'nodePublishVolume', publishRequest(ctx, nodeVolume, second));
      expectStatus(ctx, answer, 'FAILED_PRECONDITION', { ids: ['CSI-NODE-033'], what: 'NodePublishVolume of the volume at a second target' });
    },
  });

  suite.declare({
    ids: ['CSI-NODE-034'],
    title: 'A multi-writer volume is published at a second target',
    needs: { capabilities: [createsVolumes] },
    async run(ctx: Ctx) {
      const mode = ctx.subject.capabilities.has('node.SINGLE_NODE_MULTI_WRITER')
        ? Mode.SINGLE_NODE_MULTI_WRITER
        : Mode.MULTI_NODE_MULTI_WRITER;
      const nodeVolume = await prepareModeVolume(ctx, mode, 'CSI-NODE-034');
      const first = await publishForCase(ctx, nodeVolume, { ids: ['CSI-NODE-034'] });
      const second = await makeTargetPath(ctx);
      deferNodeUnpublish(ctx, nodeVolume.volume.volumeId, second);
      const answer = await callNode(ctx, 'nodePublishVolume', publishRequest(ctx, nodeVolume, second));
      expectStatus(ctx, answer, 'OK', { ids: ['CSI-NODE-034'], what: `NodePublishVolume of a ${Mode[mode]} volume at a second target` });
      if (answer.ok) {
        await tryWrite(path.join(first, 'kubeplug-shared'), 'shared');
        ctx.check((await tryRead(path.join(second, 'kubeplug-shared'))) === 'shared', {
          ids: ['CSI-NODE-034'],
          what: 'both targets show the same volume: a file written through the first reads through the second',
          expected: 'shared',
          got: (await tryRead(path.join(second, 'kubeplug-shared'))) ?? 'no such file',
        });
      }
    },
  });

  suite.declare({
    ids: ['CSI-NODE-036'],
    title: 'A plugin with SINGLE_NODE_MULTI_WRITER still publishes SINGLE_NODE_WRITER volumes',
    needs: { capabilities: ['node.SINGLE_NODE_MULTI_WRITER', createsVolumes] },
    async run(ctx: Ctx) {
      const nodeVolume = await prepareNodeVolume(ctx, { ids: ['CSI-NODE-036'], capability: mountCapability(Mode.SINGLE_NODE_WRITER) });
      const targetPath = await publishForCase(ctx, nodeVolume, { ids: ['CSI-NODE-036'] });
      ctx.check((await mountsAtPath(targetPath)).length > 0, {
        ids: ['CSI-NODE-036'],
        what: 'the SINGLE_NODE_WRITER volume is mounted at the target',
        expected: 'a mount at the target',
        got: `${(await mountsAtPath(targetPath)).length} mount(s)`,
      });
    },
  });

  suite.declare({
    ids: ['CSI-NODE-059'],
    title: 'With VOLUME_MOUNT_GROUP a process of the mount group alone can write and read the published volume',
    needs: { capabilities: ['node.VOLUME_MOUNT_GROUP', createsVolumes], root: true },
    async run(ctx: Ctx) {
      const group = 4321;
      const nodeVolume = await prepareNodeVolume(ctx, { ids: ['CSI-NODE-059'], capability: mountGroupCapability(String(group)) });
      const targetPath = await publishForCase(ctx, nodeVolume, { ids: ['CSI-NODE-059'] });
      // uid 65534 (nobody) owns nothing in the volume: only the group can grant the write.
      const outcome = await runAs({ uid: 65534, gid: group }, targetPath, 'echo grouped > kubeplug-group-probe && cat kubeplug-group-probe');
      ctx.check(outcome.code === 0 && outcome.stdout.trim() === 'grouped', {
        ids: ['CSI-NODE-059'],
        what: `a process with uid 65534 and only group ${group} creates, writes and reads a file in the volume`,
        expected: 'exit 0, "grouped"',
        got: outcome,
      });
    },
  });
}

/** Creates a volume of one access mode and prepares it; not applicable when the plugin will not create it. */
async function prepareModeVolume(ctx: Ctx, mode: Mode, id: string): Promise<NodeVolume> {
  const capability = mountCapability(mode);
  const volume = await tryCreateVolume(ctx, { volumeCapabilities: [capability] });
  if (volume === undefined) return ctx.notApplicable(`the plugin does not create ${Mode[mode]} volumes`);
  return prepareNodeVolume(ctx, { ids: [id], capability, volume });
}

/** Runs a shell command as another user and group (no supplementary groups), in a folder. */
function runAs(
  identity: { uid: number; gid: number },
  cwd: string,
  command: string,
): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn('sh', ['-c', command], { cwd, uid: identity.uid, gid: identity.gid, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    child.on('error', (error) => resolve({ code: null, stdout, stderr: error.message }));
    child.on('close', (code) => resolve({ code, stdout, stderr }));
  });
}

/** A mount capability with a volume_mount_group. */
function mountGroupCapability(group: string): VolumeCapability {
  return {
    accessType: { $case: 'mount', value: { fsType: '', mountFlags: [], volumeMountGroup: group } },
    accessMode: { mode: Mode.SINGLE_NODE_WRITER },
  };
}
