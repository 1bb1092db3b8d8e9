import type { CleanupFailure } from '../../conformance/framework/index.js';
import { startContainerdNode as startNode, type ContainerdNode, type ContainerdNodeOptions } from '../../conformance/peers/index.js';

export { containerdNodeUnavailable, type ContainerdNode, type ContainerdNodeOptions, type NodeLeftovers } from '../../conformance/peers/index.js';

/** The part of a tap test a node needs. */
interface TestHandle {
  teardown(fn: () => unknown): void;
  passing(): boolean;
  comment(...message: unknown[]): void;
}

/**
 * Starts a containerd node (conformance/peers) whose stop is registered in
 * `t.teardown` before anything is created, and whose log ends up in the
 * test's output when the test fails. Skip first with containerdNodeUnavailable.
 */
export async function startContainerdNode(t: TestHandle, options: ContainerdNodeOptions): Promise<ContainerdNode> {
  let stop: (() => Promise<CleanupFailure[]>) | undefined;
  let logTail: (() => string) | undefined;
  t.teardown(async () => {
    const failures = (await stop?.()) ?? [];
    if (failures.length > 0) t.comment(`containerd node cleanup failed: ${JSON.stringify(failures)}`);
    if (!t.passing() && logTail !== undefined) t.comment(`containerd log (last lines):\n${logTail()}`);
  });
  const node = await startNode({ ...options, registerStop: (registered) => (stop = registered) });
  logTail = () => node.logTail();
  return node;
}
