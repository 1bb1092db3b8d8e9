import { PodSandboxState, type PodSandbox, type PodSandboxFilter } from '../../specs/cri/index.js';
import type { CaseContext, Suite } from '../framework/index.js';
import { callRuntime } from './cri-calls.js';
import { listSandboxes, sandboxStateName } from './cri-observe.js';
import type { CriSubject } from './cri-subject.js';
import { requireOk } from './expect-status.js';
import { runTestPod, type TestPod } from './pod-fixtures.js';

type Ctx = CaseContext<CriSubject>;

const groupLabel = 'cri-suite.kubeplug.io/group';

/** Three sandboxes of one group: a (g1, x) and b (g1, y) ready, c (g2, x) stopped. */
async function threePods(ctx: Ctx): Promise<{ group: string; a: TestPod; b: TestPod; c: TestPod }> {
  const group = ctx.uniqueName('kp-group');
  const [a, b, c] = await Promise.all([
    runTestPod(ctx, { labels: { [groupLabel]: group, grp: 'g1', role: 'x' } }),
    runTestPod(ctx, { labels: { [groupLabel]: group, grp: 'g1', role: 'y' } }),
    runTestPod(ctx, { labels: { [groupLabel]: group, grp: 'g2', role: 'x' } }),
  ]);
  requireOk(ctx, await callRuntime(ctx, 'stopPodSandbox', { podSandboxId: c.id }), { what: 'StopPodSandbox of sandbox c succeeds' });
  return { group, a, b, c };
}

/** Names the pods of a listing, for evidence: `a`, `b`, `c`, or `other` for sandboxes of other owners. */
function named(items: readonly PodSandbox[], pods: Readonly<Record<string, TestPod>>): string[] {
  return items.map((item) => Object.entries(pods).find(([, pod]) => pod.id === item.id)?.[0] ?? `other(${item.id.slice(0, 12)})`).sort();
}

const ready = { state: PodSandboxState.SANDBOX_READY };
const notReady = { state: PodSandboxState.SANDBOX_NOTREADY };

/** Declares the ListPodSandbox cases (CRI-SANDBOX-040…044). */
export function declareSandboxListCases(suite: Suite<CriSubject>): void {
  suite.declare({
    ids: ['CRI-SANDBOX-040', 'CRI-SANDBOX-041', 'CRI-SANDBOX-042', 'CRI-SANDBOX-043', 'CRI-SANDBOX-044'],
    title: 'ListPodSandbox lists every sandbox without a filter and exactly the matching ones with filters by ID, state and labels, combined with AND',
    timeoutMs: 90_000,
    async run(ctx: Ctx) {
      const { group, a, b, c } = await threePods(ctx);
      const pods = { a, b, c };
      const all = await listSandboxes(ctx, undefined, { ids: ['CRI-SANDBOX-040'] });
      const mine = named(all, pods).filter((name) => !name.startsWith('other'));
      ctx.check(mine.join(',') === 'a,b,c', { ids: ['CRI-SANDBOX-040'], what: 'ListPodSandbox without a filter lists the two ready and the stopped sandbox', expected: ['a', 'b', 'c'], got: mine });

      const table: { ids: string[]; what: string; filter: Partial<PodSandboxFilter>; expected: string[]; onlyMine?: boolean }[] = [
        { ids: ['CRI-SANDBOX-041'], what: 'filter.id of sandbox a lists a alone', filter: { id: a.id }, expected: ['a'] },
        { ids: ['CRI-SANDBOX-041'], what: 'filter.id of the stopped sandbox c lists c alone', filter: { id: c.id }, expected: ['c'] },
        { ids: ['CRI-SANDBOX-043'], what: 'label_selector grp=g1 (and the group) lists a and b', filter: { labelSelector: { [groupLabel]: group, grp: 'g1' } }, expected: ['a', 'b'] },
        { ids: ['CRI-SANDBOX-043'], what: 'label_selector role=x (and the group) lists a and c', filter: { labelSelector: { [groupLabel]: group, role: 'x' } }, expected: ['a', 'c'] },
        { ids: ['CRI-SANDBOX-043'], what: 'label_selector grp=g1, role=y (and the group) lists b alone: every pair must match', filter: { labelSelector: { [groupLabel]: group, grp: 'g1', role: 'y' } }, expected: ['b'] },
        { ids: ['CRI-SANDBOX-043'], what: 'label_selector with a value no sandbox has lists none', filter: { labelSelector: { [groupLabel]: group, grp: 'g3' } }, expected: [] },
        { ids: ['CRI-SANDBOX-044'], what: 'filter.id of a and state NOTREADY lists none (a is ready)', filter: { id: a.id, state: notReady }, expected: [] },
        { ids: ['CRI-SANDBOX-044'], what: 'filter.id of c and state NOTREADY lists c', filter: { id: c.id, state: notReady }, expected: ['c'] },
        { ids: ['CRI-SANDBOX-044'], what: 'state READY and label role=x (and the group) lists a alone', filter: { state: ready, labelSelector: { [groupLabel]: group, role: 'x' } }, expected: ['a'] },
        { ids: ['CRI-SANDBOX-044'], what: 'filter.id of a and label grp=g2 lists none', filter: { id: a.id, labelSelector: { grp: 'g2' } }, expected: [] },
      ];
      for (const row of table) {
        const items = await listSandboxes(ctx, row.filter, { ids: row.ids });
        const got = named(items, pods);
        ctx.check(got.join(',') === row.expected.join(','), { ids: row.ids, what: row.what, expected: row.expected, got });
      }

      for (const [label, state, present, absent] of [
        ['READY', PodSandboxState.SANDBOX_READY, ['a', 'b'], ['c']],
        ['NOTREADY', PodSandboxState.SANDBOX_NOTREADY, ['c'], ['a', 'b']],
      ] as const) {
        const items = await listSandboxes(ctx, { state: { state } }, { ids: ['CRI-SANDBOX-042'] });
        const wrong = items.filter((item) => item.state !== state);
        const got = named(items, pods).filter((name) => !name.startsWith('other'));
        ctx.check(wrong.length === 0 && present.every((name) => got.includes(name)) && absent.every((name) => !got.includes(name)), {
          ids: ['CRI-SANDBOX-042'],
          what: `filter.state ${label} lists the suite's ${present.join(', ')} and only sandboxes in that state`,
          expected: { includes: present, excludes: absent, every: label },
          got: { suite: got, statesListed: [...new Set(items.map((item) => sandboxStateName(item.state)))] },
        });
      }
    },
  });
}
