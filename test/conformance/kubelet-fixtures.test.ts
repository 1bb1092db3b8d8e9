/**
 * Proof both ways for the kubelet suite: the reference kubelet, run through
 * the fixtures' entry point with nothing swapped, fails no rule on any case a
 * fixture is judged on, and every broken kubelet
 * (conformance/fixtures/kubelet) fails exactly the rules it breaks. Each is
 * certified as a user would: `kubeplug certify kubelet --kubelet-cmd
 * '<serve-broken-kubelet.js NAME …>' --focus …`, which starts a node of its
 * own; one loopback registry serves every run of the file (--registry).
 * This file certifies the faithful kubelet and the fixtures breaking init
 * and phase rules; kubelet-fixtures-part2.test.ts those breaking restart,
 * probe, hook, manifest and plugin rules, side by side with it.
 */
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import t from 'tap';
import { brokenKubelets, faithfulKubelet } from '../../conformance/fixtures/kubelet/broken-kubelets.js';
import { compileFilter, isSelected } from '../../conformance/framework/index.js';
import { createKubeletSuite } from '../../conformance/kubelet/index.js';
import { defaultKubeletParts } from '../../kubelet/default-parts.js';
import { loadRegistry } from '../../specs/registry/index.js';
import { certifyFixture, certifySkip, declareCatchTest, fixturesOf, notBuilt, serveScript, sharedRegistry } from './kubelet-fixtures-shared.js';

// The faithful kubelet on every judged case (~2.5 min) and a focused certification per fixture (8-30 s each, ~5 s
// of it the node's start), ~4 min in all on a busy 2-core machine.
t.setTimeout(1_800_000);
t.comment('timeout=1800000');

const registry = sharedRegistry(t);
const suiteCases = createKubeletSuite().cases;
const requirements = new Map(loadRegistry().list('kubelet').map((requirement) => [requirement.id, requirement.level]));

t.test('the catalogue breaks init containers, phases, probes, restarts, hooks, manifests and plugin duties, one part each, citing stated rules', async (t) => {
  t.ok(brokenKubelets.length >= 14, `${brokenKubelets.length} broken kubelets`);
  for (const fixture of brokenKubelets) {
    t.ok(fixture.breaks.length > 0, `${fixture.name} names the rules it breaks`);
    t.same(fixture.breaks.filter((id) => requirements.get(id) !== 'MUST' && requirements.get(id) !== 'SHOULD'), [], `${fixture.name} cites only stated MUST or SHOULD rules`);
    t.ok(fixture.focus.length > 0, `${fixture.name} is certified on a focus`);
    const filter = compileFilter({ focus: fixture.focus });
    const judged = new Set(suiteCases.filter((testCase) => isSelected(filter, testCase)).flatMap((testCase) => testCase.ids));
    t.same(fixture.breaks.filter((id) => !judged.has(id)), [], `${fixture.name}'s focus selects cases citing every rule it breaks`);
    t.same(Object.keys(fixture.parts()), [fixture.part], `${fixture.name} replaces exactly one part, ${fixture.part}`);
    t.ok(fixture.part in defaultKubeletParts, `${fixture.part} is a kubelet part`);
  }
  const areas = new Set(brokenKubelets.flatMap((fixture) => fixture.breaks.map((id) => id.split('-')[1])));
  for (const area of ['MANIFEST', 'INIT', 'PHASE', 'PROBE', 'RESTART', 'HOOK', 'PLUGIN']) t.ok(areas.has(area), `some fixture breaks a KUBELET-${area} rule`);
  t.equal(new Set(brokenKubelets.map((fixture) => fixture.name)).size, brokenKubelets.length, 'names are unique');
  t.equal(fixturesOf('first').length + fixturesOf('part2').length, brokenKubelets.length, 'the two test files share the fixtures out between them');
});

t.test('serve-broken-kubelet.js exits 2 naming an unknown fixture, and on a missing flag', { skip: notBuilt ?? false }, async (t) => {
  for (const [args, wanted] of [
    [['no-such-kubelet', '--pod-manifest-path', '/nonexistent'], /unknown fixture "no-such-kubelet"/],
    [['faithful', '--pod-manifest-path', '/nonexistent'], /container-runtime-endpoint/],
  ] as const) {
    const child = spawn(process.execPath, [serveScript, ...args], { stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    const [code] = (await once(child, 'exit')) as [number | null];
    t.equal(code, 2, `${args[0]}: exit 2`);
    t.match(stderr, wanted, `${args[0]}: the message says why`);
  }
});

// Every case any fixture is judged on, once, against the reference kubelet through the same entry point.
const judgedOn = [...new Set(brokenKubelets.flatMap((fixture) => fixture.focus))];

t.test("the reference kubelet through the fixtures' entry point passes every case a fixture is judged on", { skip: certifySkip ?? false }, async (t) => {
  const result = await certifyFixture(t, registry, faithfulKubelet, judgedOn);
  t.same(result.errors, [], 'no harness error');
  t.same(result.failing, [], result.reasons.slice(0, 4000));
  t.equal(result.exitCode, 0, `certify exits 0\n${result.stderr.slice(-2000)}`);
});

for (const fixture of fixturesOf('first')) declareCatchTest(t, registry, fixture);
