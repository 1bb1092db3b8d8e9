import t from 'tap';
import { Suite } from '../../conformance/framework/index.js';
import { declareDrainCases } from '../../conformance/kubelet/drain.cases.js';
import { declareHookCases } from '../../conformance/kubelet/hook.cases.js';
import { declareInitCases } from '../../conformance/kubelet/init.cases.js';
import type { KubeletSubject } from '../../conformance/kubelet/kubelet-subject.js';
import { declarePdbCases } from '../../conformance/kubelet/pdb.cases.js';
import { declarePhaseCases } from '../../conformance/kubelet/phase.cases.js';
import { declareProbeCases } from '../../conformance/kubelet/probe.cases.js';
import { declareRestartCases } from '../../conformance/kubelet/restart.cases.js';
import { loadRegistry } from '../../specs/registry/index.js';

const registry = loadRegistry();

/** The lifecycle areas these case files own, with their declaration. */
const areas = [
  { prefix: 'KUBELET-INIT-', declare: declareInitCases },
  { prefix: 'KUBELET-PHASE-', declare: declarePhaseCases },
  { prefix: 'KUBELET-PROBE-', declare: declareProbeCases },
  { prefix: 'KUBELET-RESTART-', declare: declareRestartCases },
  { prefix: 'KUBELET-HOOK-', declare: declareHookCases },
  { prefix: 'KUBELET-PDB-', declare: declarePdbCases },
  { prefix: 'KUBELET-DRAIN-', declare: declareDrainCases },
] as const;

function lifecycleSuite(): Suite<KubeletSubject> {
  const suite = new Suite<KubeletSubject>('kubelet');
  for (const area of areas) area.declare(suite);
  return suite;
}

t.test('the lifecycle cases declare without clashing titles', async (t) => {
  const suite = lifecycleSuite();
  t.ok(suite.cases.length > 0, 'cases are declared');
  t.equal(new Set(suite.cases.map((testCase) => testCase.title)).size, suite.cases.length, 'titles are unique');
});

t.test('every lifecycle case cites requirement IDs that exist in specs/kubelet/SPEC.md', async (t) => {
  for (const testCase of lifecycleSuite().cases) {
    for (const id of testCase.ids) t.ok(registry.has(id), `"${testCase.title}" cites ${id}`);
  }
});

for (const area of areas) {
  t.test(`every checkable ${area.prefix}* requirement is cited by a lifecycle case, and none marked not checked is`, async (t) => {
    const cited = new Set(lifecycleSuite().cases.flatMap((testCase) => testCase.ids));
    const requirements = registry.list('kubelet').filter((requirement) => requirement.id.startsWith(area.prefix));
    t.ok(requirements.length > 0, `the spec states ${area.prefix}* requirements`);
    const uncovered = requirements.filter((requirement) => requirement.notChecked === undefined && !cited.has(requirement.id)).map((requirement) => requirement.id);
    t.same(uncovered, [], `every checkable ${area.prefix}* rule is cited`);
    const citedButUnchecked = requirements.filter((requirement) => requirement.notChecked !== undefined && cited.has(requirement.id)).map((requirement) => requirement.id);
    t.same(citedButUnchecked, [], 'no case cites a rule the spec marks not checked');
  });
}

t.test('the plan\'s uncheckable rules are the ones the spec marks not checked', async (t) => {
  const unchecked = registry
    .list('kubelet')
    .filter((requirement) => areas.some((area) => requirement.id.startsWith(area.prefix)) && requirement.notChecked !== undefined)
    .map((requirement) => requirement.id)
    .sort();
  t.same(unchecked, ['KUBELET-PDB-018', 'KUBELET-PROBE-004', 'KUBELET-RESTART-005']);
});

t.test('a case that restarts the kubelet says it needs the restart capability', async (t) => {
  for (const testCase of lifecycleSuite().cases) {
    if (['KUBELET-INIT-006', 'KUBELET-PDB-017', 'KUBELET-DRAIN-001'].some((id) => testCase.ids.includes(id))) t.ok(testCase.needs?.capabilities?.includes('restart'), `"${testCase.title}" needs restart`);
  }
});

t.test('a case that cordons or drains the node says it needs the node to itself', async (t) => {
  for (const testCase of lifecycleSuite().cases) {
    if (testCase.ids.some((id) => id.startsWith('KUBELET-DRAIN-'))) t.ok(testCase.needs?.capabilities?.includes('own-node'), `"${testCase.title}" needs own-node`);
  }
});
