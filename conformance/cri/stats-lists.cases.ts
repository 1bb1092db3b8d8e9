import type { CaseContext, Suite } from '../framework/index.js';
import { callRuntime } from './cri-calls.js';
import type { CriSubject } from './cri-subject.js';
import { requireOk } from './expect-status.js';
import { runTestPod, startTestContainer } from './pod-fixtures.js';

type Ctx = CaseContext<CriSubject>;

/** IDs as a sorted list, for comparing sets in evidence. */
function sorted(ids: Iterable<string>): string[] {
  return [...ids].sort();
}

function sameSet(got: Iterable<string>, wanted: Iterable<string>): boolean {
  return JSON.stringify(sorted(got)) === JSON.stringify(sorted(wanted));
}

/** Declares the ListContainerStats and ListPodSandboxStats cases (specs/cri/SPEC.md, CRI-STATS-011 to 015, 022, 023). */
export function declareStatsListCases(suite: Suite<CriSubject>): void {
  suite.declare({
    ids: ['CRI-STATS-011', 'CRI-STATS-012', 'CRI-STATS-013', 'CRI-STATS-014', 'CRI-STATS-015'],
    title: 'ListContainerStats covers every running container and filters by ID, sandbox and labels, combined with AND',
    timeoutMs: 60_000,
    async run(ctx: Ctx) {
      const caseKey = 'stats.kubeplug.io/list';
      const caseValue = ctx.uniqueName('kp-lcs');
      const podA = await runTestPod(ctx);
      const podB = await runTestPod(ctx);
      const labelled = (flavour: string): Record<string, string> => ({ [caseKey]: caseValue, 'stats.kubeplug.io/flavour': flavour });
      const a1 = await startTestContainer(ctx, podA, { labels: labelled('sweet') });
      const a2 = await startTestContainer(ctx, podA, { labels: labelled('sour') });
      const b1 = await startTestContainer(ctx, podB, { labels: labelled('sweet') });
      const list = async (filter: { id?: string; podSandboxId?: string; labelSelector?: Record<string, string> } | undefined, what: string): Promise<string[]> => {
        const answer = await callRuntime(ctx, 'listContainerStats', {
          filter: filter === undefined ? undefined : { id: filter.id ?? '', podSandboxId: filter.podSandboxId ?? '', labelSelector: filter.labelSelector ?? {} },
        });
        requireOk(ctx, answer, { what: `ListContainerStats ${what} succeeds` });
        return answer.response.stats.map((stats) => stats.attributes?.id ?? '');
      };
      const all = await list(undefined, 'without a filter');
      const mine = [a1.id, a2.id, b1.id];
      ctx.check(mine.every((id) => all.includes(id)), { ids: ['CRI-STATS-011'], what: 'without a filter, every running container of the case has stats', expected: sorted(mine), got: sorted(all) });
      const byId = await list({ id: a2.id }, 'by ID');
      ctx.check(sameSet(byId, [a2.id]), { ids: ['CRI-STATS-012'], what: 'filtered by ID, only that container', expected: [a2.id], got: sorted(byId) });
      const byPod = await list({ podSandboxId: podA.id }, 'by sandbox');
      ctx.check(sameSet(byPod, [a1.id, a2.id]), { ids: ['CRI-STATS-013'], what: "filtered by sandbox, only that sandbox's containers", expected: sorted([a1.id, a2.id]), got: sorted(byPod) });
      const byLabels = await list({ labelSelector: labelled('sweet') }, 'by labels');
      ctx.check(sameSet(byLabels, [a1.id, b1.id]), { ids: ['CRI-STATS-014'], what: 'filtered by two labels, only containers carrying both', expected: sorted([a1.id, b1.id]), got: sorted(byLabels) });
      const byBoth = await list({ podSandboxId: podA.id, labelSelector: labelled('sweet') }, 'by sandbox and labels');
      ctx.check(sameSet(byBoth, [a1.id]), { ids: ['CRI-STATS-015'], what: 'filtered by sandbox and labels, only containers matching both', expected: [a1.id], got: sorted(byBoth) });
      const byIdAndOtherPod = await list({ id: a1.id, podSandboxId: podB.id }, 'by ID and another sandbox');
      ctx.check(byIdAndOtherPod.length === 0, { ids: ['CRI-STATS-015'], what: "an ID with another container's sandbox matches nothing", expected: [], got: byIdAndOtherPod });
    },
  });

  suite.declare({
    ids: ['CRI-STATS-022', 'CRI-STATS-023'],
    title: 'ListPodSandboxStats covers every ready sandbox and filters by ID and labels, combined with AND',
    timeoutMs: 60_000,
    async run(ctx: Ctx) {
      const caseKey = 'stats.kubeplug.io/list';
      const caseValue = ctx.uniqueName('kp-lps');
      const labelled = (flavour: string): Record<string, string> => ({ [caseKey]: caseValue, 'stats.kubeplug.io/flavour': flavour });
      const sweet = await runTestPod(ctx, { labels: labelled('sweet') });
      const sour = await runTestPod(ctx, { labels: labelled('sour') });
      await startTestContainer(ctx, sweet);
      await startTestContainer(ctx, sour);
      const list = async (filter: { id?: string; labelSelector?: Record<string, string> } | undefined, what: string): Promise<string[]> => {
        const answer = await callRuntime(ctx, 'listPodSandboxStats', {
          filter: filter === undefined ? undefined : { id: filter.id ?? '', labelSelector: filter.labelSelector ?? {} },
        });
        requireOk(ctx, answer, { what: `ListPodSandboxStats ${what} succeeds` });
        return answer.response.stats.map((stats) => stats.attributes?.id ?? '');
      };
      const all = await list(undefined, 'without a filter');
      ctx.check([sweet.id, sour.id].every((id) => all.includes(id)), {
        ids: ['CRI-STATS-022'],
        what: 'without a filter, both ready sandboxes of the case have stats',
        expected: sorted([sweet.id, sour.id]),
        got: sorted(all),
      });
      const byId = await list({ id: sour.id }, 'by ID');
      ctx.check(sameSet(byId, [sour.id]), { ids: ['CRI-STATS-023'], what: 'filtered by ID, only that sandbox', expected: [sour.id], got: sorted(byId) });
      const byLabels = await list({ labelSelector: labelled('sweet') }, 'by labels');
      ctx.check(sameSet(byLabels, [sweet.id]), { ids: ['CRI-STATS-023'], what: 'filtered by two labels, only the sandbox carrying both', expected: [sweet.id], got: sorted(byLabels) });
      const mismatch = await list({ id: sour.id, labelSelector: labelled('sweet') }, 'by ID and labels of another sandbox');
      ctx.check(mismatch.length === 0, { ids: ['CRI-STATS-023'], what: "an ID with another sandbox's labels matches nothing", expected: [], got: mismatch });
    },
  });
}
