/**
 * Proof both ways for the kubelet suite: the reference kubelet, run through
 * the fixtures' entry point with nothing swapped, fails no rule on any case a
 * fixture is judged on, and every broken kubelet
 * (conformance/fixtures/kubelet) fails exactly the rules it breaks. Each is
 * certified as a user would: `kubeplug certify kubelet --kubelet-cmd
 * '<serve-broken-kubelet.js NAME …>' --focus …`, which starts a node of its
 * own; one loopback registry serves every run (--registry).
 */
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import t, * as Tap from 'tap';
import { registryUnavailable, startLoopbackRegistry, type LoopbackRegistry } from '../../conformance/cri/test-images/loopback-registry.js';
import { brokenKubelets, faithfulKubelet, type BrokenKubelet } from '../../conformance/fixtures/kubelet/broken-kubelets.js';
import { certifyBrokenKubelet, serveBrokenKubeletScript } from '../../conformance/fixtures/kubelet/certify-broken-kubelet.js';
import { kubeletNodeUnavailable, loadKubeletRunSettings } from '../../conformance/kubelet/index.js';
import { defaultKubeletParts } from '../../kubelet/default-parts.js';
import { loadRegistry } from '../../specs/registry/index.js';

const serveScript = serveBrokenKubeletScript();
const built = fs.existsSync(serveScript) ? undefined : `needs npm run build (${serveScript})`;
const skip = built ?? kubeletNodeUnavailable(loadKubeletRunSettings({})) ?? registryUnavailable();

// A focused certification per fixture, each starting a node of its own: see the timings each test prints.
t.setTimeout(1_800_000);
t.comment('timeout=1800000');

let registry: LoopbackRegistry | undefined;
let registryDir: string | undefined;
t.teardown(async () => {
  await registry?.stop();
  if (registryDir !== undefined) fs.rmSync(registryDir, { recursive: true, force: true });
});

/** The registry every run pushes to and pulls from, started by the first run. */
async function sharedRegistry(): Promise<string> {
  if (registry === undefined) {
    registryDir = fs.mkdtempSync(path.join(os.tmpdir(), 'kp-kubelet-fixtures-registry-'));
    registry = await startLoopbackRegistry({ dir: registryDir });
  }
  return registry.host;
}

/** Pids of processes running fixture `name` (read from /proc; none should outlive its certification). */
function fixtureProcesses(name: string): number[] {
  const pids: number[] = [];
  for (const entry of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const argv = fs.readFileSync(`/proc/${entry}/cmdline`, 'utf8').split('\0');
      const at = argv.findIndex((word) => word === serveScript);
      if (at >= 0 && argv[at + 1] === name) pids.push(Number(entry));
    } catch {
      // gone meanwhile
    }
  }
  return pids;
}

/** Network namespaces by name. */
function networkNamespaces(): Set<string> {
  try {
    return new Set(fs.readdirSync('/run/netns'));
  } catch {
    return new Set();
  }
}

async function certify(t: Tap.Test, fixture: BrokenKubelet, focus: readonly string[] = fixture.focus) {
  const result = await certifyBrokenKubelet({ fixture, focus, registry: await sharedRegistry() });
  t.comment(`${fixture.name}: certified in ${(result.wallMs / 1000).toFixed(1)} s, ${(result.inCasesMs / 1000).toFixed(1)} s of it in ${result.cases.length} cases`);
  t.same(fixtureProcesses(fixture.name), [], 'no process of the fixture outlives its certification');
  return result;
}

const requirements = new Map(loadRegistry().list('kubelet').map((requirement) => [requirement.id, requirement.level]));

t.test('the catalogue breaks init containers, phases, probes, restarts, hooks, manifests and plugin duties, one part each, citing stated rules', async (t) => {
  t.ok(brokenKubelets.length >= 14, `${brokenKubelets.length} broken kubelets`);
  for (const fixture of brokenKubelets) {
    t.ok(fixture.breaks.length > 0, `${fixture.name} names the rules it breaks`);
    t.same(fixture.breaks.filter((id) => requirements.get(id) !== 'MUST' && requirements.get(id) !== 'SHOULD'), [], `${fixture.name} cites only stated MUST or SHOULD rules`);
    const focus = fixture.focus.map((pattern) => new RegExp(pattern));
    t.ok(focus.length > 0, `${fixture.name} is certified on a focus`);
    t.same(fixture.breaks.filter((id) => !focus.some((pattern) => pattern.test(id))), [], `${fixture.name}'s focus covers the rules it breaks`);
    t.same(Object.keys(fixture.parts()), [fixture.part], `${fixture.name} replaces exactly one part, ${fixture.part}`);
    t.ok(fixture.part in defaultKubeletParts, `${fixture.part} is a kubelet part`);
  }
  const areas = new Set(brokenKubelets.flatMap((fixture) => fixture.breaks.map((id) => id.split('-')[1])));
  for (const area of ['MANIFEST', 'INIT', 'PHASE', 'PROBE', 'RESTART', 'HOOK', 'PLUGIN']) t.ok(areas.has(area), `some fixture breaks a KUBELET-${area} rule`);
  t.equal(new Set(brokenKubelets.map((fixture) => fixture.name)).size, brokenKubelets.length, 'names are unique');
});

t.test('serve-broken-kubelet.js exits 2 naming an unknown fixture, and on a missing flag', { skip: built ?? false }, async (t) => {
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

t.test('the reference kubelet through the fixtures\' entry point fails no rule on any case a fixture is judged on', { skip: skip ?? false }, async (t) => {
  const namespacesBefore = networkNamespaces();
  const result = await certify(t, faithfulKubelet, judgedOn);
  t.same(result.errors, [], 'no harness error');
  t.same(result.failing, [], result.reasons.slice(0, 4000));
  t.equal(result.exitCode, 0, `certify exits 0\n${result.stderr.slice(-2000)}`);
  t.ok(result.cases.length > 0, `${result.cases.length} cases ran`);
  t.comment(`network namespaces left meanwhile (this or a parallel test file): ${[...networkNamespaces()].filter((name) => !namespacesBefore.has(name)).join(', ') || 'none'}`);
});

for (const fixture of brokenKubelets) {
  t.test(`the suite catches ${fixture.name} (${fixture.description}) on exactly ${fixture.breaks.join(', ')}`, { skip: skip ?? false }, async (t) => {
    const result = await certify(t, fixture);
    t.same(result.errors, [], 'no harness error');
    t.same(result.failing, [...fixture.breaks].sort(), result.reasons.slice(0, 4000));
    t.equal(result.exitCode, 1, 'certify exits 1');
  });
}
