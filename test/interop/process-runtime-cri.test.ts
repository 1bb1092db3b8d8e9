import t from 'tap';
import { processRuntimeNodeUnavailable, startProcessRuntimeNode } from '../../conformance/peers/index.js';
import { criNodeFlowUnavailable, declareCriNodeFlow } from './cri-node-flow.js';

// kubeplug serve cri (from dist) run as containerd is run: the same node,
// registry relay, images and flow as containerd-cri.test.ts.

const skip = processRuntimeNodeUnavailable() ?? criNodeFlowUnavailable();
if (skip === undefined) {
  declareCriNodeFlow(t, { start: (options) => startProcessRuntimeNode(options), runtimeName: 'kubeplug-process-runtime', runtimeVersion: /\S/ });
} else {
  t.test("kubeplug's process runtime as a CRI node", { skip }, () => {});
}
