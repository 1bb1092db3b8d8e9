import t from 'tap';
import { loadManifestText } from '../../../kubelet/manifest/index.js';

const options = { file: 'pdb.yaml', nodeName: 'node1' };

t.test('a PodDisruptionBudget file loads as a budget, defaulted, never as a pod', async (t) => {
  const load = loadManifestText('apiVersion: policy/v1\nkind: PodDisruptionBudget\nmetadata: {name: web}\nspec: {maxUnavailable: "25%", selector: {}}\nstatus: {disruptionsAllowed: 9}\n', options);
  t.same(load.errors, []);
  t.equal(load.pod, undefined);
  t.same(load.budget, { apiVersion: 'policy/v1', kind: 'PodDisruptionBudget', metadata: { name: 'web', namespace: 'default', generation: 1 }, spec: { maxUnavailable: '25%', selector: {} } }, 'namespace defaulted, status dropped');
});

t.test('budget files with errors name the field and hold no usable budget when not policy/v1', async (t) => {
  const rows: [string, string, string, RegExp][] = [
    ['another apiVersion', 'apiVersion: policy/v1beta1\nkind: PodDisruptionBudget\nmetadata: {name: web}\n', 'apiVersion', /Unsupported value: "policy\/v1beta1"/],
    ['no name', 'apiVersion: policy/v1\nkind: PodDisruptionBudget\nmetadata: {}\n', 'metadata.name', /Required value/],
    ['both set', 'apiVersion: policy/v1\nkind: PodDisruptionBudget\nmetadata: {name: web}\nspec: {minAvailable: 1, maxUnavailable: 1}\n', 'spec', /cannot be both set/],
    ['spec not an object', 'apiVersion: policy/v1\nkind: PodDisruptionBudget\nmetadata: {name: web}\nspec: [1]\n', 'spec', /must be an object/],
  ];
  for (const [name, text, field, detail] of rows) {
    const load = loadManifestText(text, options);
    t.ok(load.errors.some((error) => error.field === field && detail.test(error.detail)), `${name}: ${load.errors.map(String).join('; ')}`);
  }
});

t.test('an unknown kind is an error naming kind and both kinds a manifest may hold', async (t) => {
  const load = loadManifestText('apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: web}\nspec: {}\n', options);
  t.match(load.errors.map(String), [/kind: Unsupported value: "Deployment": supported values: "Pod", "PodDisruptionBudget"/]);
});
