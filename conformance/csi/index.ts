/** The CSI conformance suite: every case of every area, declared on one Suite. */
import { Suite } from '../framework/index.js';
import type { CsiSubject } from './csi-subject.js';
import { declareControllerCapabilityCases } from './controller-capabilities.cases.js';
import { declareControllerGetVolumeCases } from './controller-get-volume.cases.js';
import { declareControllerPublishCases } from './controller-publish.cases.js';
import { declareCreateVolumeCases } from './create-volume.cases.js';
import { declareDeleteVolumeCases } from './delete-volume.cases.js';
import { declareExpandVolumeCases } from './expand-volume.cases.js';
import { declareGeneralCases } from './general.cases.js';
import { declareGetCapacityCases } from './get-capacity.cases.js';
import { declareGroupSnapshotCases } from './group-snapshots.cases.js';
import { declareIdentityCases } from './identity.cases.js';
import { declareListSnapshotsCases } from './list-snapshots.cases.js';
import { declareListVolumesCases } from './list-volumes.cases.js';
import { declareModifyVolumeCases } from './modify-volume.cases.js';
import { declareNodeConcurrencyCases } from './node-concurrency.cases.js';
import { declareNodeExpandCases } from './node-expand.cases.js';
import { declareNodeInfoCases } from './node-info.cases.js';
import { declareNodePublishModeCases } from './node-publish-modes.cases.js';
import { declareNodePublishCases } from './node-publish.cases.js';
import { declareNodeRestartCases } from './node-restart.cases.js';
import { declareNodeStageCases } from './node-stage.cases.js';
import { declareNodeUnpublishCases } from './node-unpublish.cases.js';
import { declareNodeUnstageCases } from './node-unstage.cases.js';
import { declareNodeVolumeStatsCases } from './node-volume-stats.cases.js';
import { declareSecretsCases } from './secrets.cases.js';
import { declareSnapshotCases } from './snapshots.cases.js';
import { declareSocketCases } from './socket.cases.js';
import { declareValidateVolumeCapabilitiesCases } from './validate-volume-capabilities.cases.js';

export {
  loadCsiRunConfig,
  CsiRunConfigError,
  secretKeys,
  type CsiRunConfig,
  type CsiRunConfigInput,
  type CsiSecrets,
  type SecretKey,
} from './run-config.js';
export { connectCsiSubject, type CsiSubject, type CsiEndpoint, type ConnectCsiOptions } from './csi-subject.js';

/** Builds the CSI suite with all its cases declared. */
export function createCsiSuite(): Suite<CsiSubject> {
  const suite = new Suite<CsiSubject>('csi');
  declareIdentityCases(suite);
  declareSocketCases(suite);
  declareControllerCapabilityCases(suite);
  declareCreateVolumeCases(suite);
  declareDeleteVolumeCases(suite);
  declareValidateVolumeCapabilitiesCases(suite);
  declareListVolumesCases(suite);
  declareGetCapacityCases(suite);
  declareControllerPublishCases(suite);
  declareExpandVolumeCases(suite);
  declareControllerGetVolumeCases(suite);
  declareModifyVolumeCases(suite);
  declareGeneralCases(suite);
  declareSnapshotCases(suite);
  declareListSnapshotsCases(suite);
  declareGroupSnapshotCases(suite);
  declareNodeInfoCases(suite);
  declareNodeStageCases(suite);
  declareNodeUnstageCases(suite);
  declareNodePublishCases(suite);
  declareNodePublishModeCases(suite);
  declareNodeUnpublishCases(suite);
  declareNodeVolumeStatsCases(suite);
  declareNodeExpandCases(suite);
  declareNodeConcurrencyCases(suite);
  declareSecretsCases(suite);
  declareNodeRestartCases(suite);
  return suite;
}
