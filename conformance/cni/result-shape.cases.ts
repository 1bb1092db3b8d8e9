import { atLeast, resultFamily, type JsonObject } from '../../specs/cni/index.js';
import type { CaseContext, Suite } from '../framework/index.js';
import type { CniSubject } from './cni-subject.js';
import {
  callRaw,
  checkResultShape,
  codeOf,
  createScene,
  deferDel,
  describeRun,
  linkNames,
  parseOneObject,
  sceneRequest,
  withPrevResult,
  withVersion,
  type Placement,
  type PluginScene,
} from './result-checks.js';

type Ctx = CaseContext<CniSubject>;

/** The version families whose result shapes differ, with the rules each is judged by. */
const families = {
  '100': {
    versions: ['1.0.0', '1.1.0'],
    name: '1.x',
    ids: ['CNI-RESULT-003', 'CNI-RESULT-019'],
  },
  '040': {
    versions: ['0.3.0', '0.3.1', '0.4.0'],
    name: '0.3.x/0.4.0',
    ids: ['CNI-RESULT-017', 'CNI-RESULT-018'],
  },
  '020': {
    versions: ['0.1.0', '0.2.0'],
    name: '0.1.0/0.2.0',
    ids: ['CNI-RESULT-020', 'CNI-RESULT-021', 'CNI-RESULT-022', 'CNI-RESULT-023'],
  },
} as const;

/** Rules every result with `interfaces` and `ips` is judged by (0.3.0 and later). */
const listShapeIds = [
  'CNI-RESULT-004',
  'CNI-RESULT-005',
  'CNI-RESULT-006',
  'CNI-RESULT-007',
  'CNI-RESULT-008',
  'CNI-RESULT-009',
  'CNI-RESULT-010',
  'CNI-RESULT-011',
  'CNI-RESULT-012',
  'CNI-RESULT-014',
  'CNI-RESULT-015',
];

/** Declares the result shape cases (specs/cni/SPEC.md, CNI-RESULT), one per version family. */
export function declareResultShapeCases(suite: Suite<CniSubject>): void {
  for (const [key, family] of Object.entries(families) as [keyof typeof families, (typeof families)[keyof typeof families]][]) {
    suite.declare({
      ids: [
        'CNI-RESULT-001',
        'CNI-RESULT-002',
        ...(key === '020' ? [] : listShapeIds),
        'CNI-RESULT-016',
        ...family.ids,
        'CNI-VERSION-005',
      ],
      title: `ADD in every ${family.name} version the plugin lists prints one result of that version's shape, and CHECK and DEL in that version are served`,
      needs: { root: true, netns: true, specVersions: family.versions },
      timeoutMs: 180_000,
      async run(ctx: Ctx) {
        const versions = ctx.subject.supportedVersions.filter((version) => resultFamily(version) === key);
        ctx.note(`versions tried: ${versions.join(', ')}`);
        for (const version of versions) await addAndDeleteIn(ctx, version);
      },
    });
  }
}

/** ADD in one version on a fresh node and pod, judge the result against what the namespaces show, then DEL in that version. */
async function addAndDeleteIn(ctx: Ctx, version: string): Promise<void> {
  const scene = await createScene(ctx);
  const add = sceneRequest(ctx, scene, 'ADD', { conf: withVersion(version) });
  deferDel(ctx, scene, add);
  const [hostBefore, containerBefore] = await Promise.all([linkNames(scene.node.namespace), linkNames(scene.pod)]);
  const run = await callRaw(ctx, scene, add);
  const answer = parseOneObject(run.stdout);
  ctx.check(run.exitCode === 0, {
    ids: ['CNI-VERSION-005'],
    what: `ADD in ${version}, a version the plugin lists, is served`,
    expected: 'exit 0',
    got: describeRun(run),
  });
  ctx.check(run.exitCode === 0 && answer.ok, {
    ids: ['CNI-RESULT-001'],
    what: `ADD in ${version} exits 0 and prints exactly one JSON object`,
    expected: 'exit 0 and one JSON object on stdout',
    got: answer.ok ? `exit ${run.exitCode}` : `${describeRun(run)} (${answer.problem})`,
  });
  if (run.exitCode !== 0 || !answer.ok) return;

  const placement = await observePlacement(scene, add.ifName, hostBefore, containerBefore);
  const problems = checkResultShape(ctx, answer.value, { version, label: `ADD in ${version}`, placement });
  const shapeIds = ['CNI-RESULT-002', ...families[resultFamily(version)].ids.slice(0, 1)];
  const wrongShape = problems.filter((problem) => shapeIds.includes(problem.id));
  ctx.check(wrongShape.length === 0, {
    ids: ['CNI-VERSION-005'],
    what: `ADD in ${version} answers in ${version}'s result format`,
    expected: `cniVersion ${version} and the ${families[resultFamily(version)].name} shape`,
    got: wrongShape.length === 0 ? 'as expected' : wrongShape.map((problem) => problem.problem),
  });

  const withResult = (conf: JsonObject): JsonObject => withPrevResult(answer.value)(withVersion(version)(conf));
  if (atLeast(version, '0.4.0')) {
    // Whether CHECK passes is CNI-CHECK's business; here it only must not be refused for its version.
    const checked = await callRaw(ctx, scene, sceneRequest(ctx, scene, 'CHECK', { containerId: add.containerId, conf: withResult }));
    ctx.check(codeOf(checked) !== 1, {
      ids: ['CNI-VERSION-005'],
      what: `CHECK in ${version} of that attachment is not refused for its version`,
      expected: 'no code 1',
      got: describeRun(checked),
    });
  }
  const del = sceneRequest(ctx, scene, 'DEL', { containerId: add.containerId, conf: withResult });
  const deleted = await callRaw(ctx, scene, del);
  ctx.check(deleted.exitCode === 0, {
    ids: ['CNI-VERSION-005'],
    what: `DEL in ${version} of that attachment is served`,
    expected: 'exit 0',
    got: describeRun(deleted),
  });
}

/** What the namespaces show right after an ADD, for the result rules that compare with reality. */
async function observePlacement(scene: PluginScene, ifName: string, hostBefore: string[], containerBefore: string[]): Promise<Placement> {
  const [hostLinks, containerLinks] = await Promise.all([linkNames(scene.node.namespace), linkNames(scene.pod)]);
  const addresses = await scene.pod
    .exec('ip', ['-j', 'addr', 'show', 'dev', ifName])
    .then((output) => JSON.parse(output.stdout || '[]') as { addr_info?: { local: string; prefixlen: number; scope?: string }[] }[])
    .catch(() => []);
  return {
    netns: scene.pod.path,
    ifName,
    hostLinks,
    containerLinks,
    created: [...hostLinks.filter((link) => !hostBefore.includes(link)), ...containerLinks.filter((link) => !containerBefore.includes(link))],
    containerAddresses: addresses.flatMap((link) => (link.addr_info ?? []).filter((info) => info.scope !== 'link').map((info) => `${info.local}/${info.prefixlen}`)),
  };
}
