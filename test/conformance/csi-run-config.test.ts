import fs from 'node:fs';
import path from 'node:path';
import t from 'tap';
import { CsiRunConfigError, loadCsiRunConfig, type CsiRunConfig, type CsiRunConfigInput } from '../../conformance/csi/index.js';
import { defaultTestVolumeSizeBytes } from '../../conformance/csi/run-config.js';
import { tempDir } from '../helpers/temp-dir.js';

type Test = { teardown(fn: () => unknown): void };

/** Loads a configuration; folders the loader made are removed in teardown. */
function load(t: Test, input: CsiRunConfigInput): CsiRunConfig {
  const config = loadCsiRunConfig(input);
  if (config.ownsDirs) t.teardown(() => fs.rmSync(path.dirname(config.mountDir), { recursive: true, force: true }));
  return config;
}

/** Writes a file into a fresh folder and returns its path. */
function file(t: Test, name: string, text: string): string {
  const target = path.join(tempDir(t, 'kp-cfg-'), name);
  fs.writeFileSync(target, text);
  return target;
}

/** Both folders given, so the loader makes none. */
function folders(t: Test): { mountDir: string; stagingDir: string } {
  const dir = tempDir(t, 'kp-cfg-');
  fs.mkdirSync(path.join(dir, 'mount'));
  fs.mkdirSync(path.join(dir, 'staging'));
  return { mountDir: path.join(dir, 'mount'), stagingDir: path.join(dir, 'staging') };
}

t.test('without flags the run gets fresh folders it owns, no secrets, no parameters and the default size', async (t) => {
  const config = load(t, {});
  t.ok(config.ownsDirs);
  t.ok(fs.statSync(config.mountDir).isDirectory());
  t.ok(fs.statSync(config.stagingDir).isDirectory());
  t.equal(path.dirname(config.mountDir), path.dirname(config.stagingDir), 'one temp folder holds both');
  t.same(config.secrets, {});
  t.same(config.testVolumeParameters, {});
  t.equal(config.testVolumeSizeBytes, defaultTestVolumeSizeBytes);
  t.equal(config.restartCommand, undefined);
});

t.test('given folders are used as they are, made absolute, and not owned', async (t) => {
  const { mountDir, stagingDir } = folders(t);
  const relative = path.relative(process.cwd(), mountDir);
  const config = load(t, { mountDir: relative, stagingDir, restartCommand: 'systemctl restart my-csi', testVolumeSizeBytes: 1 << 30 });
  t.equal(config.mountDir, mountDir);
  t.equal(config.stagingDir, stagingDir);
  t.notOk(config.ownsDirs);
  t.equal(config.restartCommand, 'systemctl restart my-csi');
  t.equal(config.testVolumeSizeBytes, 1 << 30);
});

t.test('a secrets file in csi-sanity YAML gives one map per RPC, comments and quotes handled', async (t) => {
  const secrets = file(
    t,
    'secrets.yaml',
    [
      '# csi-sanity --csi.secrets format',
      'CreateVolumeSecret:',
      '  secretKey: secretval1   # trailing comment',
      '  "quoted.key": "value: with colon"',
      'DeleteVolumeSecret:',
      "  secretKey: 'secretval2'",
      '',
      'NodeStageVolumeSecret:',
      '  password: abc123',
    ].join('\n'),
  );
  const config = load(t, { secretsFile: secrets });
  t.same(config.secrets, {
    CreateVolumeSecret: { secretKey: 'secretval1', 'quoted.key': 'value: with colon' },
    DeleteVolumeSecret: { secretKey: 'secretval2' },
    NodeStageVolumeSecret: { password: 'abc123' },
  });
});

t.test('a secrets file in JSON gives the same maps', async (t) => {
  const secrets = file(t, 'secrets.json', JSON.stringify({ ControllerPublishVolumeSecret: { token: 's3cr3t' }, ListSnapshotsSecret: {} }));
  const config = load(t, { secretsFile: secrets });
  t.same(config.secrets, { ControllerPublishVolumeSecret: { token: 's3cr3t' }, ListSnapshotsSecret: {} });
});

t.test('test volume parameters come from a flat YAML or JSON map', async (t) => {
  const yaml = file(t, 'params.yaml', 'type: fast\nreplicas: "3"\n');
  t.same(load(t, { testVolumeParametersFile: yaml }).testVolumeParameters, { type: 'fast', replicas: '3' });
  const json = file(t, 'params.json', '{"type": "slow"}');
  t.same(load(t, { testVolumeParametersFile: json }).testVolumeParameters, { type: 'slow' });
});

const refusals: [string, (t: Test) => CsiRunConfigInput, RegExp][] = [
  ['a mount folder that does not exist', (t) => ({ mountDir: path.join(tempDir(t), 'missing') }), /^--mount-dir: .*missing is not an existing folder/],
  ['a staging folder that is a file', (t) => ({ stagingDir: file(t, 'plain', '') }), /^--staging-dir: .*plain is not an existing folder/],
  ['a size of zero', () => ({ testVolumeSizeBytes: 0 }), /^--test-volume-size: 0 is not a positive whole number of bytes/],
  ['a fractional size', () => ({ testVolumeSizeBytes: 1.5 }), /^--test-volume-size: 1\.5 is not/],
  ['a secrets file that cannot be read', (t) => ({ secretsFile: path.join(tempDir(t), 'none.yaml') }), /^--secrets: cannot read .*none\.yaml/],
  ['an unknown secrets key', (t) => ({ secretsFile: file(t, 's.yaml', 'CreateVolumeSecrets:\n  a: b\n') }), /^--secrets: .*unknown key "CreateVolumeSecrets" \(known: CreateVolumeSecret, /],
  ['a secrets entry that is not a map', (t) => ({ secretsFile: file(t, 's.yaml', 'CreateVolumeSecret: plain\n') }), /^--secrets: .*"CreateVolumeSecret" must be a map of strings/],
  ['secrets JSON that does not parse', (t) => ({ secretsFile: file(t, 's.json', '{"CreateVolumeSecret": ') }), /^--secrets: .*s\.json is not valid JSON/],
  ['a secrets JSON value that is not a string', (t) => ({ secretsFile: file(t, 's.json', '{"CreateVolumeSecret": {"a": 1}}') }), /^--secrets: .*"CreateVolumeSecret\.a" must be a string/],
  ['a YAML line without a colon', (t) => ({ secretsFile: file(t, 's.yaml', 'CreateVolumeSecret:\n  just-a-word\n') }), /^--secrets: .*s\.yaml:2: expected "key: value"/],
  ['an indented YAML line before any section', (t) => ({ testVolumeParametersFile: file(t, 'p.yaml', '  a: b\n') }), /^--test-volume-parameters: .*p\.yaml:1: indented line outside a section/],
  ['a nested map among test volume parameters', (t) => ({ testVolumeParametersFile: file(t, 'p.yaml', 'group:\n  a: b\n') }), /^--test-volume-parameters: .*"group" must be a string/],
  ['a JSON array of parameters', (t) => ({ testVolumeParametersFile: file(t, 'p.json', '{"a": ["b"]}') }), /^--test-volume-parameters: .*"a" must be a string or a map of strings/],
];

for (const [what, input, message] of refusals) {
  t.test(`the run configuration refuses ${what}, naming the flag`, async (t) => {
    const given = input(t);
    t.throws(() => load(t, given), { name: 'CsiRunConfigError', message });
    t.throws(() => load(t, given), CsiRunConfigError);
  });
}
