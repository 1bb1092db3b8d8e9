import t from 'tap';
import * as manifest from '../../../kubelet/manifest/index.js';
import * as status from '../../../kubelet/status/index.js';
import { dns1123LabelProblem, dns1123SubdomainProblem, portNameProblem } from '../../../kubelet/manifest/name-rules.js';

t.test('the manifest and status folders export what the rest of the kubelet imports', async (t) => {
  for (const name of ['loadManifests', 'validatePod', 'applyPodDefaults', 'staticPodUid', 'describeManifestErrors']) {
    t.type((manifest as Record<string, unknown>)[name], 'function', `manifest exports ${name}`);
  }
  for (const name of ['generatePodStatus', 'getPodPhase', 'podConditions', 'containerStatuses']) {
    t.type((status as Record<string, unknown>)[name], 'function', `status exports ${name}`);
  }
});

t.test('an RFC 1123 label is at most 63 characters', async (t) => {
  t.equal(dns1123LabelProblem('a'.repeat(63)), undefined);
  t.match(dns1123LabelProblem('a'.repeat(64)), /63 characters/);
  t.ok(dns1123LabelProblem('-a'));
  t.ok(dns1123LabelProblem('a-'));
  t.equal(dns1123LabelProblem('a-1'), undefined);
});

t.test('an RFC 1123 subdomain is dot-separated labels of at most 253 characters', async (t) => {
  t.equal(dns1123SubdomainProblem('web.node-1'), undefined);
  t.ok(dns1123SubdomainProblem('web..node'));
  t.ok(dns1123SubdomainProblem('.web'));
  t.match(dns1123SubdomainProblem('a'.repeat(254)), /253 characters/);
});

t.test('a port name is a lowercase IANA service name with a letter and no double hyphen', async (t) => {
  t.equal(portNameProblem('http-alt'), undefined);
  t.match(portNameProblem('http--alt'), /consecutive hyphens/);
  t.match(portNameProblem('-http'), /begin or end/);
  t.match(portNameProblem('123'), /at least one letter/);
  t.match(portNameProblem(''), /15 characters/);
});

t.test('staticPodUid is 32 hex digits and ignores key order', async (t) => {
  const a = manifest.staticPodUid({ document: { a: 1, b: { c: 2, d: [1, 2] } }, nodeName: 'n', source: 'f' });
  const b = manifest.staticPodUid({ document: { b: { d: [1, 2], c: 2 }, a: 1 }, nodeName: 'n', source: 'f' });
  t.match(a, /^[0-9a-f]{32}$/);
  t.equal(a, b);
  t.not(a, manifest.staticPodUid({ document: { a: 1, b: { c: 2, d: [2, 1] } }, nodeName: 'n', source: 'f' }), 'list order counts');
});
