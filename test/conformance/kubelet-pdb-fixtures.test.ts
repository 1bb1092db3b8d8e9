/**
 * Proof both ways for the KUBELET-PDB and KUBELET-DRAIN cases: the reference
 * kubelet with kubeplug's own drain fails none of the cases the fixtures are
 * judged on, each kubelet that gets budgets wrong
 * (conformance/fixtures/kubelet/broken-budget-kubelets.ts) fails exactly the
 * rules it breaks, and a drain that gives up on the first 429
 * (conformance/fixtures/drain/broken-drain.ts, run through `--drain-cmd`)
 * fails exactly KUBELET-DRAIN-004. Each is certified as a user would:
 * `kubeplug certify kubelet --kubelet-cmd … [--drain-cmd …] --focus …`,
 * one loopback registry serving every run of the file.
 */
import fs from 'node:fs';
import t from 'tap';
import { brokenDrainCommand, brokenDrains, brokenDrainScript } from '../../conformance/fixtures/drain/broken-drain-command.js';
import { budgetBrokenKubelets } from '../../conformance/fixtures/kubelet/broken-budget-kubelets.js';
import { faithfulKubelet } from '../../conformance/fixtures/kubelet/broken-kubelets.js';
import { certifyBrokenKubelet } from '../../conformance/fixtures/kubelet/certify-broken-kubelet.js';
import { compileFilter, isSelected } from '../../conformance/framework/index.js';
import { createKubeletSuite } from '../../conformance/kubelet/index.js';
import { defaultKubeletParts } from '../../kubelet/default-parts.js';
import { loadRegistry } from '../../specs/registry/index.js';
import { certifyFixture, certifySkip, declareCatchTest, fixtureProcesses, sharedRegistry } from './kubelet-fixtures-shared.js';

// The faithful kubelet on the judged cases (~2 min) and a focused run per fixture (~30-60 s each) on a busy 2-core machine.
t.setTimeout(1_800_000);
t.comment('timeout=1800000');

const registry = sharedRegistry(t);
const suiteCases = createKubeletSuite().cases;
const requirements = new Map(loadRegistry().list('kubelet').map((requirement) => [requirement.id, requirement.level]));
const drainSkip = certifySkip ?? (fs.existsSync(brokenDrainScript()) ? undefined : `needs npm run build (${brokenDrainScript()})`);

t.test('the budget fixtures each replace one budget part and are judged on cases citing every rule they break', async (t) => {
  t.ok(budgetBrokenKubelets.length >= 3, `${budgetBrokenKubelets.length} broken kubelets`);
  for (const fixture of [...budgetBrokenKubelets, ...brokenDrains]) {
    t.ok(fixture.breaks.length > 0, `${fixture.name} names the rules it breaks`);
    t.same(fixture.breaks.filter((id) => requirements.get(id) !== 'MUST'), [], `${fixture.name} cites only stated MUST rules`);
    const filter = compileFilter({ focus: fixture.focus });
    const judged = new Set(suiteCases.filter((testCase) => isSelected(filter, testCase)).flatMap((testCase) => testCase.ids));
    t.same(fixture.breaks.filter((id) => !judged.has(id)), [], `${fixture.name}'s focus selects cases citing every rule it breaks`);
  }
  for (const fixture of budgetBrokenKubelets) {
    t.same(Object.keys(fixture.parts()), [fixture.part], `${fixture.name} replaces exactly one part, ${fixture.part}`);
    t.ok(fixture.part in defaultKubeletParts, `${fixture.part} is a kubelet part`);
  }
});

const judgedOn = [...new Set([...budgetBrokenKubelets, ...brokenDrains].flatMap((fixture) => fixture.focus))];

t.test("the reference kubelet and kubeplug's drain pass every case a budget or drain fixture is judged on", { skip: drainSkip ?? false }, async (t) => {
  const result = await certifyFixture(t, registry, faithfulKubelet, judgedOn);
  t.same(result.errors, [], 'no harness error');
  t.same(result.failing, [], result.reasons.slice(0, 4000));
  t.equal(result.exitCode, 0, `certify exits 0\n${result.stderr.slice(-2000)}`);
});

for (const fixture of budgetBrokenKubelets) declareCatchTest(t, registry, fixture);

for (const fixture of brokenDrains) {
  t.test(`the suite catches the drain ${fixture.name} (${fixture.description}) on exactly ${fixture.breaks.join(', ')}`, { skip: drainSkip ?? false }, async (t) => {
    const result = await certifyBrokenKubelet({ fixture: faithfulKubelet, focus: fixture.focus, registry: await registry(), drainCmd: brokenDrainCommand(fixture.name) });
    t.comment(`${fixture.name}: certified in ${(result.wallMs / 1000).toFixed(1)} s, ${(result.inCasesMs / 1000).toFixed(1)} s of it in ${result.cases.length} case(s)`);
    t.same(fixtureProcesses(faithfulKubelet.name), [], 'no kubelet process outlives the certification');
    t.same(result.errors, [], 'no harness error');
    t.same(result.failing, [...fixture.breaks].sort(), result.reasons.slice(0, 4000) || result.stderr.slice(-2000));
    t.equal(result.exitCode, 1, 'certify exits 1');
  });
}
