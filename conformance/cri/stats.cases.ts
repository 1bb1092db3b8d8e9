import { randomBytes } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import type { CaseContext, Suite } from '../framework/index.js';
import { callRuntime } from './cri-calls.js';
import type { CriSubject } from './cri-subject.js';
import { describeOutcome, expectStatus } from './expect-status.js';
import { execSync, podWithContainer } from './pod-fixtures.js';
import { pairsOf, readContainerStats, samePairs, takenDuring } from './stats-reading.js';

type Ctx = CaseContext<CriSubject>;

const mib = 1024n * 1024n;

/** Declares the per-container stats cases (specs/cri/SPEC.md, CRI-STATS-001 to 010). */
export function declareStatsCases(suite: Suite<CriSubject>): void {
  suite.declare({
    ids: ['CRI-STATS-001', 'CRI-STATS-002', 'CRI-STATS-003', 'CRI-STATS-005', 'CRI-STATS-007'],
    title: 'ContainerStats of a running container names it and reports CPU and memory with fresh timestamps',
    async run(ctx: Ctx) {
      const labels = { 'stats.kubeplug.io/case': ctx.uniqueName('kp-stats') };
      const annotations = { 'stats.kubeplug.io/note': 'kept as given: spaces, "quotes" and ünïcode' };
      const container = await podWithContainer(ctx, { container: { labels, annotations } });
      const { stats, before, after } = await readContainerStats(ctx, container.id, ['CRI-STATS-001']);
      const attributes = stats.attributes;
      ctx.check(attributes?.id === container.id, { ids: ['CRI-STATS-001'], what: 'attributes.id is the container asked about', expected: container.id, got: attributes?.id ?? 'attributes unset' });
      ctx.check(attributes?.metadata?.name === container.config.metadata?.name && attributes?.metadata?.attempt === container.config.metadata?.attempt, {
        ids: ['CRI-STATS-001'],
        what: "attributes.metadata is the container's metadata",
        expected: container.config.metadata,
        got: attributes?.metadata ?? 'unset',
      });
      ctx.check(samePairs(attributes?.labels, container.config.labels), {
        ids: ['CRI-STATS-001'],
        what: "attributes.labels are the container's labels",
        expected: pairsOf(container.config.labels),
        got: pairsOf(attributes?.labels),
      });
      ctx.check(samePairs(attributes?.annotations, container.config.annotations), {
        ids: ['CRI-STATS-001'],
        what: "attributes.annotations are the container's annotations, unaltered",
        expected: pairsOf(container.config.annotations),
        got: pairsOf(attributes?.annotations),
      });
      for (const [name, usage] of [['cpu', stats.cpu], ['memory', stats.memory]] as const) {
        ctx.check(takenDuring(usage?.timestamp, before, after), {
          ids: ['CRI-STATS-002'],
          what: `${name}.timestamp is positive nanoseconds, taken within a second of the call`,
          expected: `between ${before} and ${after} (1 s slack)`,
          got: usage?.timestamp.toString() ?? `${name} unset`,
        });
      }
      ctx.check(stats.cpu?.usageCoreNanoSeconds !== undefined, {
        ids: ['CRI-STATS-003'],
        what: 'cpu.usage_core_nano_seconds is set',
        expected: 'set',
        got: stats.cpu?.usageCoreNanoSeconds?.value.toString() ?? 'unset',
      });
      const workingSet = stats.memory?.workingSetBytes?.value;
      ctx.check(workingSet !== undefined && workingSet > 0n, { ids: ['CRI-STATS-005'], what: 'memory.working_set_bytes is set and positive', expected: '> 0', got: workingSet?.toString() ?? 'unset' });
      const usage = stats.memory?.usageBytes?.value;
      if (usage !== undefined && workingSet !== undefined) {
        ctx.check(usage >= workingSet, { ids: ['CRI-STATS-007'], what: 'memory.usage_bytes is at least the working set', expected: `>= ${workingSet}`, got: usage.toString() });
      } else {
        ctx.note(`CRI-STATS-007 holds vacuously: usage_bytes ${usage === undefined ? 'unset' : 'set'}, working_set_bytes ${workingSet === undefined ? 'unset' : 'set'}`);
      }
    },
  });

  suite.declare({
    ids: ['CRI-STATS-003', 'CRI-STATS-004'],
    title: 'The cumulative CPU usage of a busy container grows with the time it runs',
    async run(ctx: Ctx) {
      const container = await podWithContainer(ctx, { container: { command: ['sh', '-c', "trap 'exit 0' TERM; while :; do :; done"] } });
      const first = await readContainerStats(ctx, container.id);
      const firstWall = Date.now();
      await sleep(2000);
      const second = await readContainerStats(ctx, container.id);
      const wallNs = BigInt(Date.now() - firstWall) * 1_000_000n;
      const used = (reading: typeof first): bigint | undefined => reading.stats.cpu?.usageCoreNanoSeconds?.value;
      const [a, b] = [used(first), used(second)];
      ctx.require(a !== undefined && b !== undefined, { ids: ['CRI-STATS-003'], what: 'both readings carry usage_core_nano_seconds', expected: 'set twice', got: [a?.toString() ?? 'unset', b?.toString() ?? 'unset'] });
      ctx.check(b >= a, { ids: ['CRI-STATS-003'], what: 'the later reading is not smaller than the earlier one', expected: `>= ${a}`, got: b.toString() });
      const t1 = first.stats.cpu?.timestamp ?? 0n;
      const t2 = second.stats.cpu?.timestamp ?? 0n;
      const elapsed = t1 > 0n && t2 > t1 ? t2 - t1 : wallNs;
      ctx.check((b - a) * 4n >= elapsed, {
        ids: ['CRI-STATS-004'],
        what: 'a container keeping one CPU busy gains at least a quarter of the elapsed time in CPU usage',
        expected: `>= ${elapsed / 4n} ns over ${elapsed} ns`,
        got: `${b - a} ns`,
      });
    },
  });

  suite.declare({
    ids: ['CRI-STATS-006'],
    title: 'The working set of a container counts the 32 MiB it holds',
    async run(ctx: Ctx) {
      const fill = "trap 'exit 0' TERM; x=$(yes | head -c 33554432); touch /tmp/kp-filled; sleep 3600 & wait";
      const container = await podWithContainer(ctx, { container: { command: ['sh', '-c', fill] } });
      let filled = false;
      for (let attempt = 0; attempt < 50 && !filled; attempt += 1) {
        filled = (await execSync(ctx, container.id, ['test', '-f', '/tmp/kp-filled'])).exitCode === 0;
        if (!filled) await sleep(200);
      }
      ctx.require(filled, { what: 'the container filled 32 MiB of memory', expected: '/tmp/kp-filled', got: 'not there after 10 s' });
      const { stats } = await readContainerStats(ctx, container.id);
      const workingSet = stats.memory?.workingSetBytes?.value;
      ctx.check(workingSet !== undefined && workingSet >= 32n * mib, {
        what: 'memory.working_set_bytes is at least 32 MiB',
        expected: `>= ${32n * mib}`,
        got: workingSet?.toString() ?? 'unset',
      });
    },
  });

  suite.declare({
    ids: ['CRI-STATS-008', 'CRI-STATS-009'],
    title: 'Writable layer usage is reported and grows by what the container writes',
    timeoutMs: 90_000,
    async run(ctx: Ctx) {
      const container = await podWithContainer(ctx);
      // Runtimes may measure layers in the background (containerd every 10 s), so a fresh container gets 20 s to be measured.
      let layer = (await readContainerStats(ctx, container.id, ['CRI-STATS-008'])).stats.writableLayer;
      const measuredBy = Date.now() + 20_000;
      while ((layer === undefined || layer.timestamp <= 0n || layer.usedBytes === undefined) && Date.now() < measuredBy) {
        await sleep(1000);
        layer = (await readContainerStats(ctx, container.id, ['CRI-STATS-008'])).stats.writableLayer;
      }
      ctx.require(layer !== undefined && layer.timestamp > 0n && layer.usedBytes !== undefined, {
        ids: ['CRI-STATS-008'],
        what: 'writable_layer is set with a positive timestamp and used_bytes within 20 s of the start',
        expected: 'timestamp > 0, used_bytes set',
        got: layer === undefined ? 'writable_layer unset' : { timestamp: layer.timestamp.toString(), usedBytes: layer.usedBytes?.value.toString() ?? 'unset' },
      });
      const start = layer.usedBytes.value;
      const written = await execSync(ctx, container.id, ['sh', '-c', 'head -c 8388608 /dev/zero > /kp-written && sync'], { ids: ['CRI-STATS-009'] });
      ctx.require(written.exitCode === 0, { ids: ['CRI-STATS-009'], what: 'the container writes an 8 MiB file to its root file system', expected: 'exit 0', got: written });
      // The same background measurement: wait up to 30 s for the growth to show.
      let grown = start;
      const deadline = Date.now() + 30_000;
      while (grown - start < 8n * mib && Date.now() < deadline) {
        await sleep(1000);
        grown = (await readContainerStats(ctx, container.id, ['CRI-STATS-009'])).stats.writableLayer?.usedBytes?.value ?? start;
      }
      ctx.check(grown - start >= 8n * mib, {
        ids: ['CRI-STATS-009'],
        what: 'writable_layer.used_bytes grows by at least 8 MiB within 30 s',
        expected: `>= ${start + 8n * mib}`,
        got: `${grown} (from ${start})`,
      });
    },
  });

  suite.declare({
    ids: ['CRI-STATS-010', 'CRI-RUNTIME-015'],
    title: 'ContainerStats of an unknown container fails with NOT_FOUND',
    async run(ctx: Ctx) {
      const answer = await callRuntime(ctx, 'containerStats', { containerId: randomBytes(32).toString('hex') });
      ctx.check(!answer.ok, { ids: ['CRI-STATS-010'], what: 'ContainerStats of an unknown container fails', expected: 'an error', got: describeOutcome(answer) });
      expectStatus(ctx, answer, 'NOT_FOUND', { ids: ['CRI-RUNTIME-015'], what: 'the failure is NOT_FOUND' });
    },
  });
}
