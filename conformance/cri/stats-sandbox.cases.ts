import { randomBytes } from 'node:crypto';
import type { CaseContext, Suite } from '../framework/index.js';
import { callRuntime } from './cri-calls.js';
import type { CriSubject } from './cri-subject.js';
import { describeOutcome, expectStatus, requireOk } from './expect-status.js';
import { runTestPod, startTestContainer } from './pod-fixtures.js';
import { nowNs, pairsOf, samePairs, takenDuring } from './stats-reading.js';

type Ctx = CaseContext<CriSubject>;

/** Declares the PodSandboxStats cases (specs/cri/SPEC.md, CRI-STATS-016 to 021). */
export function declareSandboxStatsCases(suite: Suite<CriSubject>): void {
  suite.declare({
    ids: ['CRI-STATS-016', 'CRI-STATS-017', 'CRI-STATS-018', 'CRI-STATS-019', 'CRI-STATS-020'],
    title: 'PodSandboxStats names the sandbox and reports its CPU, memory, network, processes and containers',
    async run(ctx: Ctx) {
      const pod = await runTestPod(ctx, {
        labels: { 'stats.kubeplug.io/case': ctx.uniqueName('kp-pss') },
        annotations: { 'stats.kubeplug.io/note': 'kept as given: "quotes" and ünïcode' },
      });
      // sh and three sleeps: four processes the suite started, besides whatever holds the sandbox.
      const container = await startTestContainer(ctx, pod, { command: ['sh', '-c', "trap 'exit 0' TERM; sleep 3600 & sleep 3600 & sleep 3600 & wait"] });
      const before = nowNs();
      const answer = await callRuntime(ctx, 'podSandboxStats', { podSandboxId: pod.id });
      const after = nowNs();
      requireOk(ctx, answer, { ids: ['CRI-STATS-016'], what: 'PodSandboxStats of a ready sandbox succeeds' });
      const stats = answer.response.stats;
      const attributes = stats?.attributes;
      ctx.check(attributes?.id === pod.id, { ids: ['CRI-STATS-016'], what: 'attributes.id is the sandbox asked about', expected: pod.id, got: attributes?.id ?? 'unset' });
      const metadata = pod.config.metadata;
      ctx.check(
        attributes?.metadata?.name === metadata?.name &&
          attributes?.metadata?.uid === metadata?.uid &&
          attributes?.metadata?.namespace === metadata?.namespace &&
          attributes?.metadata?.attempt === metadata?.attempt,
        { ids: ['CRI-STATS-016'], what: "attributes.metadata is the sandbox's metadata", expected: metadata, got: attributes?.metadata ?? 'unset' },
      );
      ctx.check(samePairs(attributes?.labels, pod.config.labels), { ids: ['CRI-STATS-016'], what: "attributes.labels are the sandbox's labels", expected: pairsOf(pod.config.labels), got: pairsOf(attributes?.labels) });
      ctx.check(samePairs(attributes?.annotations, pod.config.annotations), {
        ids: ['CRI-STATS-016'],
        what: "attributes.annotations are the sandbox's annotations, unaltered",
        expected: pairsOf(pod.config.annotations),
        got: pairsOf(attributes?.annotations),
      });
      const linux = stats?.linux;
      ctx.check(takenDuring(linux?.cpu?.timestamp, before, after) && takenDuring(linux?.memory?.timestamp, before, after), {
        ids: ['CRI-STATS-017'],
        what: 'linux.cpu and linux.memory are set with positive timestamps taken during the call',
        expected: `between ${before} and ${after} (1 s slack)`,
        got: { cpu: linux?.cpu?.timestamp.toString() ?? 'unset', memory: linux?.memory?.timestamp.toString() ?? 'unset' },
      });
      ctx.check(linux?.cpu?.usageCoreNanoSeconds !== undefined, {
        ids: ['CRI-STATS-017'],
        what: 'linux.cpu.usage_core_nano_seconds is set',
        expected: 'set',
        got: linux?.cpu?.usageCoreNanoSeconds?.value.toString() ?? 'unset',
      });
      const listed = linux?.containers.find((entry) => entry.attributes?.id === container.id);
      ctx.check(listed !== undefined && listed.attributes?.metadata?.name === container.config.metadata?.name, {
        ids: ['CRI-STATS-018'],
        what: "linux.containers holds the running container's stats with its attributes",
        expected: container.id,
        got: linux?.containers.map((entry) => entry.attributes?.id ?? '') ?? 'linux unset',
      });
      const network = linux?.network;
      ctx.check(
        network !== undefined && network.timestamp > 0n && network.defaultInterface?.rxBytes !== undefined && network.defaultInterface.txBytes !== undefined,
        {
          ids: ['CRI-STATS-019'],
          what: 'linux.network has a positive timestamp and a default interface with rx_bytes and tx_bytes',
          expected: 'set',
          got:
            network === undefined
              ? 'network unset'
              : { timestamp: network.timestamp.toString(), name: network.defaultInterface?.name ?? 'no default interface', rx: network.defaultInterface?.rxBytes?.value.toString() ?? 'unset', tx: network.defaultInterface?.txBytes?.value.toString() ?? 'unset' },
        },
      );
      const processCount = linux?.process?.processCount?.value;
      ctx.check((linux?.process?.timestamp ?? 0n) > 0n && processCount !== undefined && processCount >= 4n, {
        ids: ['CRI-STATS-020'],
        what: 'linux.process has a positive timestamp and counts at least the 4 processes the suite started',
        expected: '>= 4',
        got: processCount?.toString() ?? 'unset',
      });
    },
  });

  suite.declare({
    ids: ['CRI-STATS-021', 'CRI-RUNTIME-015'],
    title: 'PodSandboxStats of an unknown sandbox fails with NOT_FOUND',
    async run(ctx: Ctx) {
      const answer = await callRuntime(ctx, 'podSandboxStats', { podSandboxId: randomBytes(32).toString('hex') });
      ctx.check(!answer.ok, { ids: ['CRI-STATS-021'], what: 'PodSandboxStats of an unknown sandbox fails', expected: 'an error', got: describeOutcome(answer) });
      expectStatus(ctx, answer, 'NOT_FOUND', { ids: ['CRI-RUNTIME-015'], what: 'the failure is NOT_FOUND' });
    },
  });
}
