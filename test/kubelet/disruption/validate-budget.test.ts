import t from 'tap';
import type { PodDisruptionBudget } from '../../../kubelet/api/disruption-types.js';
import { validateDisruptionBudget } from '../../../kubelet/disruption/index.js';

function budget(spec: Record<string, unknown>, metadata: Partial<PodDisruptionBudget['metadata']> = {}): PodDisruptionBudget {
  return { apiVersion: 'policy/v1', kind: 'PodDisruptionBudget', metadata: { name: 'web', namespace: 'default', ...metadata }, spec: spec as PodDisruptionBudget['spec'] };
}

t.test('valid budgets have no errors', async (t) => {
  for (const spec of [{ minAvailable: 1, selector: { matchLabels: { app: 'web' } } }, { maxUnavailable: '25%', selector: {} }, { minAvailable: '100%' }, { maxUnavailable: 0, unhealthyPodEvictionPolicy: 'AlwaysAllow' }, {}]) {
    t.same(validateDisruptionBudget(budget(spec)).map(String), [], JSON.stringify(spec));
  }
});

t.test('each invalid field is named in its error', async (t) => {
  const rows: [string, PodDisruptionBudget, string, RegExp][] = [
    ['both set', budget({ minAvailable: 1, maxUnavailable: 1 }), 'spec', /minAvailable and maxUnavailable cannot be both set/],
    ['negative minAvailable', budget({ minAvailable: -1 }), 'spec.minAvailable', /must be greater than or equal to 0/],
    ['fractional maxUnavailable', budget({ maxUnavailable: 1.5 }), 'spec.maxUnavailable', /integer or percentage/],
    ['percent over 100', budget({ minAvailable: '101%' }), 'spec.minAvailable', /must not be greater than 100%/],
    ['not a percent', budget({ maxUnavailable: 'half' }), 'spec.maxUnavailable', /valid percent string/],
    ['boolean', budget({ minAvailable: true }), 'spec.minAvailable', /integer or percentage/],
    ['unknown policy', budget({ unhealthyPodEvictionPolicy: 'Sometimes' }), 'spec.unhealthyPodEvictionPolicy', /Unsupported value: "Sometimes"/],
    ['bad label key', budget({ selector: { matchLabels: { 'bad key': 'x' } } }), 'spec.selector.matchLabels', /name part/],
    ['In without values', budget({ selector: { matchExpressions: [{ key: 'a', operator: 'In' }] } }), 'spec.selector.matchExpressions[0].values', /Required value/],
    ['Exists with values', budget({ selector: { matchExpressions: [{ key: 'a', operator: 'Exists', values: ['x'] }] } }), 'spec.selector.matchExpressions[0].values', /Forbidden/],
    ['unknown operator', budget({ selector: { matchExpressions: [{ key: 'a', operator: 'Near', values: ['x'] }] } }), 'spec.selector.matchExpressions[0].operator', /Unsupported value/],
    ['selector not an object', budget({ selector: 'app=web' }), 'spec.selector', /must be an object/],
    ['bad name', budget({}, { name: 'Web_PDB' }), 'metadata.name', /RFC 1123 subdomain/],
    ['bad namespace', budget({}, { namespace: 'a.b' }), 'metadata.namespace', /RFC 1123 label/],
  ];
  for (const [name, input, field, message] of rows) {
    const errors = validateDisruptionBudget(input);
    t.ok(errors.some((error) => error.field === field && message.test(error.detail)), `${name}: ${errors.map(String).join('; ')}`);
  }
});
