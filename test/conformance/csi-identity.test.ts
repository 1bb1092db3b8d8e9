import t from 'tap';
import { connectCsiSubject, createCsiSuite } from '../../conformance/csi/index.js';
import { identityFixture, identityFixtures } from '../../conformance/fixtures/csi-identity/identity-fixtures.js';
import {
  compileFilter,
  decideVerdict,
  probeEnvironment,
  requirementResults,
  runSuite,
  type RequirementResult,
} from '../../conformance/framework/index.js';
import { loadRegistry } from '../../specs/registry/index.js';
import { serveFixture } from '../helpers/csi-fixture-server.js';

const registry = loadRegistry();
const environment = await probeEnvironment();
// These fixtures serve Identity alone (with just the capability calls of Controller and Node), so
// they are certified on the Identity rules only; whole drivers are proved in csi-fixtures.test.ts.
const identityRequirements = registry.list('csi').filter((requirement) => requirement.id.startsWith('CSI-IDENT-'));
const identityOnly = compileFilter({ focus: ['^CSI-IDENT-'] });

async function certify(endpoint: string, controllerEndpoint?: string) {
  const subject = await connectCsiSubject({ endpoint, ...(controllerEndpoint === undefined ? {} : { controllerEndpoint }) });
  try {
    const suite = createCsiSuite();
    const cases = await runSuite({ suite, subject, environment, filter: identityOnly });
    const requirements = requirementResults({ requirements: identityRequirements, declaredCases: suite.cases, results: cases });
    return { cases, requirements, verdict: decideVerdict(cases, requirements) };
  } finally {
    subject.close();
  }
}

const failing = (requirements: RequirementResult[], level: string): string[] =>
  requirements.filter((r) => r.level === level && r.status === 'fail').map((r) => r.id);

t.test('the fixtures include a conforming server and at least five broken ones', async (t) => {
  t.ok(identityFixtures.some((fixture) => fixture.breaks.length === 0));
  t.ok(identityFixtures.filter((fixture) => fixture.breaks.length > 0).length >= 5);
});

for (const fixture of identityFixtures) {
  const expectation = fixture.breaks.length === 0 ? 'passes every MUST' : `fails exactly ${fixture.breaks.join(', ')}`;
  t.test(`fixture ${fixture.name} (${fixture.description}) ${expectation}`, async (t) => {
    const { endpoint } = await serveFixture(t, fixture);
    const { requirements, verdict, cases } = await certify(endpoint);
    t.same(failing(requirements, 'MUST'), fixture.breaks, 'failed MUSTs');
    t.same(failing(requirements, 'SHOULD'), fixture.warns ?? [], 'failed SHOULDs');
    t.equal(cases.filter((c) => c.outcome === 'error').length, 0, 'no harness error');
    t.equal(verdict.exitCode, fixture.breaks.length === 0 ? 0 : 1, 'exit code');
    const passedWithoutCheck = requirements.filter((r) => r.status === 'pass' && r.cases.length === 0);
    t.same(passedWithoutCheck, [], 'nothing passes without a case');
  });
}

t.test('the conforming server leaves only capability-gated cases not applicable', async (t) => {
  const { endpoint } = await serveFixture(t, identityFixture('conforming')!);
  const { requirements } = await certify(endpoint);
  const notApplicable = requirements.filter((r) => r.status === 'not-applicable').map((r) => r.id);
  t.same(notApplicable, ['CSI-IDENT-013', 'CSI-IDENT-015']);
  t.same(requirements.filter((r) => r.status === 'not-checked').map((r) => r.id), ['CSI-IDENT-018']);
});

t.test('separate node and controller sockets are each checked', async (t) => {
  const node = await serveFixture(t, identityFixture('conforming')!, 'node.sock');
  const controller = await serveFixture(t, identityFixture('empty-name')!, 'ctrl.sock', node.dir);
  const { requirements, cases } = await certify(node.endpoint, controller.endpoint);
  t.same(failing(requirements, 'MUST'), ['CSI-IDENT-002'], 'the broken controller socket is caught');
  const nameCase = cases.find((c) => c.ids.includes('CSI-IDENT-002'));
  const targets = nameCase?.evidence.flatMap((item) => (item.kind === 'call' ? [item.target] : []));
  t.match(targets, [/node\.sock \(node\)/, /ctrl\.sock \(controller\)/], 'both endpoints were called');
});

t.test('sockets of one version that disagree on capabilities fail CSI-IDENT-011', async (t) => {
  const node = await serveFixture(t, identityFixture('conforming')!, 'node.sock');
  const controller = await serveFixture(t, identityFixture('conforming-minimal')!, 'ctrl.sock', node.dir);
  const { requirements } = await certify(node.endpoint, controller.endpoint);
  t.ok(failing(requirements, 'MUST').includes('CSI-IDENT-011'));
});

t.test('evidence records what was sent, expected and received', async (t) => {
  const { endpoint } = await serveFixture(t, identityFixture('empty-name')!);
  const { cases } = await certify(endpoint);
  const nameCase = cases.find((c) => c.ids.includes('CSI-IDENT-002'));
  const call = nameCase?.evidence.find((item) => item.kind === 'call');
  t.match(call, { kind: 'call', method: 'Identity/GetPluginInfo', request: {}, response: { name: '' } });
  const check = nameCase?.evidence.find((item) => item.kind === 'check' && !item.passed);
  t.match(check, { ids: ['CSI-IDENT-002'], expected: 'a non-empty name', got: '' });
});
