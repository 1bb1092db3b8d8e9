/** The CNI conformance suite: every case of every area, declared on one Suite. */
import { Suite } from '../framework/index.js';
import type { CniSubject } from './cni-subject.js';

export { connectCniSubject, CniSubjectError, type CniSubject, type ConnectCniOptions } from './cni-subject.js';

/** Builds the CNI suite with all its cases declared. */
export function createCniSuite(): Suite<CniSubject> {
  const suite = new Suite<CniSubject>('cni');
  return suite;
}
