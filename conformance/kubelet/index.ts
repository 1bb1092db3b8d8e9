/** The kubelet conformance suite: every case of every area, declared on one Suite, and how to start a kubelet to run it against. */
import { Suite } from '../framework/index.js';
import { declareDrainCases } from './drain.cases.js';
import { declareHookCases } from './hook.cases.js';
import { declareInitCases } from './init.cases.js';
import type { KubeletSubject } from './kubelet-subject.js';
import { declareManifestCases } from './manifest.cases.js';
import { declarePdbCases } from './pdb.cases.js';
import { declarePhaseCases } from './phase.cases.js';
import { declarePluginCases } from './plugin.cases.js';
import { declareProbeCases } from './probe.cases.js';
import { declareRestartCases } from './restart.cases.js';
import { declareSandboxCases } from './sandbox.cases.js';

export type { KubeletSubject, RecordedCall } from './kubelet-subject.js';
export { connectKubeletSubject, type ConnectKubeletOptions, type KubeletRunSubject } from './connect-kubelet-subject.js';
export { describePodStatus } from './kubelet-access.js';
export { startKubeletNode, kubeletNodeUnavailable, csiDriverName, type KubeletNode, type KubeletNodeOptions } from './kubelet-node.js';
export {
  loadKubeletRunSettings,
  defaultKubeletCommand,
  defaultMaxRestartPeriodSeconds,
  defaultDrainCommand,
  drainCommandPlaceholders,
  expandDrainCommand,
  expandKubeletCommand,
  kubeletCommandPlaceholders,
  KubeletRunConfigError,
  type KubeletRunInput,
  type KubeletRunSettings,
  type NodeRuntime,
  type PlaceholderValues,
} from './run-config.js';
export { CallRecorder, startCriSpy, startCsiSpy, type SpyProxy } from './spy-proxies.js';
export { attachKubeletSubject, attachedSkipReasons, type KubeletAttachSubject } from './attach-kubelet-subject.js';
export {
  attachModeFlags,
  attachModeRequiredFlags,
  checkKubeletAnswers,
  kubeletCertifyMode,
  loadKubeletAttachSettings,
  spawnModeFlags,
  upstreamMaxRestartPeriodSeconds,
  type KubeletAttachInput,
  type KubeletAttachSettings,
  type KubeletCertifyMode,
} from './attach-config.js';
export { parseKubeletUrl, getFromKubelet, KubeletUrlError, type KubeletUrl } from './kubelet-url.js';

/** Builds the kubelet suite with all its cases declared. */
export function createKubeletSuite(): Suite<KubeletSubject> {
  const suite = new Suite<KubeletSubject>('kubelet');
  declareManifestCases(suite);
  declareSandboxCases(suite);
  declareInitCases(suite);
  declarePhaseCases(suite);
  declareProbeCases(suite);
  declareRestartCases(suite);
  declareHookCases(suite);
  declarePluginCases(suite);
  declarePdbCases(suite);
  declareDrainCases(suite);
  return suite;
}
