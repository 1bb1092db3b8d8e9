import type { CaseContext } from '../framework/index.js';
import { callRuntime } from './cri-calls.js';
import type { CriSubject } from './cri-subject.js';
import { describeOutcome } from './expect-status.js';
import { containerConfig, pullImage, suiteKeyLabel, type ContainerOptions, type TestPod } from './pod-fixtures.js';

type Ctx = CaseContext<CriSubject>;

/** Creates (and starts) a container expected to be refused; returns the first call that failed, or undefined if it ran. */
export async function refusedContainer(ctx: Ctx, pod: TestPod, options: ContainerOptions): Promise<{ failedAt?: string; outcome: string }> {
  const config = containerConfig(ctx, pod, options);
  await pullImage(ctx, config.image?.image ?? '');
  const key = config.labels[suiteKeyLabel] ?? '';
  let madeId: string | undefined;
  ctx.defer(async () => {
    if (madeId !== undefined) {
      await callRuntime(ctx, 'stopContainer', { containerId: madeId, timeout: 0n });
      await callRuntime(ctx, 'removeContainer', { containerId: madeId });
    }
  }, `remove container ${key}`);
  const created = await callRuntime(ctx, 'createContainer', { podSandboxId: pod.id, config, sandboxConfig: pod.config });
  if (!created.ok) return { failedAt: 'CreateContainer', outcome: describeOutcome(created) };
  madeId = created.response.containerId;
  const started = await callRuntime(ctx, 'startContainer', { containerId: madeId });
  if (!started.ok) return { failedAt: 'StartContainer', outcome: describeOutcome(started) };
  return { outcome: 'CreateContainer and StartContainer succeeded' };
}

