/** The CSI conformance suite: every case of every area, declared on one Suite. */
import { Suite } from '../framework/index.js';
import type { CsiSubject } from './csi-subject.js';
import { declareIdentityCases } from './identity.cases.js';

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
  return suite;
}
