import t from 'tap';
import { containerdNodeUnavailable, startContainerdNode } from '../../conformance/peers/index.js';
import { criNodeFlowUnavailable, declareCriNodeFlow } from './cri-node-flow.js';

// containerd 1.6 as a CRI peer: the node conformance/peers starts pulls the
// suite's test images and its sandbox image from a registry on the machine's
// loopback (relayed into the node), runs a pod and a container, and leaves
// nothing behind.

const skip = containerdNodeUnavailable() ?? criNodeFlowUnavailable();
if (skip === undefined) {
  declareCriNodeFlow(t, { start: (options, pauseImage) => startContainerdNode({ ...options, sandboxImage: pauseImage }), runtimeName: 'containerd', runtimeVersion: /^1\.6\./ });
} else {
  t.test("containerd as a CRI node", { skip }, () => {});
}
