#!/usr/bin/env node
// `npm run demo:multinode`: issue 7's multi-node demonstration, step by step
// (the same scenario test/multinode/drain-demo.test.ts asserts). Needs root,
// Linux, runc and Debian's docker-registry and busybox-static, and a build
// (the npm script builds first). Everything it starts is stopped at the end,
// on failure and on Ctrl-C. Exit 0 when every claim held, 1 otherwise.
import { CleanupStack } from '../dist/conformance/framework/index.js';
import { registryUnavailable } from '../dist/conformance/cri/test-images/loopback-registry.js';
import { testImagesUnavailable } from '../dist/conformance/cri/test-images/test-image.js';
import { drainDemoShortfalls, runDrainDemo } from '../dist/conformance/kubelet/drain-demo.js';
import { startKubeletCluster } from '../dist/conformance/kubelet/kubelet-cluster.js';
import { kubeletNodeUnavailable } from '../dist/conformance/kubelet/kubelet-node.js';
import { loadKubeletRunSettings } from '../dist/conformance/kubelet/run-config.js';

const started = Date.now();
const say = (line) => process.stdout.write(`[${((Date.now() - started) / 1000).toFixed(1).padStart(5)} s] ${line}\n`);

const unavailable = kubeletNodeUnavailable(loadKubeletRunSettings({})) ?? registryUnavailable() ?? testImagesUnavailable();
if (unavailable !== undefined) {
  process.stderr.write(`demo:multinode cannot run here: ${unavailable}\n`);
  process.exit(2);
}

const cleanup = new CleanupStack();
let stopping;
const stopAll = () => (stopping ??= cleanup.unwind(60_000));
for (const signal of ['SIGINT', 'SIGTERM']) {
  process.once(signal, () => {
    say(`${signal}: stopping everything`);
    void stopAll().finally(() => process.exit(130));
  });
}

let exitCode = 1;
try {
  say('starting three nodes (process runtime, kubeplug-bridge, reference kubelet with --peer-kubelet), one registry, an underlay between them');
  const cluster = await startKubeletCluster({ peerKubelets: true, registerStop: (stop) => cleanup.push(stop, 'stop the cluster') });
  for (const node of cluster.nodes) say(`${node.name}: pods ${node.podRange}, underlay ${node.address}, kubelet ${node.url}`);
  const record = await runDrainDemo({ cluster, step: say, defer: async (undo, label) => cleanup.push(undo, label) });
  const problems = drainDemoShortfalls(record);
  say(`drain blocked after ${(record.timeline.blockedAtMs / 1000).toFixed(1)} s, replacement Ready at ${(record.timeline.replacementReadyAtMs / 1000).toFixed(1)} s, drain done at ${(record.timeline.drainEndedAtMs / 1000).toFixed(1)} s`);
  if (problems.length === 0) {
    say('every claim held: the drain waited for the budget, completed once the replacement was Ready, pod IPs stayed unique and pods reached each other across nodes');
    exitCode = 0;
  } else {
    for (const problem of problems) say(`NOT AS CLAIMED: ${problem}`);
  }
} catch (error) {
  say(`failed: ${error instanceof Error ? error.message : String(error)}`);
} finally {
  say('stopping the cluster');
  const failures = await stopAll();
  for (const failure of failures) say(`cleanup: ${failure.label}: ${failure.message}`);
  if (failures.length > 0) exitCode = 1;
}
process.exit(exitCode);
