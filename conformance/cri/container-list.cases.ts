import { ContainerState, type Container, type ContainerFilter } from '../../specs/cri/index.js';
import type { CaseContext, Suite } from '../framework/index.js';
import { containerStateName, listContainers, sameMap } from './cri-observe.js';
import type { CriSubject } from './cri-subject.js';
import { containerStatus, createContainer, runTestPod, startTestContainer, waitForExit, type TestContainer } from './pod-fixtures.js';
import { testAnnotations, testLabels } from './sandbox-lifecycle.cases.js';

type Ctx = CaseContext<CriSubject>;

const groupLabel = 'cri-suite.kubeplug.io/group';

/** Names the containers of a listing, for evidence: `a`…`d`, or `other` for containers of other owners. */
function named(items: readonly Container[], containers: Readonly<Record<string, TestContainer>>): string[] {
  return items.map((item) => Object.entries(containers).find(([, container]) => container.id === item.id)?.[0] ?? `other(${item.id.slice(0, 12)})`).sort();
}

/** Declares the container labels, annotations and ListContainers cases. */
export function declareContainerListCases(suite: Suite<CriSubject>): void {
  suite.declare({
    ids: ['CRI-CONTAINER-020', 'CRI-CONTAINER-021', 'CRI-CONTAINER-022'],
    title: 'ContainerStatus and ListContainers return the configured labels and annotations exactly',
    async run(ctx: Ctx) {
      const pod = await runTestPod(ctx);
      const container = await createContainer(ctx, pod, { labels: testLabels, annotations: testAnnotations });
      const { labels, annotations } = container.config;
      const status = await containerStatus(ctx, container.id);
      ctx.check(sameMap(status.labels, labels), { ids: ['CRI-CONTAINER-020'], what: 'ContainerStatus labels are exactly the configured ones', expected: labels, got: status.labels });
      ctx.check(sameMap(status.annotations, annotations), { ids: ['CRI-CONTAINER-021'], what: 'ContainerStatus annotations are exactly the configured ones', expected: annotations, got: status.annotations });
      const listed = (await listContainers(ctx, { id: container.id })).find((item) => item.id === container.id);
      ctx.require(listed !== undefined, { ids: ['CRI-CONTAINER-020', 'CRI-CONTAINER-022'], what: 'ListContainers lists the container', expected: container.id, got: 'not listed' });
      ctx.check(sameMap(listed.labels, labels), { ids: ['CRI-CONTAINER-020'], what: 'ListContainers labels are exactly the configured ones', expected: labels, got: listed.labels });
      ctx.check(sameMap(listed.annotations, annotations), { ids: ['CRI-CONTAINER-022'], what: 'ListContainers annotations are exactly the configured ones', expected: annotations, got: listed.annotations });
    },
  });

  suite.declare({
    ids: ['CRI-CONTAINER-027', 'CRI-CONTAINER-028', 'CRI-CONTAINER-029', 'CRI-CONTAINER-030', 'CRI-CONTAINER-031', 'CRI-CONTAINER-032'],
    title: 'ListContainers lists every container without a filter and exactly the matching ones with filters by ID, state, sandbox and labels, combined with AND',
    timeoutMs: 90_000,
    async run(ctx: Ctx) {
      const group = ctx.uniqueName('kp-group');
      const [first, second] = await Promise.all([runTestPod(ctx), runTestPod(ctx)]);
      // a: created, b: running, c: exited, all in the first pod; d: running in the second.
      const a = await createContainer(ctx, first, { labels: { [groupLabel]: group, tier: 't1', role: 'x' } });
      const b = await startTestContainer(ctx, first, { labels: { [groupLabel]: group, tier: 't1', role: 'y' } });
      const c = await startTestContainer(ctx, first, { command: ['true'], labels: { [groupLabel]: group, tier: 't2', role: 'x' } });
      const d = await startTestContainer(ctx, second, { labels: { [groupLabel]: group, tier: 't1', role: 'x' } });
      await waitForExit(ctx, c.id);
      const containers = { a, b, c, d };

      const all = named(await listContainers(ctx, undefined, { ids: ['CRI-CONTAINER-027'] }), containers).filter((name) => !name.startsWith('other'));
      ctx.check(all.join(',') === 'a,b,c,d', { ids: ['CRI-CONTAINER-027'], what: 'ListContainers without a filter lists the created, running and exited containers', expected: ['a', 'b', 'c', 'd'], got: all });

      const inGroup = { [groupLabel]: group };
      const table: { ids: string[]; what: string; filter: Partial<ContainerFilter>; expected: string[] }[] = [
        { ids: ['CRI-CONTAINER-028'], what: 'filter.id of a lists a alone', filter: { id: a.id }, expected: ['a'] },
        { ids: ['CRI-CONTAINER-028'], what: 'filter.id of the exited c lists c alone', filter: { id: c.id }, expected: ['c'] },
        { ids: ['CRI-CONTAINER-030'], what: 'filter.pod_sandbox_id of the first pod lists a, b and c', filter: { podSandboxId: first.id }, expected: ['a', 'b', 'c'] },
        { ids: ['CRI-CONTAINER-030'], what: 'filter.pod_sandbox_id of the second pod lists d alone', filter: { podSandboxId: second.id }, expected: ['d'] },
        { ids: ['CRI-CONTAINER-031'], what: 'label_selector tier=t1 (and the group) lists a, b and d', filter: { labelSelector: { ...inGroup, tier: 't1' } }, expected: ['a', 'b', 'd'] },
        { ids: ['CRI-CONTAINER-031'], what: 'label_selector tier=t1, role=x (and the group) lists a and d: every pair must match', filter: { labelSelector: { ...inGroup, tier: 't1', role: 'x' } }, expected: ['a', 'd'] },
        { ids: ['CRI-CONTAINER-031'], what: 'label_selector with a value no container has lists none', filter: { labelSelector: { ...inGroup, tier: 't3' } }, expected: [] },
        { ids: ['CRI-CONTAINER-029', 'CRI-CONTAINER-032'], what: 'state RUNNING and the group lists b and d', filter: { state: { state: ContainerState.CONTAINER_RUNNING }, labelSelector: inGroup }, expected: ['b', 'd'] },
        { ids: ['CRI-CONTAINER-029', 'CRI-CONTAINER-032'], what: 'state CREATED and the group lists a', filter: { state: { state: ContainerState.CONTAINER_CREATED }, labelSelector: inGroup }, expected: ['a'] },
        { ids: ['CRI-CONTAINER-029', 'CRI-CONTAINER-032'], what: 'state EXITED and the group lists c', filter: { state: { state: ContainerState.CONTAINER_EXITED }, labelSelector: inGroup }, expected: ['c'] },
        { ids: ['CRI-CONTAINER-032'], what: 'the first pod and state RUNNING lists b alone', filter: { podSandboxId: first.id, state: { state: ContainerState.CONTAINER_RUNNING } }, expected: ['b'] },
        { ids: ['CRI-CONTAINER-032'], what: 'the first pod and label role=x lists a and c', filter: { podSandboxId: first.id, labelSelector: { role: 'x' } }, expected: ['a', 'c'] },
        { ids: ['CRI-CONTAINER-032'], what: 'filter.id of d and the first pod lists none', filter: { id: d.id, podSandboxId: first.id }, expected: [] },
        { ids: ['CRI-CONTAINER-032'], what: 'filter.id of a and state RUNNING lists none (a is created)', filter: { id: a.id, state: { state: ContainerState.CONTAINER_RUNNING } }, expected: [] },
      ];
      for (const row of table) {
        const got = named(await listContainers(ctx, row.filter, { ids: row.ids }), containers);
        ctx.check(got.join(',') === row.expected.join(','), { ids: row.ids, what: row.what, expected: row.expected, got });
      }
      for (const state of [ContainerState.CONTAINER_CREATED, ContainerState.CONTAINER_RUNNING, ContainerState.CONTAINER_EXITED]) {
        const items = await listContainers(ctx, { state: { state } }, { ids: ['CRI-CONTAINER-029'] });
        const wrong = items.filter((item) => item.state !== state);
        ctx.check(wrong.length === 0, { ids: ['CRI-CONTAINER-029'], what: `filter.state ${containerStateName(state)} lists only containers in that state`, expected: containerStateName(state), got: wrong.map((item) => `${item.id.slice(0, 12)} ${containerStateName(item.state)}`) });
      }
    },
  });
}
