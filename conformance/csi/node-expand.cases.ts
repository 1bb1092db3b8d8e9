import type { CaseContext, Suite } from '../framework/index.js';
import { callController, callNode } from './csi-calls.js';
import type { CsiSubject } from './csi-subject.js';
import { describeOutcome, expectStatus, unknownVolumeId } from './expect-status.js';
import { prepareNodeVolume, publishForCase } from './node-volumes.js';
import { createTestVolume, makeTargetPath, mountCapability, secretsFor } from './test-volumes.js';
import { unsupportedCapabilityOf } from './unsupported-capability.js';

type Ctx = CaseContext<CsiSubject>;

const expands = 'node.EXPAND_VOLUME';
const createsVolumes = 'controller.CREATE_DELETE_VOLUME';

/** Declares the NodeExpandVolume cases (specs/csi/SPEC.md, CSI-NODE). */
export function declareNodeExpandCases(suite: Suite<CsiSubject>): void {
  suite.declare({
    ids: ['CSI-NODE-052'],
    title: 'NodeExpandVolume without a volume ID or a volume path is refused with INVALID_ARGUMENT',
    needs: { capabilities: [expands, createsVolumes] },
    async run(ctx: Ctx) {
      const volume = await createTestVolume(ctx, { ids: ['CSI-NODE-052'] });
      const somePath = await makeTargetPath(ctx);
      const noId = await callNode(ctx, 'nodeExpandVolume', {
        volumeId: '',
        volumePath: somePath,
        stagingTargetPath: '',
        volumeCapability: mountCapability(),
        secrets: secretsFor(ctx, 'NodeExpandVolumeSecret'),
      });
      expectStatus(ctx, noId, 'INVALID_ARGUMENT', { ids: ['CSI-NODE-052'], what: 'NodeExpandVolume without volume_id' });
      const noPath = await callNode(ctx, 'nodeExpandVolume', {
        volumeId: volume.volumeId,
        volumePath: '',
        stagingTargetPath: '',
        volumeCapability: mountCapability(),
        secrets: secretsFor(ctx, 'NodeExpandVolumeSecret'),
      });
      expectStatus(ctx, noPath, 'INVALID_ARGUMENT', { ids: ['CSI-NODE-052'], what: 'NodeExpandVolume of an existing volume without volume_path' });
    },
  });

  suite.declare({
    ids: ['CSI-NODE-053'],
    title: 'NodeExpandVolume of a volume that does not exist fails with NOT_FOUND',
    needs: { capabilities: [expands] },
    async run(ctx: Ctx) {
      const volumeId = unknownVolumeId(ctx);
      const answer = await callNode(ctx, 'nodeExpandVolume', {
        volumeId,
        volumePath: await makeTargetPath(ctx),
        stagingTargetPath: '',
        secrets: secretsFor(ctx, 'NodeExpandVolumeSecret'),
      });
      expectStatus(ctx, answer, 'NOT_FOUND', { ids: ['CSI-NODE-053'], what: `NodeExpandVolume of unknown volume ${volumeId}` });
    },
  });

  suite.declare({
    ids: ['CSI-NODE-051', 'CSI-NODE-054'],
    title: 'NodeExpandVolume grows a published volume, and asking again for the same size answers OK',
    needs: { capabilities: [expands, createsVolumes] },
    async run(ctx: Ctx) {
      const size = BigInt(ctx.subject.config.testVolumeSizeBytes);
      const expanded = size * 2n;
      const nodeVolume = await prepareNodeVolume(ctx, { ids: ['CSI-NODE-051'] });
      if (ctx.subject.capabilities.has('controller.EXPAND_VOLUME')) {
        const grown = await callController(ctx, 'controllerExpandVolume', {
          volumeId: nodeVolume.volume.volumeId,
          capacityRange: { requiredBytes: expanded, limitBytes: 0n },
          secrets: secretsFor(ctx, 'ControllerExpandVolumeSecret'),
          volumeCapability: nodeVolume.capability,
        });
        ctx.require(grown.ok, { ids: ['CSI-NODE-051'], what: 'ControllerExpandVolume grows the volume first', expected: 'OK', got: describeOutcome(grown) });
      }
      const targetPath = await publishForCase(ctx, nodeVolume, { ids: ['CSI-NODE-051'] });
      const request = {
        volumeId: nodeVolume.volume.volumeId,
        volumePath: targetPath,
        capacityRange: { requiredBytes: expanded, limitBytes: 0n },
        stagingTargetPath: nodeVolume.stagingPath,
        volumeCapability: nodeVolume.capability,
        secrets: secretsFor(ctx, 'NodeExpandVolumeSecret'),
      };
      const answer = await callNode(ctx, 'nodeExpandVolume', request);
      if (!expectStatus(ctx, answer, 'OK', { ids: ['CSI-NODE-051'], what: 'NodeExpandVolume of the published volume' }) || !answer.ok) return;
      const reported = answer.response.capacityBytes;
      ctx.check(reported === 0n || reported >= expanded, {
        ids: ['CSI-NODE-051'],
        what: 'a capacity_bytes reported is at least the size asked for',
        expected: `0 (not reported) or >= ${expanded}`,
        got: reported.toString(),
      });
      const again = await callNode(ctx, 'nodeExpandVolume', request);
      expectStatus(ctx, again, 'OK', { ids: ['CSI-NODE-054'], what: 'NodeExpandVolume again to the size the volume now has' });
    },
  });

  suite.declare({
    ids: ['CSI-NODE-055'],
    title: 'NodeExpandVolume with a capability the volume lacks fails with INVALID_ARGUMENT',
    needs: { capabilities: [expands, createsVolumes] },
    async run(ctx: Ctx) {
      const nodeVolume = await prepareNodeVolume(ctx, { ids: ['CSI-NODE-055'] });
      const unsupported = await unsupportedCapabilityOf(ctx, nodeVolume.volume);
      const targetPath = await publishForCase(ctx, nodeVolume, { ids: ['CSI-NODE-055'] });
      const answer = await callNode(ctx, 'nodeExpandVolume', {
        volumeId: nodeVolume.volume.volumeId,
        volumePath: targetPath,
        capacityRange: { requiredBytes: BigInt(ctx.subject.config.testVolumeSizeBytes), limitBytes: 0n },
        stagingTargetPath: nodeVolume.stagingPath,
        volumeCapability: unsupported.capability,
        secrets: secretsFor(ctx, 'NodeExpandVolumeSecret'),
      });
      expectStatus(ctx, answer, 'INVALID_ARGUMENT', { ids: ['CSI-NODE-055'], what: `NodeExpandVolume with ${unsupported.label}` });
    },
  });
}
