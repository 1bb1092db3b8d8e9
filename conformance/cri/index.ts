/** The CRI conformance suite: every case of every area, declared on one Suite. */
import { Suite } from '../framework/index.js';
import type { CriSubject } from './cri-subject.js';
import { declareRuntimeCases } from './runtime.cases.js';

export { connectCriSubject, criApiVersionName, type CriSubject, type ConnectCriOptions } from './cri-subject.js';
export { loadCriRunSettings, CriRunConfigError, type CriRun, type CriRunSettings } from './run-config.js';

/** Builds the CRI suite with all its cases declared. */
export function createCriSuite(): Suite<CriSubject> {
  const suite = new Suite<CriSubject>('cri');
  declareRuntimeCases(suite);
  return suite;
}
