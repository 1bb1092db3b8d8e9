/** The CNI conformance suite: every case of every area, declared on one Suite. */
import { Suite } from '../framework/index.js';
import { declareAddCases } from './add.cases.js';
import { declareChainCases } from './chain.cases.js';
import { declareCheckCases } from './check.cases.js';
import type { CniSubject } from './cni-subject.js';
import { declareConcurrencyCases } from './concurrency.cases.js';
import { declareDelCases } from './del.cases.js';
import { declareErrorCases } from './errors.cases.js';
import { declareGcStatusCases } from './gc-status.cases.js';
import { declareIpamCases } from './ipam.cases.js';
import { declareNetworkModelCases } from './network-model.cases.js';
import { declareProtocolCases } from './protocol.cases.js';
import { declareResultShapeCases } from './result-shape.cases.js';
import { declareVersionCases } from './version.cases.js';

export { connectCniSubject, CniSubjectError, type CniSubject, type ConnectCniOptions } from './cni-subject.js';

/** Builds the CNI suite with all its cases declared, cheapest areas first. */
export function createCniSuite(): Suite<CniSubject> {
  const suite = new Suite<CniSubject>('cni');
  declareVersionCases(suite);
  declareProtocolCases(suite);
  declareErrorCases(suite);
  declareResultShapeCases(suite);
  declareAddCases(suite);
  declareDelCases(suite);
  declareCheckCases(suite);
  declareChainCases(suite);
  declareIpamCases(suite);
  declareGcStatusCases(suite);
  declareConcurrencyCases(suite);
  declareNetworkModelCases(suite);
  return suite;
}
