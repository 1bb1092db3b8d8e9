import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import t from 'tap';
import { cordonFileName, DisruptionState, evictionsFileName } from '../../../kubelet/disruption/disruption-state.js';
import { parseKubeletUrl } from '../../../kubelet/disruption/cluster-view.js';

function tempRoot(t: { teardown(fn: () => void): void }): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'kubeplug-state-'));
  t.teardown(() => fs.rmSync(dir, { recursive: true, force: true }));
  return dir;
}

t.test('the cordon and evictions are on disk once the call resolves, and a new state reads them back', async (t) => {
  const root = tempRoot(t);
  const state = await DisruptionState.load(root);
  t.equal(state.unschedulable, false);
  await state.setUnschedulable(true);
  await state.recordEviction('uid-1', { namespace: 'default', name: 'web-n1', at: '2026-12-04T12:00:00Z', gracePeriodSeconds: 5 });
  await state.recordEviction('uid-1', { namespace: 'default', name: 'web-n1', at: '2026-12-04T13:00:00Z' });
  const again = await DisruptionState.load(root);
  t.equal(again.unschedulable, true);
  t.same(again.eviction('uid-1'), { namespace: 'default', name: 'web-n1', at: '2026-12-04T12:00:00Z', gracePeriodSeconds: 5 }, 'the first record of a UID is kept');
  await again.forgetEvictionsExcept(new Set(['uid-2']));
  t.same((await DisruptionState.load(root)).evictedUids, []);
  t.same(fs.readdirSync(root).sort(), [cordonFileName, evictionsFileName].sort(), 'no temp files left');
});

t.test('unreadable state files are reported and read as empty, never a crash', async (t) => {
  const root = tempRoot(t);
  fs.writeFileSync(path.join(root, cordonFileName), '{"unschedulable": tr');
  fs.writeFileSync(path.join(root, evictionsFileName), JSON.stringify({ evictions: { good: { namespace: 'default', name: 'a', at: 'x' }, bad: { name: 3 } } }));
  const warnings: string[] = [];
  const state = await DisruptionState.load(root, (message) => warnings.push(message));
  t.equal(state.unschedulable, false);
  t.same(state.evictedUids, ['good'], 'malformed records are dropped');
  t.match(warnings, [new RegExp(cordonFileName)]);
});

t.test('peer URLs: http://HOST:PORT and unix:///path, anything else refused', async (t) => {
  t.same(parseKubeletUrl('http://10.0.0.2:10255').request, { host: '10.0.0.2', port: 10255 });
  t.same(parseKubeletUrl('http://[fd00::2]:10255/').request, { host: 'fd00::2', port: 10255 });
  t.same(parseKubeletUrl('unix:///run/kubelet.sock').request, { socketPath: '/run/kubelet.sock' });
  for (const bad of ['https://10.0.0.2:10250', 'unix://relative.sock', 'http://10.0.0.2:10255/pods', '10.0.0.2:10255']) {
    t.throws(() => parseKubeletUrl(bad), { name: 'KubeletUrlError' }, bad);
  }
});
