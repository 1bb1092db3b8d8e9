/**
 * What the two kubelet fixture test files share (kubelet-fixtures.test.ts and
 * kubelet-fixtures-part2.test.ts, split so tap's two jobs run them side by
 * side in about the same time): one loopback registry per file, the certification of one
 * fixture, and the check that its processes are gone afterwards.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type * as Tap from 'tap';
import { registryUnavailable, startLoopbackRegistry, type LoopbackRegistry } from '../../conformance/cri/test-images/loopback-registry.js';
import { brokenKubelets, type BrokenKubelet } from '../../conformance/fixtures/kubelet/broken-kubelets.js';
import { certifyBrokenKubelet, serveBrokenKubeletScript, type FixtureCertification } from '../../conformance/fixtures/kubelet/certify-broken-kubelet.js';
import { kubeletNodeUnavailable, loadKubeletRunSettings } from '../../conformance/kubelet/index.js';

export const serveScript = serveBrokenKubeletScript();

/** Why the entry point cannot run (not built), or undefined. */
export const notBuilt = fs.existsSync(serveScript) ? undefined : `needs npm run build (${serveScript})`;

/** Why no fixture can be certified here, or undefined. */
export const certifySkip = notBuilt ?? kubeletNodeUnavailable(loadKubeletRunSettings({})) ?? registryUnavailable();

/**
 * Areas certified by kubelet-fixtures.test.ts, beside the faithful kubelet's
 * run (~2.5 min); the others go to kubelet-fixtures-part2.test.ts. About
 * 4 min each, measured side by side.
 */
const firstFileAreas = new Set(['INIT', 'PHASE']);

/** The fixtures of one test file, by the area of the first rule each breaks. */
export function fixturesOf(file: 'first' | 'part2'): BrokenKubelet[] {
  return brokenKubelets.filter((fixture) => firstFileAreas.has(fixture.breaks[0]?.split('-')[1] ?? '') === (file === 'first'));
}

/** Pids of processes running fixture `name` (read from /proc; none should outlive its certification). */
export function fixtureProcesses(name: string): number[] {
  const pids: number[] = [];
  for (const entry of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const argv = fs.readFileSync(`/proc/${entry}/cmdline`, 'utf8').split('\0');
      const at = argv.indexOf(serveScript);
      if (at >= 0 && argv[at + 1] === name) pids.push(Number(entry));
    } catch {
      // gone meanwhile
    }
  }
  return pids;
}

/** One registry for a whole test file, started at the first certification and stopped in the file's teardown. */
export function sharedRegistry(t: Tap.Test): () => Promise<string> {
  let registry: Promise<LoopbackRegistry> | undefined;
  let dir: string | undefined;
  t.teardown(async () => {
    await (await registry?.catch(() => undefined))?.stop();
    if (dir !== undefined) fs.rmSync(dir, { recursive: true, force: true });
  });
  return async () => {
    if (registry === undefined) {
      dir = fs.mkdtempSync(path.join(os.tmpdir(), 'kp-kubelet-fixtures-registry-'));
      registry = startLoopbackRegistry({ dir });
    }
    return (await registry).host;
  };
}

/** Certifies `fixture` (on `focus`, by default its own), notes the time it took, and checks it left no process running. */
export async function certifyFixture(t: Tap.Test, registry: () => Promise<string>, fixture: BrokenKubelet, focus: readonly string[] = fixture.focus): Promise<FixtureCertification> {
  const result = await certifyBrokenKubelet({ fixture, focus, registry: await registry() });
  t.comment(`${fixture.name}: certified in ${(result.wallMs / 1000).toFixed(1)} s, ${(result.inCasesMs / 1000).toFixed(1)} s of it in ${result.cases.length} case(s)`);
  t.same(fixtureProcesses(fixture.name), [], 'no process of the fixture outlives its certification');
  return result;
}

/** The test every broken kubelet gets: certify exits 1 and fails exactly the rules it breaks. */
export function declareCatchTest(t: Tap.Test, registry: () => Promise<string>, fixture: BrokenKubelet): void {
  t.test(`the suite catches ${fixture.name} (${fixture.description}) on exactly ${fixture.breaks.join(', ')}`, { skip: certifySkip ?? false }, async (t) => {
    const result = await certifyFixture(t, registry, fixture);
    t.same(result.errors, [], 'no harness error');
    t.same(result.failing, [...fixture.breaks].sort(), result.reasons.slice(0, 4000) || result.stderr.slice(-2000));
    t.equal(result.exitCode, 1, 'certify exits 1');
  });
}
