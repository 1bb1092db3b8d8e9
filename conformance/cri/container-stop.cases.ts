import { ContainerState, Signal } from '../../specs/cri/index.js';
import type { CaseContext, Suite } from '../framework/index.js';
import { callRuntime } from './cri-calls.js';
import { containerStateName } from './cri-observe.js';
import type { CriSubject } from './cri-subject.js';
import { requireOk } from './expect-status.js';
import { containerStatus, runTestPod, startTestContainer, trapsReadyFile, waitForTraps, type ContainerOptions, type TestContainer, type TestPod } from './pod-fixtures.js';

type Ctx = CaseContext<CriSubject>;

/**
 * A long-running command that exits with `code` on `signal` (a trap runs at
 * once, since `wait` is interruptible), then marks its traps as set: a shell
 * as PID 1 ignores a signal that comes before its trap.
 */
function exitsOn(traps: Readonly<Record<string, number>>): string[] {
  const set = Object.entries(traps).map(([signal, code]) => `trap 'exit ${code}' ${signal}`).join('; ');
  return ['sh', '-c', `${set}; touch ${trapsReadyFile}; sleep 3600 & wait`];
}

/** A long-running command that ignores SIGTERM. */
const ignoresTerm = ['sh', '-c', `trap '' TERM; touch ${trapsReadyFile}; sleep 3600 & wait; sleep 3600 & wait`];

/** Starts a container and waits until its command has set its signal traps. */
async function startTrapping(ctx: Ctx, pod: TestPod, options: ContainerOptions): Promise<TestContainer> {
  const container = await startTestContainer(ctx, pod, options);
  await waitForTraps(ctx, container.id);
  return container;
}

/** Stops a container and measures how long StopContainer took. */
async function timedStop(ctx: Ctx, container: TestContainer, timeoutSeconds: number): Promise<number> {
  const started = performance.now();
  const stopped = await callRuntime(ctx, 'stopContainer', { containerId: container.id, timeout: BigInt(timeoutSeconds) }, { extraMs: timeoutSeconds * 1000 + 10_000 });
  const tookMs = Math.round(performance.now() - started);
  requireOk(ctx, stopped, { what: `StopContainer with timeout ${timeoutSeconds} succeeds` });
  return tookMs;
}

/** Declares the stop signal and grace period cases. */
export function declareContainerStopCases(suite: Suite<CriSubject>): void {
  suite.declare({
    ids: ['CRI-CONTAINER-008'],
    title: 'StopContainer sends the stop signal first: a container handling SIGTERM exits with its own code without waiting out the timeout',
    timeoutMs: 60_000,
    async run(ctx: Ctx) {
      const pod = await runTestPod(ctx);
      const container = await startTrapping(ctx, pod, { command: exitsOn({ TERM: 42 }) });
      const tookMs = await timedStop(ctx, container, 30);
      ctx.check(tookMs < 10_000, { what: 'StopContainer returns once the container exits, long before the 30 s timeout', expected: '< 10000 ms', got: `${tookMs} ms` });
      const status = await containerStatus(ctx, container.id);
      ctx.check(status.state === ContainerState.CONTAINER_EXITED && status.exitCode === 42, { what: "the container ended with the exit code its SIGTERM handler chose", expected: { state: 'CONTAINER_EXITED', exitCode: 42 }, got: { state: containerStateName(status.state), exitCode: status.exitCode } });
    },
  });

  suite.declare({
    ids: ['CRI-CONTAINER-009'],
    title: 'StopContainer kills a container ignoring its stop signal once the timeout has passed, and not much later',
    timeoutMs: 60_000,
    async run(ctx: Ctx) {
      const pod = await runTestPod(ctx);
      const container = await startTrapping(ctx, pod, { command: ignoresTerm });
      const tookMs = await timedStop(ctx, container, 3);
      ctx.check(tookMs >= 2_900 && tookMs <= 5_000, { what: 'StopContainer with timeout 3 returns after the 3 s grace period, within 2 s of slack', expected: '3000..5000 ms', got: `${tookMs} ms` });
      const status = await containerStatus(ctx, container.id);
      ctx.check(status.state === ContainerState.CONTAINER_EXITED, { what: 'the container is CONTAINER_EXITED', expected: 'CONTAINER_EXITED', got: { state: containerStateName(status.state), exitCode: status.exitCode } });
    },
  });

  suite.declare({
    ids: ['CRI-CONTAINER-010'],
    title: 'StopContainer with timeout 0 kills a container ignoring its stop signal at once',
    timeoutMs: 60_000,
    async run(ctx: Ctx) {
      const pod = await runTestPod(ctx);
      const container = await startTrapping(ctx, pod, { command: ignoresTerm });
      const tookMs = await timedStop(ctx, container, 0);
      const status = await containerStatus(ctx, container.id);
      ctx.check(status.state === ContainerState.CONTAINER_EXITED && tookMs <= 2_000, { what: 'the container is CONTAINER_EXITED within 2 s', expected: { state: 'CONTAINER_EXITED', tookMs: '<= 2000' }, got: { state: containerStateName(status.state), tookMs, exitCode: status.exitCode } });
    },
  });

  suite.declare({
    ids: ['CRI-CONTAINER-013'],
    title: "StopContainer sends the image's STOPSIGNAL when the config sets none, and SIGTERM when the image names none",
    timeoutMs: 60_000,
    async run(ctx: Ctx) {
      const pod = await runTestPod(ctx);
      // The stop-signal image's own command exits 7 on SIGUSR1 and 9 on SIGTERM.
      const fromImage = await startTrapping(ctx, pod, { image: ctx.subject.run.images.stopSignal, imageDefaults: true });
      await timedStop(ctx, fromImage, 10);
      const imageStatus = await containerStatus(ctx, fromImage.id);
      ctx.check(imageStatus.exitCode === 7, { what: 'the image with STOPSIGNAL SIGUSR1 gets SIGUSR1 (its handler exits 7; 9 means SIGTERM, 137 SIGKILL)', expected: 7, got: imageStatus.exitCode });
      const plain = await startTrapping(ctx, pod, { command: exitsOn({ TERM: 42, USR1: 7, INT: 11 }) });
      await timedStop(ctx, plain, 10);
      const plainStatus = await containerStatus(ctx, plain.id);
      ctx.check(plainStatus.exitCode === 42, { what: 'an image without STOPSIGNAL gets SIGTERM (its handler exits 42)', expected: 42, got: plainStatus.exitCode });
    },
  });

  suite.declare({
    ids: ['CRI-CONTAINER-014'],
    title: 'A configured stop_signal is sent by StopContainer and reported by ContainerStatus',
    timeoutMs: 60_000,
    async run(ctx: Ctx) {
      const pod = await runTestPod(ctx);
      const container = await startTrapping(ctx, pod, { command: exitsOn({ TERM: 42, INT: 11 }), stopSignal: Signal.SIGINT });
      const running = await containerStatus(ctx, container.id);
      ctx.check(running.stopSignal === Signal.SIGINT, { what: 'ContainerStatus reports stop_signal SIGINT', expected: 'SIGINT', got: Signal[running.stopSignal] ?? running.stopSignal });
      await timedStop(ctx, container, 10);
      const status = await containerStatus(ctx, container.id);
      ctx.check(status.exitCode === 11, { what: 'StopContainer sends SIGINT (the handler exits 11; 42 means SIGTERM)', expected: 11, got: status.exitCode });
    },
  });
}
