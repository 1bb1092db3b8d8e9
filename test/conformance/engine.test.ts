import t from 'tap';
import {
  Suite,
  compileFilter,
  decideVerdict,
  parseKnownDeviations,
  requirementResults,
  runSuite,
  type CaseContext,
  type CaseResult,
  type Environment,
  type Subject,
} from '../../conformance/framework/index.js';
import type { Requirement } from '../../specs/registry/index.js';

type Ctx = CaseContext<Subject>;

/** A case body that records one passing check for each ID of its case. */
const passes = async (ctx: Ctx): Promise<void> => void ctx.check(true, { what: 'holds', expected: true, got: true });

const subject: Subject = { capabilities: new Set(['cap.a']), specVersions: new Set(['1.0.0']), identity: { name: 'fake' } };
const environment: Environment = { isRoot: false, canCreateNetns: false, platform: 'linux', arch: 'x64', kernel: 'k', node: 'v20' };

function requirement(id: string, level: Requirement['level'] = 'MUST', notChecked?: string): Requirement {
  return {
    id,
    iface: 'csi',
    level,
    title: `rule ${id}`,
    rule: 'text',
    source: 'src',
    binds: 'plugin',
    section: 's',
    ...(notChecked === undefined ? {} : { notChecked }),
    location: { file: 'f', line: 1 },
  };
}

async function run(suite: Suite<Subject>, filter = compileFilter({}), caseTimeoutMs = 1000): Promise<CaseResult[]> {
  return runSuite({ suite, subject, environment, filter, caseTimeoutMs });
}

t.test('cleanup steps run newest first, even after a failure', async (t) => {
  const order: string[] = [];
  const suite = new Suite<Subject>('x');
  suite.declare({
    ids: ['CSI-T-001'],
    title: 'fails after registering two cleanups',
    async run(ctx: Ctx) {
      ctx.defer(() => order.push('first'));
      ctx.defer(async () => order.push('second'));
      ctx.require(false, { what: 'a broken rule', expected: 1, got: 2 });
      order.push('not reached');
    },
  });
  const [result] = await run(suite);
  t.equal(result?.outcome, 'fail');
  t.same(order, ['second', 'first']);
});

t.test('a case past its deadline fails, is aborted, and still cleans up', async (t) => {
  let cleaned = false;
  let aborted = false;
  const suite = new Suite<Subject>('x');
  suite.declare({
    ids: ['CSI-T-001'],
    title: 'hangs',
    timeoutMs: 50,
    async run(ctx: Ctx) {
      ctx.defer(() => (cleaned = true));
      ctx.signal.addEventListener('abort', () => (aborted = true));
      await new Promise(() => {});
    },
  });
  const [result] = await run(suite, compileFilter({}), 10);
  t.equal(result?.outcome, 'fail');
  t.match(result?.reason, /did not finish within its 50 ms deadline/);
  t.same(result?.failedIds, ['CSI-T-001']);
  t.ok(aborted, 'the case signal was aborted');
  t.ok(cleaned, 'cleanup ran');
});

t.test('a run stopped by its signal stops the case running, cleans it up, and starts no later case', async (t) => {
  let cleaned = false;
  let aborted = false;
  let laterRan = false;
  const stop = new AbortController();
  const suite = new Suite<Subject>('x');
  suite.declare({
    ids: ['CSI-T-001'],
    title: 'hangs until stopped',
    async run(ctx: Ctx) {
      ctx.defer(() => (cleaned = true));
      ctx.signal.addEventListener('abort', () => (aborted = true));
      setTimeout(() => stop.abort(), 10);
      await new Promise(() => {});
    },
  });
  suite.declare({ ids: ['CSI-T-002'], title: 'later', run: async () => void (laterRan = true) });
  const results = await runSuite({ suite, subject, environment, filter: compileFilter({}), caseTimeoutMs: 60_000, signal: stop.signal });
  t.same(results.map((result) => [result.outcome, result.reason]), [['error', 'stopped: the run was interrupted']], 'one result, a harness error');
  t.ok(aborted, 'the case signal was aborted');
  t.ok(cleaned, 'cleanup ran');
  t.notOk(laterRan, 'no later case started');
});

t.test('a thrown error is a harness error, not a subject failure', async (t) => {
  const suite = new Suite<Subject>('x');
  suite.declare({ ids: ['CSI-T-001'], title: 'throws', run: async () => { throw new Error('bug in case'); } });
  const [result] = await run(suite);
  t.equal(result?.outcome, 'error');
  t.match(result?.reason, /harness error: bug in case/);
});

t.test('needs decide not-applicable and skipped before the case runs', async (t) => {
  let ran = 0;
  const suite = new Suite<Subject>('x');
  const body = async (): Promise<void> => void (ran += 1);
  suite.declare({ ids: ['CSI-T-001'], title: 'needs a capability absent', needs: { capabilities: ['cap.b'] }, run: body });
  suite.declare({ ids: ['CSI-T-002'], title: 'needs root', needs: { root: true }, run: body });
  suite.declare({ ids: ['CSI-T-003'], title: 'needs netns', needs: { netns: true }, run: body });
  suite.declare({ ids: ['CSI-T-004'], title: 'needs a spec version absent', needs: { specVersions: ['0.4.0'] }, run: body });
  suite.declare({ ids: ['CSI-T-005'], title: 'needs what is there', needs: { capabilities: ['cap.a'], specVersions: ['1.0.0'] }, run: body });
  const results = await run(suite);
  t.same(results.map((r) => r.outcome), ['not-applicable', 'skipped', 'skipped', 'not-applicable', 'pass']);
  t.match(results[0]?.reason, /does not advertise cap\.b/);
  t.match(results[1]?.reason, /needs root/);
  t.equal(ran, 1);
});

t.test('a capability the run cannot exercise makes a case skipped with its reason, not not-applicable', async (t) => {
  let ran = 0;
  const suite = new Suite<Subject>('x');
  const body = async (): Promise<void> => void (ran += 1);
  suite.declare({ ids: ['CSI-T-001'], title: 'needs a capability this run cannot exercise', needs: { capabilities: ['cap.a', 'restart'] }, run: body });
  suite.declare({ ids: ['CSI-T-002'], title: 'needs a capability absent', needs: { capabilities: ['cap.b'] }, run: body });
  const attached: Subject = { ...subject, unobservable: new Map([['restart', 'the harness does not own the process']]) };
  const results = await runSuite({ suite, subject: attached, environment, filter: compileFilter({}), caseTimeoutMs: 1000 });
  t.same(results.map((r) => r.outcome), ['skipped', 'not-applicable']);
  t.equal(results[0]?.reason, 'the harness does not own the process');
  t.equal(ran, 0);
});

t.test('a failed check names only the requirement it decides', async (t) => {
  const suite = new Suite<Subject>('x');
  suite.declare({
    ids: ['CSI-T-001', 'CSI-T-002'],
    title: 'two rules, one broken',
    async run(ctx: Ctx) {
      ctx.check(true, { ids: ['CSI-T-001'], what: 'fine', expected: 1, got: 1 });
      ctx.check(false, { ids: ['CSI-T-002'], what: 'broken', expected: 1, got: 2 });
    },
  });
  const results = await run(suite);
  t.same(results[0]?.failedIds, ['CSI-T-002']);
  t.same(results[0]?.passedIds, ['CSI-T-001']);
  const statuses = requirementResults({
    requirements: [requirement('CSI-T-001'), requirement('CSI-T-002')],
    declaredCases: suite.cases,
    results,
  }).map((r) => r.status);
  t.same(statuses, ['pass', 'fail']);
});

t.test('a case that fails a check and then skips or finds itself not applicable is a failure, not hidden', async (t) => {
  const suite = new Suite<Subject>('x');
  suite.declare({
    ids: ['CSI-T-001'],
    title: 'fails, then skips',
    async run(ctx: Ctx) {
      ctx.check(false, { what: 'broken', expected: 1, got: 2 });
      ctx.skip('cannot see the rest');
    },
  });
  suite.declare({
    ids: ['CSI-T-002'],
    title: 'fails, then not applicable',
    async run(ctx: Ctx) {
      ctx.check(false, { what: 'broken too', expected: 1, got: 2 });
      ctx.notApplicable('no such feature');
    },
  });
  suite.declare({
    ids: ['CSI-T-003'],
    title: 'skips cleanly',
    async run(ctx: Ctx) {
      ctx.check(true, { what: 'fine so far', expected: 1, got: 1 });
      ctx.skip('cannot see the rest');
    },
  });
  const results = await run(suite);
  t.same(results.map((r) => r.outcome), ['fail', 'fail', 'skipped']);
  t.same(results[0]?.failedIds, ['CSI-T-001']);
  t.equal(results[0]?.reason, 'broken');
  t.ok(results[0]?.evidence.some((item) => item.kind === 'note' && /ended skipped: cannot see the rest/.test(item.text)), 'the skip is noted as evidence');
});

t.test('a requirement the case never reached is not checked, not passed', async (t) => {
  const suite = new Suite<Subject>('x');
  suite.declare({
    ids: ['CSI-T-001', 'CSI-T-002'],
    title: 'stops on the first rule',
    async run(ctx: Ctx) {
      ctx.require(false, { ids: ['CSI-T-001'], what: 'precondition', expected: 'OK', got: 'UNIMPLEMENTED' });
    },
  });
  const results = await run(suite);
  const [first, second] = requirementResults({
    requirements: [requirement('CSI-T-001'), requirement('CSI-T-002')],
    declaredCases: suite.cases,
    results,
  });
  t.equal(first?.status, 'fail');
  t.equal(second?.status, 'not-checked');
  t.match(second?.reason, /no check of it was recorded by: stops on the first rule/);
  t.equal(decideVerdict(results, [first!, second!]).exitCode, 1);
});

t.test('--focus and --skip match IDs and titles', async (t) => {
  const suite = new Suite<Subject>('x');
  for (const [id, title] of [['CSI-A-001', 'alpha rule'], ['CSI-B-001', 'beta rule'], ['CSI-B-002', 'gamma rule']] as const) {
    suite.declare({ ids: [id], title, run: async () => {} });
  }
  const titles = async (focus: string[], skip: string[]): Promise<string[]> =>
    (await run(suite, compileFilter({ focus, skip }))).map((r) => r.title);
  t.same(await titles(['CSI-B-'], []), ['beta rule', 'gamma rule']);
  t.same(await titles([], ['gamma']), ['alpha rule', 'beta rule']);
  t.same(await titles(['CSI-B'], ['CSI-B-002']), ['beta rule']);
  t.throws(() => compileFilter({ focus: ['('] }), { name: 'FilterPatternError', message: /^--focus "\("/ });
});

t.test('requirements left out by the filter are not-run and do not block', async (t) => {
  const suite = new Suite<Subject>('x');
  suite.declare({ ids: ['CSI-A-001'], title: 'a', run: passes });
  suite.declare({ ids: ['CSI-B-001'], title: 'b', run: passes });
  const results = await run(suite, compileFilter({ focus: ['CSI-A'] }));
  const requirements = requirementResults({
    requirements: [requirement('CSI-A-001'), requirement('CSI-B-001')],
    declaredCases: suite.cases,
    results,
  });
  t.same(requirements.map((r) => r.status), ['pass', 'not-run']);
  t.equal(decideVerdict(results, requirements).exitCode, 0);
});

t.test('known deviations: a failure is known and does not block; a pass is stale', async (t) => {
  const suite = new Suite<Subject>('x');
  suite.declare({ ids: ['CSI-T-001'], title: 'broken', run: async (ctx: Ctx) => void ctx.check(false, { what: 'x', expected: 1, got: 0 }) });
  suite.declare({ ids: ['CSI-T-002'], title: 'fine', run: passes });
  const results = await run(suite);
  const deviations = parseKnownDeviations('# ours\nCSI-T-001 fixed in v2\nCSI-T-002   was broken once\n', 'dev.txt');
  const requirements = requirementResults({
    requirements: [requirement('CSI-T-001'), requirement('CSI-T-002')],
    declaredCases: suite.cases,
    results,
    knownDeviations: deviations,
  });
  t.same(requirements.map((r) => r.status), ['known', 'stale']);
  t.match(requirements[0]?.reason, /fixed in v2/);
  t.equal(decideVerdict(results, requirements).exitCode, 0);
});

t.test('known deviations: a rule a case ran but could not reach is known; unlisted it stays not-checked and blocks', async (t) => {
  const suite = new Suite<Subject>('x');
  // The case fails its first rule and never gets to check the second.
  suite.declare({ ids: ['CSI-T-001', 'CSI-T-002'], title: 'stops early', run: async (ctx: Ctx) => void ctx.require(false, { ids: ['CSI-T-001'], what: 'x', expected: 1, got: 0 }) });
  const results = await run(suite);
  const judge = (text: string) =>
    requirementResults({
      requirements: [requirement('CSI-T-001'), requirement('CSI-T-002')],
      declaredCases: suite.cases,
      results,
      knownDeviations: parseKnownDeviations(text, 'dev.txt'),
    });
  const listed = judge('CSI-T-001 broken\nCSI-T-002 unreachable behind CSI-T-001\n');
  t.same(listed.map((r) => r.status), ['known', 'known']);
  t.match(listed[1]?.reason, /not checkable on this subject/);
  t.equal(decideVerdict(results, listed).exitCode, 0);
  const unlisted = judge('CSI-T-001 broken\n');
  t.same(unlisted.map((r) => r.status), ['known', 'not-checked']);
  t.equal(decideVerdict(results, unlisted).exitCode, 1);
});

t.test('a known-deviations file needs a reason per line and no repeats', async (t) => {
  t.throws(() => parseKnownDeviations('CSI-T-001\n', 'dev.txt'), /dev\.txt:1: .* needs a reason/);
  t.throws(() => parseKnownDeviations('CSI-T-001 a\nCSI-T-001 b\n', 'dev.txt'), /dev\.txt:2: CSI-T-001 is listed twice/);
});

t.test('verdict: SHOULD failures do not block; MUST skips and harness errors do', async (t) => {
  const suite = new Suite<Subject>('x');
  suite.declare({ ids: ['CSI-T-001'], title: 'should broken', run: async (ctx: Ctx) => void ctx.check(false, { what: 'x', expected: 1, got: 0 }) });
  suite.declare({ ids: ['CSI-T-002'], title: 'must needing root', needs: { root: true }, run: async () => {} });
  const results = await run(suite);
  const should = requirement('CSI-T-001', 'SHOULD');
  const requirements = requirementResults({ requirements: [should], declaredCases: suite.cases, results });
  t.equal(decideVerdict(results, requirements).exitCode, 0, 'a failed SHOULD alone still certifies');
  const withMust = requirementResults({ requirements: [should, requirement('CSI-T-002')], declaredCases: suite.cases, results });
  const verdict = decideVerdict(results, withMust);
  t.equal(verdict.exitCode, 1, 'a MUST skipped for want of root is not checked');
  t.same(verdict.blockingMusts, ['CSI-T-002']);

  const errorSuite = new Suite<Subject>('y');
  errorSuite.declare({ ids: ['CSI-T-003'], title: 'throws', run: async () => { throw new Error('x'); } });
  const errorResults = await run(errorSuite);
  t.equal(decideVerdict(errorResults, requirementResults({ requirements: [requirement('CSI-T-003')], declaredCases: errorSuite.cases, results: errorResults })).exitCode, 2);
});

t.test('verdict: a MUST no case can check is listed, and blocks only under --strict', async (t) => {
  const suite = new Suite<Subject>('x');
  suite.declare({ ids: ['CSI-T-001'], title: 'fine', run: passes });
  const results = await run(suite);
  const requirements = requirementResults({
    requirements: [requirement('CSI-T-001'), requirement('CSI-T-009', 'MUST', 'invisible from outside'), requirement('CSI-T-010')],
    declaredCases: suite.cases,
    results,
  });
  t.same(requirements.map((r) => r.status), ['pass', 'not-checked', 'not-checked']);
  const verdict = decideVerdict(results, requirements);
  t.same(verdict.uncheckableMusts, ['CSI-T-009']);
  t.same(verdict.blockingMusts, ['CSI-T-010'], 'a MUST with no case and no reason blocks');
  t.equal(decideVerdict(results, requirements.slice(0, 2)).exitCode, 0);
  t.equal(decideVerdict(results, requirements.slice(0, 2), { strict: true }).exitCode, 1);
});

t.test('unique names differ between cases and calls', async (t) => {
  const names: string[] = [];
  const suite = new Suite<Subject>('x');
  for (const title of ['one', 'two']) {
    suite.declare({ ids: ['CSI-T-001'], title, run: async (ctx: Ctx) => void names.push(ctx.uniqueName('vol'), ctx.uniqueName('vol')) });
  }
  await run(suite);
  t.equal(new Set(names).size, 4);
  t.ok(names.every((name) => name.startsWith('vol-')));
});

t.test('declaring a case without IDs or twice is refused', async (t) => {
  const suite = new Suite<Subject>('x');
  t.throws(() => suite.declare({ ids: [], title: 'no ids', run: async () => {} }), /cites no requirement/);
  suite.declare({ ids: ['CSI-T-001'], title: 'once', run: async () => {} });
  t.throws(() => suite.declare({ ids: ['CSI-T-001'], title: 'once', run: async () => {} }), /declared twice/);
});

t.test('a passing case that records no check of an ID does not pass that requirement', async (t) => {
  const suite = new Suite<Subject>('x');
  suite.declare({ ids: ['CSI-T-001'], title: 'checks nothing', run: async () => {} });
  const results = await run(suite);
  t.equal(results[0]?.outcome, 'pass');
  const [status] = requirementResults({ requirements: [requirement('CSI-T-001')], declaredCases: suite.cases, results });
  t.equal(status?.status, 'not-checked');
  t.match(status?.reason, /no check of it was recorded by: checks nothing/);
});

t.test('a case that throws after its deadline does not crash the run', async (t) => {
  const suite = new Suite<Subject>('x');
  suite.declare({
    ids: ['CSI-T-001'],
    title: 'throws once aborted',
    timeoutMs: 30,
    run: (ctx: Ctx) =>
      new Promise((_, reject) => ctx.signal.addEventListener('abort', () => setTimeout(() => reject(new Error('late')), 5))),
  });
  suite.declare({ ids: ['CSI-T-002'], title: 'runs after it', run: passes });
  const results = await run(suite, compileFilter({}), 10);
  await new Promise((resolve) => setTimeout(resolve, 30));
  t.same(results.map((r) => r.outcome), ['fail', 'pass']);
});

t.test('a cleanup registered after the case has unwound runs at once instead of leaking', async (t) => {
  let lateCleaned = false;
  const suite = new Suite<Subject>('x');
  suite.declare({
    ids: ['CSI-T-001'],
    title: 'registers cleanup after its deadline',
    timeoutMs: 20,
    run: (ctx: Ctx) =>
      new Promise(() => {
        setTimeout(() => ctx.defer(() => (lateCleaned = true)), 60);
      }),
  });
  await run(suite, compileFilter({}), 10);
  await new Promise((resolve) => setTimeout(resolve, 100));
  t.ok(lateCleaned);
});

t.test("a case's own deadline does not cut a longer --case-timeout", async (t) => {
  const suite = new Suite<Subject>('x');
  suite.declare({ ids: ['CSI-T-001'], title: 'takes 80 ms', timeoutMs: 20, run: async (ctx: Ctx) => { await new Promise((r) => setTimeout(r, 80)); await passes(ctx); } });
  const [result] = await run(suite, compileFilter({}), 1000);
  t.equal(result?.outcome, 'pass');
});
