import { ContainerState, PodSandboxState } from '../../specs/cri/index.js';
import type { CaseContext, Suite } from '../framework/index.js';
import { callRuntime } from './cri-calls.js';
import { containerStateName, sandboxStateName, sandboxStatus } from './cri-observe.js';
import type { CriSubject } from './cri-subject.js';
import { expectStatus } from './expect-status.js';
import { containerStatus, execSync, podWithContainer } from './pod-fixtures.js';

type Ctx = CaseContext<CriSubject>;

/** Pods run at once: enough to interleave every call of the lifecycle on a small node. */
const podCount = 5;

/** Declares the concurrency case: several pods through their whole lifecycle at once. */
export function declareConcurrencyCases(suite: Suite<CriSubject>): void {
  suite.declare({
    ids: ['CRI-SANDBOX-002', 'CRI-CONTAINER-001', 'CRI-SANDBOX-032', 'CRI-SANDBOX-037'],
    title: 'Several pods run, exec, stop and are removed at the same time, each keeping its own IDs and state',
    timeoutMs: 180_000,
    async run(ctx: Ctx) {
      const started = await Promise.all(Array.from({ length: podCount }, (_, index) => podWithContainer(ctx, { container: { envs: [{ key: 'KP_INDEX', value: Buffer.from(String(index)) }] } })));
      const sandboxIds = started.map((container) => container.pod.id);
      const containerIds = started.map((container) => container.id);
      ctx.check(new Set(sandboxIds).size === podCount, { ids: ['CRI-SANDBOX-002'], what: `${podCount} sandboxes run at once have distinct IDs`, expected: 'distinct', got: sandboxIds });
      ctx.check(new Set(containerIds).size === podCount, { ids: ['CRI-CONTAINER-001'], what: `${podCount} containers created at once have distinct IDs`, expected: 'distinct', got: containerIds });
      const outputs = await Promise.all(started.map((container) => execSync(ctx, container.id, ['sh', '-c', 'echo $KP_INDEX'])));
      ctx.check(outputs.every((output, index) => output.stdout.trim() === String(index)), { ids: ['CRI-CONTAINER-001'], what: 'ExecSync run in every container at once reaches the right container', expected: started.map((_, index) => String(index)), got: outputs.map((output) => output.stdout.trim()) });
      const stops = await Promise.all(started.map((container) => callRuntime(ctx, 'stopPodSandbox', { podSandboxId: container.pod.id }, { extraMs: 30_000 })));
      stops.forEach((stop, index) => expectStatus(ctx, stop, 'OK', { ids: ['CRI-SANDBOX-032'], what: `concurrent StopPodSandbox of pod ${index} succeeds` }));
      for (const container of started) {
        const pod = await sandboxStatus(ctx, container.pod.id, { ids: ['CRI-SANDBOX-032'] });
        const ctr = await containerStatus(ctx, container.id, { ids: ['CRI-SANDBOX-032'] });
        ctx.check(pod.state === PodSandboxState.SANDBOX_NOTREADY && ctr.state === ContainerState.CONTAINER_EXITED, { ids: ['CRI-SANDBOX-032'], what: 'each stopped pod is NOTREADY with its container EXITED', expected: { pod: 'SANDBOX_NOTREADY', container: 'CONTAINER_EXITED' }, got: { pod: sandboxStateName(pod.state), container: containerStateName(ctr.state) } });
      }
      const removals = await Promise.all(sandboxIds.map((podSandboxId) => callRuntime(ctx, 'removePodSandbox', { podSandboxId }, { extraMs: 30_000 })));
      removals.forEach((removal, index) => expectStatus(ctx, removal, 'OK', { ids: ['CRI-SANDBOX-037'], what: `concurrent RemovePodSandbox of pod ${index} succeeds` }));
      for (const podSandboxId of sandboxIds) {
        expectStatus(ctx, await callRuntime(ctx, 'podSandboxStatus', { podSandboxId, verbose: false }), 'NOT_FOUND', { ids: ['CRI-SANDBOX-037'], what: 'each removed sandbox is gone (NOT_FOUND)' });
      }
    },
  });
}
