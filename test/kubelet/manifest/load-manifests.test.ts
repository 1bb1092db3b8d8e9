import fs from 'node:fs';
import path from 'node:path';
import t from 'tap';
import { configHashAnnotation, configSourceAnnotation, describeManifestErrors, loadManifests, loadManifestText } from '../../../kubelet/manifest/index.js';
import { tempDir } from '../../helpers/temp-dir.js';

const yamlPod = `apiVersion: v1
kind: Pod
metadata:
  name: web
spec:
  containers:
  - name: main
    image: busybox:1.36
    command: [sleep, "3600"]
`;

const jsonPod = JSON.stringify({
  apiVersion: 'v1',
  kind: 'Pod',
  metadata: { name: 'api', namespace: 'tools' },
  spec: { containers: [{ name: 'main', image: 'busybox' }] },
});

t.test('every YAML or JSON file of the directory is read and files starting with "." are ignored', async (t) => {
  const dir = tempDir(t);
  fs.writeFileSync(path.join(dir, 'web.yaml'), yamlPod);
  fs.writeFileSync(path.join(dir, 'api.json'), jsonPod);
  fs.writeFileSync(path.join(dir, '.hidden.yaml'), yamlPod.replace('name: web', 'name: hidden'));
  fs.writeFileSync(path.join(dir, '.web.yaml.swp'), 'not a pod');
  fs.mkdirSync(path.join(dir, 'nested'));
  fs.writeFileSync(path.join(dir, 'nested', 'inner.yaml'), yamlPod.replace('name: web', 'name: inner'));
  const loads = await loadManifests(dir, 'node-a');
  t.same(loads.map((load) => load.file), ['api.json', 'web.yaml'], 'two manifests, in file name order, no dotfile, no subdirectory');
  for (const load of loads) t.same(load.errors, [], `${load.file} is valid`);
  t.equal(loads[0]!.pod!.metadata.name, 'api-node-a');
  t.equal(loads[0]!.pod!.metadata.namespace, 'tools', 'an explicit namespace is kept');
  t.equal(loads[1]!.pod!.metadata.name, 'web-node-a');
});

t.test('a missing directory yields no manifests', async (t) => {
  const dir = tempDir(t);
  t.same(await loadManifests(path.join(dir, 'absent'), 'node-a'), []);
});

t.test('a symlink to a manifest is followed', async (t) => {
  const dir = tempDir(t);
  const elsewhere = tempDir(t);
  fs.writeFileSync(path.join(elsewhere, 'real.yaml'), yamlPod);
  fs.symlinkSync(path.join(elsewhere, 'real.yaml'), path.join(dir, 'link.yaml'));
  const loads = await loadManifests(dir, 'n');
  t.equal(loads.length, 1);
  t.equal(loads[0]!.pod?.metadata.name, 'web-n');
});

t.test('a static pod gets the node name appended, namespace default, the node name, a UID and the config annotations', async (t) => {
  const load = loadManifestText(yamlPod, { file: 'web.yaml', nodeName: 'Node-A' });
  const pod = load.pod!;
  t.equal(pod.metadata.name, 'web-node-a', 'the node name is lowercased as upstream does');
  t.equal(pod.metadata.namespace, 'default');
  t.equal(pod.spec.nodeName, 'Node-A');
  t.match(pod.metadata.uid, /^[0-9a-f]{32}$/);
  t.equal(pod.metadata.annotations?.[configSourceAnnotation], 'file');
  t.equal(pod.metadata.annotations?.[configHashAnnotation], pod.metadata.uid);
  t.equal(pod.apiVersion, 'v1');
  t.equal(pod.kind, 'Pod');
});

t.test('the UID is stable for the same content and node, and changes with the content, the node or the file', async (t) => {
  const uid = (text: string, nodeName = 'n', file = 'web.yaml') => loadManifestText(text, { file, nodeName }).pod!.metadata.uid;
  t.equal(uid(yamlPod), uid(yamlPod), 'same content, same UID');
  t.equal(uid(yamlPod), uid(`# a comment\n${yamlPod}`), 'a comment changes nothing');
  const asJson = JSON.stringify({ apiVersion: 'v1', kind: 'Pod', metadata: { name: 'web' }, spec: { containers: [{ name: 'main', image: 'busybox:1.36', command: ['sleep', '3600'] }] } });
  t.equal(uid(yamlPod), uid(asJson), 'the same pod written as JSON is the same pod');
  t.not(uid(yamlPod), uid(yamlPod.replace('"3600"', '"3601"')), 'a changed command is a new pod');
  t.not(uid(yamlPod), uid(yamlPod, 'm'), 'another node, another UID');
  t.not(uid(yamlPod), uid(yamlPod, 'n', 'copy.yaml'), 'another file, another UID');
});

t.test('a uid written in the manifest does not replace the derived one', async (t) => {
  const load = loadManifestText(yamlPod.replace('  name: web', '  name: web\n  uid: fixed'), { file: 'w.yaml', nodeName: 'n' });
  t.match(load.pod!.metadata.uid, /^[0-9a-f]{32}$/);
});

t.test('a status written in the manifest is dropped', async (t) => {
  const load = loadManifestText(`${yamlPod}status:\n  phase: Succeeded\n`, { file: 'w.yaml', nodeName: 'n' });
  t.equal(load.pod!.status, undefined);
});

const unreadable: Array<[string, string, RegExp]> = [
  ['bad YAML', 'apiVersion: v1\nkind: Pod\nmetadata: {name: [unclosed\n', /not YAML or JSON/],
  ['bad JSON', '{"apiVersion": "v1", "kind": ', /not YAML or JSON/],
  ['an empty file', '', /empty/],
  ['only a comment', '# nothing here\n', /no document|exactly one/],
  ['two documents', `${yamlPod}---\n${yamlPod}`, /exactly one pod document/],
  ['a list', '- a\n- b\n', /must be an object/],
  ['a plain string', 'hello', /must be an object/],
];

for (const [what, text, detail] of unreadable) {
  t.test(`${what} yields an error naming the file and no pod`, async (t) => {
    const load = loadManifestText(text, { file: 'broken.yaml', nodeName: 'n' });
    t.equal(load.pod, undefined);
    t.equal(load.errors.length, 1);
    t.match(load.errors[0]!.detail, detail);
    t.match(describeManifestErrors(load), /^broken\.yaml: /, 'the description names the file');
  });
}

const notPods: Array<[string, string, string, RegExp]> = [
  ['another kind', yamlPod.replace('kind: Pod', 'kind: Deployment'), 'kind', /Unsupported value: "Deployment"/],
  ['no kind', yamlPod.replace('kind: Pod\n', ''), 'kind', /Required value/],
  ['another apiVersion', yamlPod.replace('apiVersion: v1', 'apiVersion: apps/v1'), 'apiVersion', /Unsupported value: "apps\/v1"/],
  ['no metadata.name', yamlPod.replace('  name: web\n', '  labels: {a: b}\n'), 'metadata.name', /Required value/],
  ['no spec', 'apiVersion: v1\nkind: Pod\nmetadata: {name: x}\n', 'spec', /Required value/],
];

for (const [what, text, field, detail] of notPods) {
  t.test(`a manifest with ${what} is not a pod and names the field ${field}`, async (t) => {
    const load = loadManifestText(text, { file: 'x.yaml', nodeName: 'n' });
    t.equal(load.pod, undefined);
    const error = load.errors.find((each) => each.field === field);
    t.ok(error, `an error names ${field}`);
    t.match(error?.detail, detail);
  });
}

t.test('an invalid pod is still returned by name, with its field errors, so it can be shown as refused', async (t) => {
  const load = loadManifestText(yamlPod.replace('image: busybox:1.36', 'image: ""'), { file: 'web.yaml', nodeName: 'n' });
  t.equal(load.pod?.metadata.name, 'web-n');
  t.same(load.errors.map((error) => error.field), ['spec.containers[0].image']);
  t.match(describeManifestErrors(load), /^web\.yaml: spec\.containers\[0\]\.image: Required value/);
});

t.test('an unparsable file does not keep the rest of the directory from loading', async (t) => {
  const dir = tempDir(t);
  fs.writeFileSync(path.join(dir, 'a-bad.yaml'), '{{{');
  fs.writeFileSync(path.join(dir, 'b-good.yaml'), yamlPod);
  const loads = await loadManifests(dir, 'n');
  t.equal(loads.length, 2);
  t.equal(loads[0]!.pod, undefined);
  t.ok(loads[0]!.errors.length > 0);
  t.same(loads[1]!.errors, []);
  t.equal(loads[1]!.pod?.metadata.name, 'web-n');
});

t.test('the loaded pod carries the API server defaults', async (t) => {
  const pod = loadManifestText(yamlPod, { file: 'web.yaml', nodeName: 'n' }).pod!;
  t.equal(pod.spec.restartPolicy, 'Always');
  t.equal(pod.spec.terminationGracePeriodSeconds, 30);
  t.equal(pod.spec.dnsPolicy, 'ClusterFirst');
  t.equal(pod.spec.containers[0]!.imagePullPolicy, 'IfNotPresent');
  t.equal(pod.spec.containers[0]!.terminationMessagePath, '/dev/termination-log');
});
