/**
 * The broken kubelets that break restart, probe, hook, manifest and plugin
 * rules, each caught by a focused `kubeplug certify kubelet` on exactly
 * those rules; the faithful kubelet's run and the init and phase fixtures
 * are in kubelet-fixtures.test.ts, which tap runs beside this file.
 */
import t from 'tap';
import { declareCatchTest, fixturesOf, sharedRegistry } from './kubelet-fixtures-shared.js';

// A focused certification per fixture (10-40 s each, ~6 s of it the node's start), ~4 min in all on a busy 2-core machine.
t.setTimeout(1_800_000);
t.comment('timeout=1800000');

const registry = sharedRegistry(t);
for (const fixture of fixturesOf('part2')) declareCatchTest(t, registry, fixture);
