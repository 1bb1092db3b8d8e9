import type { MetricDescriptor } from '../../specs/cri/index.js';
import type { CaseContext, Suite } from '../framework/index.js';
import { callRuntime } from './cri-calls.js';
import type { CriSubject } from './cri-subject.js';
import { requireOk } from './expect-status.js';
import { podWithContainer } from './pod-fixtures.js';

type Ctx = CaseContext<CriSubject>;

/** ListMetricDescriptors; stops the case (citing `ids`) unless it succeeds. */
async function descriptors(ctx: Ctx, ids: readonly string[]): Promise<MetricDescriptor[]> {
  const answer = await callRuntime(ctx, 'listMetricDescriptors', {});
  requireOk(ctx, answer, { ids, what: 'ListMetricDescriptors succeeds' });
  return answer.response.descriptors;
}

function fingerprint(list: readonly MetricDescriptor[]): string {
  return JSON.stringify([...list].map((d) => [d.name, d.help, d.labelKeys]).sort());
}

/** Declares the metric descriptor and pod sandbox metric cases (specs/cri/SPEC.md, CRI-STATS-024 to 028). */
export function declareMetricsCases(suite: Suite<CriSubject>): void {
  suite.declare({
    ids: ['CRI-STATS-024', 'CRI-STATS-025'],
    title: 'ListMetricDescriptors answers with uniquely named descriptors that hold still',
    async run(ctx: Ctx) {
      const first = await descriptors(ctx, ['CRI-STATS-024']);
      const names = first.map((descriptor) => descriptor.name);
      const repeated = names.filter((name, index) => names.indexOf(name) !== index);
      ctx.check(repeated.length === 0, { ids: ['CRI-STATS-024'], what: 'no two descriptors share a name', expected: 'unique names', got: repeated.length === 0 ? `${names.length} unique names` : repeated });
      const second = await descriptors(ctx, ['CRI-STATS-025']);
      ctx.check(fingerprint(second) === fingerprint(first), { ids: ['CRI-STATS-025'], what: 'a second call returns the same descriptors', expected: names, got: second.map((d) => d.name) });
    },
  });

  suite.declare({
    ids: ['CRI-STATS-026', 'CRI-STATS-027', 'CRI-STATS-028'],
    title: 'ListPodSandboxMetrics names known sandboxes and containers, with described metrics and matching labels',
    async run(ctx: Ctx) {
      // A running pod, so a runtime that reports metrics has something to report.
      await podWithContainer(ctx);
      const described = new Map((await descriptors(ctx, ['CRI-STATS-027'])).map((d) => [d.name, d] as const));
      const answer = await callRuntime(ctx, 'listPodSandboxMetrics', {});
      requireOk(ctx, answer, { ids: ['CRI-STATS-026'], what: 'ListPodSandboxMetrics succeeds' });
      const sandboxes = await callRuntime(ctx, 'listPodSandbox', { filter: undefined });
      requireOk(ctx, sandboxes, { ids: ['CRI-STATS-026'], what: 'ListPodSandbox succeeds' });
      const containers = await callRuntime(ctx, 'listContainers', { filter: undefined });
      requireOk(ctx, containers, { ids: ['CRI-STATS-026'], what: 'ListContainers succeeds' });
      const sandboxIds = new Set(sandboxes.response.items.map((item) => item.id));
      const containerSandbox = new Map(containers.response.containers.map((item) => [item.id, item.podSandboxId] as const));
      const unknownRefs: string[] = [];
      const undescribed: string[] = [];
      const mislabelled: string[] = [];
      for (const pod of answer.response.podMetrics) {
        if (!sandboxIds.has(pod.podSandboxId)) unknownRefs.push(`sandbox ${pod.podSandboxId}`);
        const metrics = [...pod.metrics, ...pod.containerMetrics.flatMap((entry) => entry.metrics)];
        for (const entry of pod.containerMetrics) {
          if (containerSandbox.get(entry.containerId) !== pod.podSandboxId) unknownRefs.push(`container ${entry.containerId} of sandbox ${pod.podSandboxId}`);
        }
        for (const metric of metrics) {
          const descriptor = described.get(metric.name);
          if (descriptor === undefined) undescribed.push(metric.name);
          else if (metric.labelValues.length !== descriptor.labelKeys.length) mislabelled.push(`${metric.name}: ${metric.labelValues.length} values for ${descriptor.labelKeys.length} keys`);
        }
      }
      ctx.note(`${answer.response.podMetrics.length} sandboxes with metrics, ${described.size} descriptors`);
      ctx.check(unknownRefs.length === 0, { ids: ['CRI-STATS-026'], what: 'every entry names a sandbox the runtime holds, and containers of that sandbox', expected: 'no unknown IDs', got: unknownRefs });
      ctx.check(undescribed.length === 0, { ids: ['CRI-STATS-027'], what: 'every metric name is a described one', expected: 'no undescribed metric', got: [...new Set(undescribed)] });
      ctx.check(mislabelled.length === 0, { ids: ['CRI-STATS-028'], what: "every metric has as many label values as its descriptor's label keys", expected: 'equal counts', got: mislabelled });
    },
  });
}
