/**
 * Proof both ways for the CSI suite: kubeplug's dir-volume driver behind a
 * proxy that changes nothing fails no rule, and every broken driver
 * (conformance/fixtures/csi-driver) fails exactly the rules it breaks.
 * Driver and proxy run in this process; each has its own folders, and
 * whatever a broken driver leaves mounted is undone in teardown.
 */
import { once } from 'node:events';
import fs from 'node:fs';
import t, * as Tap from 'tap';
import { connectCsiSubject, createCsiSuite, loadCsiRunConfig } from '../../conformance/csi/index.js';
import {
  brokenCsiDrivers,
  faithfulProxy,
  type BrokenCsiDriver,
} from '../../conformance/fixtures/csi-driver/broken-drivers.js';
import { startBrokenDriver } from '../../conformance/fixtures/csi-driver/start-broken-driver.js';
import { compileFilter, probeEnvironment, requirementResults, runSuite } from '../../conformance/framework/index.js';
import { IdentityClient, callUnary, createClient, socketPathOf } from '../../specs/csi/index.js';
import { loadRegistry } from '../../specs/registry/index.js';
import { csiDriverFolders } from '../helpers/csi-driver-folders.js';
import { cliPath, startBrokenDriverProcess } from '../helpers/run-cli.js';

const registry = loadRegistry();
const requirements = registry.list('csi');
const environment = await probeEnvironment();
const skip = process.getuid?.() === 0 ? false : 'needs root: the driver mounts for real';

// One whole-suite run and a focused run per fixture, each with real loop devices and mounts.
t.setTimeout(600_000);
t.comment('timeout=600000');

/** Runs the suite (or the focused part) against a fixture started in this process; everything goes in teardown. */
async function certify(t: Tap.Test, fixture: BrokenCsiDriver, focus: readonly string[]) {
  const { root, mountDir, stagingDir, endpoint } = csiDriverFolders(t);
  const driver = await startBrokenDriver({ fixture, endpoint, root });
  t.teardown(() => driver.close());
  const subject = await connectCsiSubject({ endpoint, config: loadCsiRunConfig({ mountDir, stagingDir }) });
  t.teardown(() => subject.close());
  const suite = createCsiSuite();
  const cases = await runSuite({ suite, subject, environment, filter: compileFilter({ focus }) });
  const results = requirementResults({ requirements, declaredCases: suite.cases, results: cases });
  const failed = results.filter((r) => (r.level === 'MUST' || r.level === 'SHOULD') && r.status === 'fail');
  return {
    failing: failed.map((r) => r.id).sort(),
    reasons: failed.map((r) => `${r.id}: ${r.reason ?? ''}`).join('\n'),
    errors: cases.filter((c) => c.outcome === 'error').map((c) => `${c.title}: ${c.reason ?? ''}`),
    ran: cases.length,
    declared: suite.cases.length,
  };
}

/** The areas a fixture's breaks lie in, as focus patterns (`^CSI-NODE-`): the cases that could see the break. */
function areasOf(fixture: BrokenCsiDriver): string[] {
  return [...new Set(fixture.breaks.map((id) => `^${id.split('-').slice(0, 2).join('-')}-`))];
}

t.test('the catalogue breaks Identity, Controller, snapshots and Node, each fixture citing rules the spec states', async (t) => {
  t.ok(brokenCsiDrivers.length >= 18, `${brokenCsiDrivers.length} broken drivers`);
  const known = new Set(requirements.map((r) => r.id));
  for (const fixture of brokenCsiDrivers) {
    t.ok(fixture.breaks.length > 0, `${fixture.name} names the rules it breaks`);
    t.same(fixture.breaks.filter((id) => !known.has(id)), [], `${fixture.name} cites only stated rules`);
  }
  const areas = new Set(brokenCsiDrivers.flatMap((fixture) => fixture.breaks.map((id) => id.split('-')[1])));
  for (const area of ['IDENT', 'CTRL', 'SNAP', 'NODE']) t.ok(areas.has(area), `some fixture breaks a CSI-${area} rule`);
  t.equal(new Set(brokenCsiDrivers.map((fixture) => fixture.name)).size, brokenCsiDrivers.length, 'names are unique');
});

t.test('serve-broken-driver.js serves a fixture until SIGTERM, then stops and removes its socket', { skip: skip || (fs.existsSync(cliPath) ? false : 'needs npm run build') }, async (t) => {
  const { root, endpoint } = csiDriverFolders(t);
  const child = await startBrokenDriverProcess(t, 'plugin-name-too-long', endpoint, root);
  const client = createClient(IdentityClient, endpoint);
  t.teardown(() => client.close());
  const info = await callUnary(client, client.getPluginInfo, {});
  t.equal(info.name.length, 64, 'the fixture answers through its proxy');
  child.kill('SIGTERM');
  const [code] = (await once(child, 'exit')) as [number | null];
  t.equal(code, 0);
  t.notOk(fs.existsSync(socketPathOf(endpoint)), 'the socket is gone');
});

t.test('the dir-volume driver behind a proxy that changes nothing fails no rule of the whole suite', { skip }, async (t) => {
  const { failing, reasons, errors, ran, declared } = await certify(t, faithfulProxy, []);
  t.same(errors, [], 'no harness error');
  t.same(failing, [], reasons.slice(0, 4000));
  t.equal(ran, declared, 'every declared case ran');
});

for (const fixture of brokenCsiDrivers) {
  t.test(`the suite catches ${fixture.name} (${fixture.description}) on exactly ${fixture.breaks.join(', ')}`, { skip }, async (t) => {
    const { failing, reasons, errors } = await certify(t, fixture, areasOf(fixture));
    t.same(errors, [], 'no harness error');
    t.same(failing, [...fixture.breaks].sort(), reasons.slice(0, 4000));
  });
}
