import t from 'tap';
import { defaultRestartBackoff, restartGate } from '../../../kubelet/runtime/container-backoff.js';
import { exited, t0 } from './action-fixtures.js';

t.test('the default back-off: immediate, then 10 s doubling to the cap', async (t) => {
  t.same([0, 1, 2, 3, 4, 5, 6, 7, 50].map((streak) => defaultRestartBackoff(streak, 300_000)), [0, 10_000, 20_000, 40_000, 80_000, 160_000, 300_000, 300_000, 300_000]);
});

t.test('a lower cap lowers the first delay too', async (t) => {
  t.same([0, 1, 2, 3].map((streak) => defaultRestartBackoff(streak, 4000)), [0, 4000, 4000, 4000]);
  t.equal(defaultRestartBackoff(1, 15_000), 10_000);
  t.equal(defaultRestartBackoff(2, 15_000), 15_000);
});

t.test('restartGate counts from the finish time and carries the streak on', async (t) => {
  t.same(restartGate(exited('a', 1, { streak: 2 }), t0 + 6000, defaultRestartBackoff, 300_000), { streak: 2, delayMs: 20_000, until: t0 + 25_000, nextStreak: 3 });
  t.same(restartGate(exited('a', 1, { streak: 2, startedAt: t0 - 700_000 }), t0 + 6000, defaultRestartBackoff, 300_000), { streak: 0, delayMs: 0, until: t0 + 5000, nextStreak: 1 });
  t.same(restartGate(exited('a', 1, { finishedAt: 0 }), t0 + 6000, defaultRestartBackoff, 300_000).until, t0 + 6000, 'no finish time: now');
});
