/** The CRI conformance suite: every case of every area, declared on one Suite. */
import { Suite } from '../framework/index.js';
import type { CriSubject } from './cri-subject.js';
import { declareConcurrencyCases } from './concurrency.cases.js';
import { declareContainerLifecycleCases } from './container-lifecycle.cases.js';
import { declareContainerListCases } from './container-list.cases.js';
import { declareContainerMountCases } from './container-mounts.cases.js';
import { declareContainerProcessCases } from './container-process.cases.js';
import { declareContainerResourceCases } from './container-resources.cases.js';
import { declareContainerSecurityCases } from './container-security.cases.js';
import { declareContainerStopCases } from './container-stop.cases.js';
import { declareEventCases } from './event.cases.js';
import { declareExecCases } from './exec.cases.js';
import { declareImageAuthCases } from './image-auth.cases.js';
import { declareImageCases } from './image.cases.js';
import { declareLogCases } from './log.cases.js';
import { declareRuntimeCases } from './runtime.cases.js';
import { declareSandboxLifecycleCases } from './sandbox-lifecycle.cases.js';
import { declareSandboxListCases } from './sandbox-list.cases.js';
import { declareSandboxNamespaceCases } from './sandbox-namespaces.cases.js';
import { declareSandboxNetworkCases } from './sandbox-network.cases.js';
import { declareStatsListCases } from './stats-lists.cases.js';
import { declareMetricsCases } from './stats-metrics.cases.js';
import { declareSandboxStatsCases } from './stats-sandbox.cases.js';
import { declareStatsCases } from './stats.cases.js';
import { declareExecStreamingCases } from './exec-streaming.cases.js';
import { declareImageDigestCases } from './image-digests.cases.js';

export { connectCriSubject, criApiVersionName, type CriSubject, type ConnectCriOptions } from './cri-subject.js';
export { loadCriRunSettings, CriRunConfigError, type CriRun, type CriRunSettings } from './run-config.js';

/** Builds the CRI suite with all its cases declared. */
export function createCriSuite(): Suite<CriSubject> {
  const suite = new Suite<CriSubject>('cri');
  declareRuntimeCases(suite);
  declareSandboxLifecycleCases(suite);
  declareSandboxListCases(suite);
  declareSandboxNetworkCases(suite);
  declareSandboxNamespaceCases(suite);
  declareContainerLifecycleCases(suite);
  declareContainerStopCases(suite);
  declareContainerListCases(suite);
  declareContainerProcessCases(suite);
  declareContainerSecurityCases(suite);
  declareContainerMountCases(suite);
  declareContainerResourceCases(suite);
  declareExecCases(suite);
  declareExecStreamingCases(suite);
  declareLogCases(suite);
  declareStatsCases(suite);
  declareSandboxStatsCases(suite);
  declareStatsListCases(suite);
  declareMetricsCases(suite);
  declareEventCases(suite);
  declareImageCases(suite);
  declareImageAuthCases(suite);
  declareImageDigestCases(suite);
  declareConcurrencyCases(suite);
  return suite;
}
