import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import t, { type Test } from 'tap';
import type { Pod } from '../../../kubelet/api/pod-types.js';
import { defaultKubeletParts } from '../../../kubelet/default-parts.js';
import { parseKubeletUrl } from '../../../kubelet/disruption/cluster-view.js';
import { DisruptionService } from '../../../kubelet/disruption/disruption-service.js';
import { DisruptionState } from '../../../kubelet/disruption/disruption-state.js';
import { withEvictionMarks } from '../../../kubelet/disruption/pod-marks.js';
import { createEventRecorder } from '../../../kubelet/events/event-recorder.js';
import type { KubeletParts } from '../../../kubelet/kubelet-parts.js';
import { startReadOnlyServer } from '../../../kubelet/server/read-only-server.js';
import { podWith } from './budget-fixtures.js';

const budget = 'apiVersion: policy/v1\nkind: PodDisruptionBudget\nmetadata: {name: web-pdb}\nspec:\n  minAvailable: 2\n  selector: {matchLabels: {app: web}}\n';

/** Two kubelets' disruption sides, each serving /pods on a unix socket and peering with the other. */
async function twoNodes(t: Test, parts: Partial<KubeletParts> = {}) {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'kubeplug-peers-'));
  t.teardown(() => fs.rmSync(dir, { recursive: true, force: true }));
  const names = ['node-a', 'node-b'] as const;
  const podsOf: Record<string, Pod[]> = { 'node-a': [podWith({ name: 'web-a' }), podWith({ name: 'web-c' })], 'node-b': [podWith({ name: 'web-b' })] };
  const services: DisruptionService[] = [];
  for (const name of names) {
    const manifests = path.join(dir, name, 'manifests');
    fs.mkdirSync(manifests, { recursive: true });
    fs.writeFileSync(path.join(manifests, 'pdb.yaml'), budget);
    const state = await DisruptionState.load(path.join(dir, name, 'root'));
    const localPods = (): Pod[] =>
      podsOf[name]!.map((pod) => {
        const record = state.visibleEviction(pod.metadata.uid ?? '');
        return record === undefined ? pod : withEvictionMarks(pod, record);
      });
    const other = names.find((each) => each !== name)!;
    const service = new DisruptionService({
      parts: { ...defaultKubeletParts, ...parts },
      podManifestPath: manifests,
      nodeName: name,
      state,
      peers: [parseKubeletUrl(`unix://${path.join(dir, `${other}.sock`)}`)],
      localPods,
      onChange: () => {},
    });
    const server = await startReadOnlyServer({ port: 0, address: '127.0.0.1', socketPath: path.join(dir, `${name}.sock`), pods: localPods, events: createEventRecorder({ host: name }), disruption: service });
    t.teardown(() => server.close());
    services.push(service);
  }
  return services as [DisruptionService, DisruptionService];
}

t.test('two kubelets evicting at the same moment never overdraw a budget that allows one disruption', async (t) => {
  for (let round = 0; round < 5; round += 1) {
    const [a, b] = await twoNodes(t);
    const outcomes = await Promise.all([a.evict('default', 'web-a', undefined), b.evict('default', 'web-b', undefined)]);
    const evicted = outcomes.filter((outcome) => outcome.outcome === 'evicted').length;
    t.ok(evicted <= 1, `round ${round}: ${outcomes.map((outcome) => outcome.outcome).join(', ')}`);
  }
});

t.test('clients that retry refusals on a fixed period get exactly one eviction through', async (t) => {
  const [a, b] = await twoNodes(t);
  const retry = async (service: DisruptionService, name: string): Promise<boolean> => {
    for (let attempt = 0; attempt < 8; attempt += 1) {
      if ((await service.evict('default', name, undefined)).outcome === 'evicted') return true;
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    return false;
  };
  const results = await Promise.all([retry(a, 'web-a'), retry(b, 'web-b')]);
  t.equal(results.filter(Boolean).length, 1, `evicted: ${JSON.stringify(results)}`);
});

t.test('one at a time, the first eviction goes and the second is refused across nodes', async (t) => {
  const [a, b] = await twoNodes(t);
  t.same(await a.evict('default', 'web-a', undefined), { outcome: 'evicted' });
  t.same(await b.evict('default', 'web-b', undefined), { outcome: 'refused', budget: 'web-pdb', desiredHealthy: 2, currentHealthy: 2 });
});

t.test('a kubelet whose decision ignores the budget overdraws it (the fixture seam still shows the bug)', async (t) => {
  const [a, b] = await twoNodes(t, { decideEviction: () => ({ verdict: 'allow', why: 'budget allows' }) });
  const outcomes = await Promise.all([a.evict('default', 'web-a', undefined), b.evict('default', 'web-b', undefined)]);
  t.same(outcomes, [{ outcome: 'evicted' }, { outcome: 'evicted' }]);
});
