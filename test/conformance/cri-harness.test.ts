import fs from 'node:fs';
import path from 'node:path';
import t from 'tap';
import { CriRunConfigError, connectCriSubject, createCriSuite, loadCriRunSettings } from '../../conformance/cri/index.js';
import { CaseContext, type CheckEvidence } from '../../conformance/framework/index.js';
import { weightOfShares } from '../../conformance/cri/container-resources.cases.js';
import type { CriSubject } from '../../conformance/cri/cri-subject.js';
import { expectRefusal, notApplicableWhenUnimplemented, requireOk } from '../../conformance/cri/expect-status.js';
import { prepareCriRun } from '../../conformance/cri/run-config.js';
import { registryUnavailable, startLoopbackRegistry } from '../../conformance/cri/test-images/loopback-registry.js';
import { testImagesUnavailable } from '../../conformance/cri/test-images/test-image.js';
import { EndpointError, EndpointUnreachableError, GrpcStatusError } from '../../specs/cri/index.js';
import { loadRegistry } from '../../specs/registry/index.js';
import { runCli } from '../helpers/run-cli.js';
import { tempDir } from '../helpers/temp-dir.js';

const registry = loadRegistry();
const suite = createCriSuite();

/** A case context over a subject that is never called: for the status helpers alone. */
function contextFor(ids: readonly string[]): CaseContext<CriSubject> {
  return new CaseContext<CriSubject>({ subject: {} as CriSubject, signal: new AbortController().signal, deadline: new Date(Date.now() + 1000), caseIds: ids, runId: 'test' });
}

const failure = (code: GrpcStatusError['code'], message: string) => ({ ok: false as const, error: new GrpcStatusError({ code, message }) });

t.test('run settings: a registry is a bare HOST[:PORT], a cgroup parent a cgroupfs path or a slice', async (t) => {
  t.same(loadCriRunSettings({}), {});
  t.same(loadCriRunSettings({ registry: '127.0.0.1:5000', cgroupParent: '/kubepods', restartCommand: 'systemctl restart containerd' }), {
    registry: '127.0.0.1:5000',
    cgroupParent: '/kubepods',
    restartCommand: 'systemctl restart containerd',
  });
  t.same(loadCriRunSettings({ registry: 'registry.example.com', cgroupParent: 'kubepods.slice' }), { registry: 'registry.example.com', cgroupParent: 'kubepods.slice' });
  const bad: [Parameters<typeof loadCriRunSettings>[0], RegExp][] = [
    [{ registry: 'http://127.0.0.1:5000' }, /^--registry: .* is not HOST\[:PORT\]/],
    [{ registry: '127.0.0.1:5000/library' }, /^--registry: /],
    [{ registry: '' }, /^--registry: /],
    [{ cgroupParent: 'kubepods' }, /^--cgroup-parent: .*neither an absolute cgroupfs path/],
    [{ restartCommand: '  ' }, /^--restart-command: the command is empty/],
  ];
  for (const [input, message] of bad) t.throws(() => loadCriRunSettings(input), { name: 'CriRunConfigError', message }, JSON.stringify(input));
  t.ok(new CriRunConfigError('x') instanceof Error);
});

t.test('connecting to a socket that does not exist fails with EndpointUnreachableError, starting nothing', async (t) => {
  const dir = tempDir(t);
  const endpoint = `unix://${dir}/missing.sock`;
  await t.rejects(connectCriSubject({ runtimeEndpoint: endpoint, connectTimeoutMs: 500, settings: {} }), EndpointUnreachableError);
  await t.rejects(connectCriSubject({ runtimeEndpoint: 'tcp://127.0.0.1:1', settings: {} }), EndpointError);
  t.same(fs.readdirSync(dir), [], 'nothing was made next to the socket path');
});

t.test('a separate image endpoint that does not answer is named in the error', async (t) => {
  const dir = tempDir(t);
  // A socket file nobody listens on: the runtime endpoint check fails first, naming it.
  await t.rejects(connectCriSubject({ runtimeEndpoint: `unix://${dir}/runtime.sock`, imageEndpoint: `unix://${dir}/image.sock`, connectTimeoutMs: 300, settings: {} }), {
    name: 'EndpointUnreachableError',
    endpoint: `unix://${dir}/runtime.sock`,
  });
});

t.test('every case cites requirements of the CRI spec, and every checkable MUST of the runtime, sandbox and container areas has a case', async (t) => {
  const ids = new Set(registry.list('cri').map((requirement) => requirement.id));
  for (const testCase of suite.cases) {
    for (const id of testCase.ids) t.ok(ids.has(id), `"${testCase.title}" cites ${id}`);
  }
  const cited = new Set(suite.cases.flatMap((testCase) => testCase.ids));
  const mine = registry.list('cri').filter((requirement) => /^CRI-(RUNTIME|SANDBOX|CONTAINER)-/.test(requirement.id));
  const uncovered = mine.filter((requirement) => !cited.has(requirement.id) && requirement.notChecked === undefined).map((requirement) => requirement.id);
  t.same(uncovered, [], 'every rule of the three areas is cited by a case or marked not checked');
  t.ok(mine.length >= 100, `${mine.length} rules in the three areas`);
});

t.test('requireOk without ids is a prerequisite: a pass proves nothing, a failure stops the case', async (t) => {
  const ctx = contextFor(['CRI-X-001']);
  requireOk(ctx, { ok: true, response: {} }, { what: 'a step' });
  t.same((ctx.evidence[0] as CheckEvidence).ids, [], 'the passing step is credited to no rule');
  t.throws(() => requireOk(ctx, failure('INTERNAL', 'boom'), { what: 'another step' }), { name: 'CaseStopped' });
});

t.test('a refusal passes as INVALID_ARGUMENT or an error naming the field, never as OK', async (t) => {
  const ctx = contextFor(['CRI-X-001']);
  t.ok(expectRefusal(ctx, failure('INVALID_ARGUMENT', 'bad'), { what: 'refused', field: 'metadata' }));
  t.ok(expectRefusal(ctx, failure('UNKNOWN', 'config.Metadata is nil'), { what: 'refused', field: 'metadata' }));
  t.notOk(expectRefusal(ctx, failure('UNKNOWN', 'something else'), { what: 'refused', field: 'metadata' }));
  t.notOk(expectRefusal(ctx, { ok: true, response: {} }, { what: 'refused', field: 'metadata' }));
});

t.test('an UNIMPLEMENTED answer ends the case as not applicable; any other answer lets it go on', async (t) => {
  const ctx = contextFor(['CRI-X-001']);
  t.throws(() => notApplicableWhenUnimplemented(ctx, failure('UNIMPLEMENTED', 'no streaming'), 'Exec'), { name: 'CaseNotApplicable', message: /UNIMPLEMENTED to Exec/ });
  t.doesNotThrow(() => notApplicableWhenUnimplemented(ctx, failure('NOT_FOUND', 'gone'), 'Exec'));
  t.doesNotThrow(() => notApplicableWhenUnimplemented(ctx, { ok: true, response: {} }, 'Exec'));
});

t.test('cpu.shares map to cgroup v2 weights as runc converts them', async (t) => {
  t.equal(weightOfShares(2n), 1n);
  t.equal(weightOfShares(1024n), 39n);
  t.equal(weightOfShares(262144n), 10000n);
  t.equal(weightOfShares(0n), 0n);
});

const imagesMissing = registryUnavailable() ?? testImagesUnavailable();

t.test('a run without --registry starts a loopback registry with the suite images, and closing it stops the registry and removes its folder', { skip: imagesMissing ?? false }, async (t) => {
  const run = await prepareCriRun({}, {});
  t.teardown(() => run.close());
  t.ok(run.ownsRegistry);
  t.match(run.registry, /^127\.0\.0\.1:\d+$/);
  t.match(run.cgroupParent, /^\/kubeplug-cri-suite-[0-9a-f]{6}$/);
  for (const reference of Object.values(run.images)) {
    t.match(reference, new RegExp(`^${run.registry.replace('.', '\\.')}/kubeplug-cri-suite/\\w+:1$`));
    const [, repository] = /^[^/]+\/(.+):1$/.exec(reference) ?? [];
    const response = await fetch(`http://${run.registry}/v2/${repository}/manifests/1`, { headers: { accept: 'application/vnd.oci.image.manifest.v1+json' } });
    t.equal(response.status, 200, `${reference} is in the registry`);
  }
  t.ok(fs.existsSync(run.workDir));
  await run.close();
  await run.close();
  t.notOk(fs.existsSync(run.workDir), 'the work folder is removed');
  await t.rejects(fetch(`http://${run.registry}/v2/`), 'the registry no longer answers');
});

t.test('a run with --registry pushes there and starts none', { skip: imagesMissing ?? false }, async (t) => {
  const dir = tempDir(t);
  const given = await startLoopbackRegistry({ dir: path.join(dir, 'registry') });
  t.teardown(() => given.stop());
  const run = await prepareCriRun({ registry: given.host, cgroupParent: '/kubepods' }, {});
  t.teardown(() => run.close());
  t.notOk(run.ownsRegistry);
  t.equal(run.registry, given.host);
  t.equal(run.cgroupParent, '/kubepods');
  t.match(run.images.busybox, `${given.host}/kubeplug-cri-suite/busybox:1`);
  await run.close();
  t.equal((await fetch(`${given.url}/v2/`)).status, 200, 'the given registry keeps running');
});

t.test('kubeplug certify cri exits 2 naming the flag when the runtime endpoint does not answer', async (t) => {
  const dir = tempDir(t);
  const { code, stderr } = await runCli(['certify', 'cri', '--runtime-endpoint', `unix://${dir}/none.sock`, '--connect-timeout', '1']);
  t.equal(code, 2);
  t.match(stderr, new RegExp(`^kubeplug: --runtime-endpoint: cannot reach unix://${dir}/none\\.sock: no socket at `));
  t.notMatch(stderr, /at .*\.js:\d+/, 'no stack trace');
});

t.test('kubeplug certify cri exits 2 on a malformed --registry before connecting', async (t) => {
  const { code, stderr } = await runCli(['certify', 'cri', '--runtime-endpoint', 'unix:///nonexistent/cri.sock', '--registry', 'http://127.0.0.1:5000']);
  t.equal(code, 2);
  t.match(stderr, /^kubeplug: --registry: "http:\/\/127\.0\.0\.1:5000" is not HOST\[:PORT\]/);
});
