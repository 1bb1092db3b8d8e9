import type { CaseContext, Suite } from '../framework/index.js';
import { callNode } from './csi-calls.js';
import type { CsiSubject } from './csi-subject.js';
import { expectStatus } from './expect-status.js';
import { mountsAtPath, mountsUnder } from './mount-checks.js';
import { pathKind, prepareNodeVolume, publishForCase, publishRequest } from './node-volumes.js';
import { restartPlugin } from './restart-plugin.js';
import { deferNodeUnpublish, makeTargetPath } from './test-volumes.js';

type Ctx = CaseContext<CsiSubject>;

const id = 'CSI-NODE-060';
const createsVolumes = 'controller.CREATE_DELETE_VOLUME';

/** Declares the cases that restart the plugin between node calls (specs/csi/SPEC.md, CSI-NODE-060); they need --restart-command. */
export function declareNodeRestartCases(suite: Suite<CsiSubject>): void {
  suite.declare({
    ids: [id],
    title: 'A volume staged before a plugin restart is published and cleaned up after it',
    needs: { capabilities: ['node.STAGE_UNSTAGE_VOLUME', createsVolumes] },
    timeoutMs: 120_000,
    async run(ctx: Ctx) {
      skipWithoutRestartCommand(ctx);
      const nodeVolume = await prepareNodeVolume(ctx, { ids: [id] });
      await restartPlugin(ctx, [id]);
      const targetPath = await makeTargetPath(ctx);
      deferNodeUnpublish(ctx, nodeVolume.volume.volumeId, targetPath);
      const published = await callNode(ctx, 'nodePublishVolume', publishRequest(ctx, nodeVolume, targetPath));
      expectStatus(ctx, published, 'OK', { ids: [id], what: 'NodePublishVolume after the restart finds the earlier staging' });
      ctx.check((await mountsAtPath(targetPath)).length > 0, {
        ids: [id],
        what: 'the target is a mount point',
        expected: 'a mount',
        got: `${(await mountsAtPath(targetPath)).length} mount(s)`,
      });
      await undoAndCheck(ctx, nodeVolume.volume.volumeId, targetPath, nodeVolume.stagingPath);
    },
  });

  suite.declare({
    ids: [id],
    title: 'A volume published before a plugin restart is republished idempotently and cleaned up after it',
    needs: { capabilities: [createsVolumes] },
    timeoutMs: 120_000,
    async run(ctx: Ctx) {
      skipWithoutRestartCommand(ctx);
      const nodeVolume = await prepareNodeVolume(ctx, { ids: [id] });
      const targetPath = await publishForCase(ctx, nodeVolume, { ids: [id] });
      const mountsBefore = (await mountsAtPath(targetPath)).length;
      await restartPlugin(ctx, [id]);
      const again = await callNode(ctx, 'nodePublishVolume', publishRequest(ctx, nodeVolume, targetPath));
      expectStatus(ctx, again, 'OK', { ids: [id], what: 'NodePublishVolume with the same arguments after the restart' });
      ctx.check((await mountsAtPath(targetPath)).length === mountsBefore, {
        ids: [id],
        what: 'the republish after the restart stacks no second mount',
        expected: `${mountsBefore} mount(s)`,
        got: `${(await mountsAtPath(targetPath)).length} mount(s)`,
      });
      await undoAndCheck(ctx, nodeVolume.volume.volumeId, targetPath, nodeVolume.stagingPath);
    },
  });
}

/** Skips the case before it creates anything when the run has no --restart-command. */
function skipWithoutRestartCommand(ctx: Ctx): void {
  if (ctx.subject.config.restartCommand === undefined) ctx.skip('needs --restart-command');
}

/** Unpublishes and unstages, then checks in the mount table that nothing is left. */
async function undoAndCheck(ctx: Ctx, volumeId: string, targetPath: string, stagingPath: string): Promise<void> {
  const unpublished = await callNode(ctx, 'nodeUnpublishVolume', { volumeId, targetPath });
  expectStatus(ctx, unpublished, 'OK', { ids: [id], what: 'NodeUnpublishVolume after the restart' });
  const atTarget = await mountsUnder(targetPath);
  ctx.check(atTarget.length === 0 && (await pathKind(targetPath)) === 'missing', {
    ids: [id],
    what: 'no mount remains at the target, and the target is gone',
    expected: 'no mounts, missing',
    got: { mounts: atTarget.map((entry) => entry.mountPoint), target: await pathKind(targetPath) },
  });
  if (stagingPath === '') return;
  const unstaged = await callNode(ctx, 'nodeUnstageVolume', { volumeId, stagingTargetPath: stagingPath });
  expectStatus(ctx, unstaged, 'OK', { ids: [id], what: 'NodeUnstageVolume after the restart' });
  const atStaging = await mountsUnder(stagingPath);
  ctx.check(atStaging.length === 0, {
    ids: [id],
    what: 'no mount remains at the staging path',
    expected: [],
    got: atStaging.map((entry) => entry.mountPoint),
  });
}
