import type { CaseContext, Suite } from '../framework/index.js';
import { callController, callNode } from './csi-calls.js';
import type { CsiSubject } from './csi-subject.js';
import { describeOutcome, unknownVolumeId } from './expect-status.js';
import { attachToThisNode, missingVolume, publishRequest, stageRequest, stagesVolumes } from './node-volumes.js';
import { checkNoSecretReflected, secretsWithCanary } from './secret-canary.js';
import { createSnapshotRequest, deferDeleteSnapshot } from './test-snapshots.js';
import { createTestVolume, deferNodeUnpublish, deferNodeUnstage, makeStagingPath, makeTargetPath, mountCapability } from './test-volumes.js';

type Ctx = CaseContext<CsiSubject>;

/** The general secrets rule (CSI-GEN), judged on the node calls that carry secrets. */
const id = 'CSI-GEN-014';
const snapshots = 'controller.CREATE_DELETE_SNAPSHOT';
const createsVolumes = 'controller.CREATE_DELETE_VOLUME';
/** Declares the cases that send secrets with node and snapshot calls and look for them in what comes back. */
export function declareSecretsCases(suite: Suite<CsiSubject>): void {
  suite.declare({
    ids: [id],
    title: 'Node calls that fail never carry their secrets in the status message',
    async run(ctx: Ctx) {
      const volume = missingVolume(ctx);
      const stagingPath = stagesVolumes(ctx) ? await makeStagingPath(ctx) : '';
      const targetPath = await makeTargetPath(ctx);
      deferNodeUnpublish(ctx, volume.volumeId, targetPath);
      if (stagesVolumes(ctx)) {
        deferNodeUnstage(ctx, volume.volumeId, stagingPath);
        const secrets = secretsWithCanary(ctx, 'NodeStageVolumeSecret');
        const staged = await callNode(ctx, 'nodeStageVolume', { ...stageRequest(ctx, volume, stagingPath), secrets });
        checkNoSecretReflected(ctx, 'NodeStageVolume of an unknown volume', staged, secrets);
      }
      const secrets = secretsWithCanary(ctx, 'NodePublishVolumeSecret');
      const nodeVolume = { volume, capability: mountCapability(), publishContext: {}, stagingPath };
      const published = await callNode(ctx, 'nodePublishVolume', { ...publishRequest(ctx, nodeVolume, targetPath), secrets });
      checkNoSecretReflected(ctx, 'NodePublishVolume of an unknown volume', published, secrets);
      const noCapability = await callNode(ctx, 'nodePublishVolume', { ...publishRequest(ctx, nodeVolume, targetPath), volumeCapability: undefined, secrets });
      checkNoSecretReflected(ctx, 'NodePublishVolume without a capability', noCapability, secrets);
    },
  });

  suite.declare({
    ids: [id],
    title: 'Node calls that succeed never carry their secrets in the response',
    needs: { capabilities: [createsVolumes] },
    async run(ctx: Ctx) {
      const capability = mountCapability();
      const volume = await createTestVolume(ctx, { ids: [id] });
      const publishContext = await attachToThisNode(ctx, volume, { ids: [id], capability });
      let stagingPath = '';
      if (stagesVolumes(ctx)) {
        stagingPath = await makeStagingPath(ctx);
        deferNodeUnstage(ctx, volume.volumeId, stagingPath);
        const secrets = secretsWithCanary(ctx, 'NodeStageVolumeSecret');
        const staged = await callNode(ctx, 'nodeStageVolume', { ...stageRequest(ctx, volume, stagingPath, { capability, publishContext }), secrets });
        checkNoSecretReflected(ctx, 'NodeStageVolume', staged, secrets);
        ctx.require(staged.ok, { ids: [id], what: 'NodeStageVolume with the secrets succeeds', expected: 'OK', got: describeOutcome(staged) });
      }
      const targetPath = await makeTargetPath(ctx);
      deferNodeUnpublish(ctx, volume.volumeId, targetPath);
      const secrets = secretsWithCanary(ctx, 'NodePublishVolumeSecret');
      const published = await callNode(ctx, 'nodePublishVolume', {
        ...publishRequest(ctx, { volume, capability, publishContext, stagingPath }, targetPath),
        secrets,
      });
      checkNoSecretReflected(ctx, 'NodePublishVolume', published, secrets);
      if (ctx.subject.capabilities.has('node.EXPAND_VOLUME') && published.ok) {
        const expandSecrets = secretsWithCanary(ctx, 'NodeExpandVolumeSecret');
        const expanded = await callNode(ctx, 'nodeExpandVolume', {
          volumeId: volume.volumeId,
          volumePath: targetPath,
          stagingTargetPath: stagingPath,
          volumeCapability: capability,
          secrets: expandSecrets,
        });
        checkNoSecretReflected(ctx, 'NodeExpandVolume', expanded, expandSecrets);
      }
    },
  });

  suite.declare({
    ids: [id],
    title: 'Snapshot calls never carry their secrets in a response or a status message',
    needs: { capabilities: [snapshots, createsVolumes] },
    async run(ctx: Ctx) {
      const volume = await createTestVolume(ctx, { ids: [id] });
      const secrets = secretsWithCanary(ctx, 'CreateSnapshotSecret');
      const created = await callController(ctx, 'createSnapshot', createSnapshotRequest(ctx, volume.volumeId, { secrets }));
      if (created.ok && created.response.snapshot !== undefined) deferDeleteSnapshot(ctx, created.response.snapshot.snapshotId);
      checkNoSecretReflected(ctx, 'CreateSnapshot', created, secrets);
      const refused = await callController(ctx, 'createSnapshot', createSnapshotRequest(ctx, unknownVolumeId(ctx), { secrets }));
      if (refused.ok && refused.response.snapshot !== undefined) deferDeleteSnapshot(ctx, refused.response.snapshot.snapshotId);
      checkNoSecretReflected(ctx, 'CreateSnapshot of an unknown volume', refused, secrets);
      if (ctx.subject.capabilities.has('controller.LIST_SNAPSHOTS')) {
        const listSecrets = secretsWithCanary(ctx, 'ListSnapshotsSecret');
        const listed = await callController(ctx, 'listSnapshots', { maxEntries: 0, startingToken: 'kubeplug-bad-token', sourceVolumeId: '', snapshotId: '', secrets: listSecrets });
        checkNoSecretReflected(ctx, 'ListSnapshots with a bad token', listed, listSecrets);
      }
    },
  });
}
