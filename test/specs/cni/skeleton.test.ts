import t from 'tap';
import { CniError, dispatch, type PluginDefinition, type PluginRequest } from '../../../specs/cni/index.js';

const calls: PluginRequest[] = [];
const plugin: PluginDefinition = {
  about: 'test plugin',
  supportedVersions: ['0.3.1', '0.4.0', '1.0.0', '1.1.0'],
  handlers: {
    async add(request) {
      calls.push(request);
      if (request.ifName === 'fail0') throw new CniError({ code: 105, msg: 'cannot make it', details: 'because' });
      if (request.ifName === 'crash0') throw new TypeError('bug');
      return { cniVersion: '1.1.0', ips: [{ address: '10.0.0.2/24', gateway: '10.0.0.1' }] };
    },
    async del() {},
    async check() {},
  },
};

const addEnv = { CNI_COMMAND: 'ADD', CNI_CONTAINERID: 'c1', CNI_NETNS: '/run/netns/x', CNI_IFNAME: 'eth0', CNI_PATH: '/opt/cni/bin' };
const conf = (version: string): string => JSON.stringify({ cniVersion: version, name: 'n', type: 'test' });

t.test('ADD prints the result converted to the configured version', async (t) => {
  const outcome = await dispatch(plugin, { env: addEnv, stdin: conf('0.4.0') });
  t.equal(outcome.exitCode, 0);
  t.same(JSON.parse(outcome.stdout), { cniVersion: '0.4.0', ips: [{ address: '10.0.0.2/24', gateway: '10.0.0.1', version: '4' }] });
});

t.test('an unsupported configured version is error code 1 with exit status 1', async (t) => {
  const outcome = await dispatch(plugin, { env: addEnv, stdin: conf('0.2.0') });
  t.equal(outcome.exitCode, 1);
  t.match(JSON.parse(outcome.stdout), { code: 1, msg: /incompatible CNI versions/ });
});

t.test('VERSION answers without any other environment or config', async (t) => {
  const outcome = await dispatch(plugin, { env: { CNI_COMMAND: 'VERSION' }, stdin: '' });
  t.equal(outcome.exitCode, 0);
  t.same(JSON.parse(outcome.stdout).supportedVersions, plugin.supportedVersions);
});

t.test("a handler's CniError reaches stdout with its code, message and details", async (t) => {
  const outcome = await dispatch(plugin, { env: { ...addEnv, CNI_IFNAME: 'fail0' }, stdin: conf('1.0.0') });
  t.equal(outcome.exitCode, 1);
  t.same(JSON.parse(outcome.stdout), { cniVersion: '1.0.0', code: 105, msg: 'cannot make it', details: 'because' });
});

t.test('an untyped error becomes code 999 and its stack goes to stderr', async (t) => {
  const outcome = await dispatch(plugin, { env: { ...addEnv, CNI_IFNAME: 'crash0' }, stdin: conf('1.0.0') });
  t.match(JSON.parse(outcome.stdout), { code: 999, details: 'bug' });
  t.match(outcome.stderr, /TypeError: bug/);
});

t.test('a missing variable is code 4 naming it', async (t) => {
  const { CNI_NETNS: _netns, ...env } = addEnv;
  const outcome = await dispatch(plugin, { env, stdin: conf('1.0.0') });
  t.match(JSON.parse(outcome.stdout), { code: 4, msg: /CNI_NETNS/ });
});

t.test('an unknown command is code 4', async (t) => {
  const outcome = await dispatch(plugin, { env: { ...addEnv, CNI_COMMAND: 'FROB' }, stdin: conf('1.0.0') });
  t.match(JSON.parse(outcome.stdout), { code: 4, msg: /unknown CNI_COMMAND "FROB"/ });
});

t.test('malformed stdin is code 6', async (t) => {
  const outcome = await dispatch(plugin, { env: addEnv, stdin: '{' });
  t.match(JSON.parse(outcome.stdout), { code: 6 });
});

t.test('CHECK on a 0.3.1 configuration is code 1: CHECK arrived in 0.4.0', async (t) => {
  const outcome = await dispatch(plugin, { env: { ...addEnv, CNI_COMMAND: 'CHECK' }, stdin: conf('0.3.1') });
  t.match(JSON.parse(outcome.stdout), { code: 1, msg: /CHECK needs spec 0.4.0/ });
});

t.test('the handler sees parsed parameters', async (t) => {
  calls.length = 0;
  await dispatch(plugin, { env: { ...addEnv, CNI_ARGS: 'A=1;B=2', CNI_PATH: '/a:/b' }, stdin: conf('1.0.0') });
  t.match(calls[0], { containerId: 'c1', netns: '/run/netns/x', ifName: 'eth0', args: [['A', '1'], ['B', '2']], cniPath: ['/a', '/b'] });
});
