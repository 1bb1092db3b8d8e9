import t from 'tap';
import { decodeJsonObject, interfaceNameProblem, parseCniArgs, validateEnvironment, validateNetConf, validateNetConfList } from '../../../specs/cni/index.js';

const conf = { cniVersion: '1.0.0', name: 'net1', type: 'bridge' };

const badConfs: [string, Record<string, unknown>, RegExp][] = [
  ['a missing name', { cniVersion: '1.0.0', type: 'bridge' }, /field "name" is required/],
  ['a name with a slash', { ...conf, name: 'a/b' }, /field "name" must start with/],
  ['a missing type', { cniVersion: '1.0.0', name: 'n' }, /field "type" is required/],
  ['a numeric cniVersion', { ...conf, cniVersion: 1 }, /field "cniVersion" must be a non-empty string/],
  ['an ipam without type', { ...conf, ipam: {} }, /field "ipam.type" is required/],
  ['runtimeConfig as a list', { ...conf, runtimeConfig: [] }, /field "runtimeConfig" must be an object/],
];
for (const [what, value, message] of badConfs) {
  t.test(`a config with ${what} is INVALID_NETWORK_CONFIG naming the field`, async (t) => {
    t.throws(() => validateNetConf(value), { name: 'CniError', code: 7, message });
  });
}

t.test('a list needs plugins, each with a type', async (t) => {
  t.throws(() => validateNetConfList({ cniVersion: '1.0.0', name: 'n', plugins: [] }), { code: 7, message: /"plugins" must be a non-empty array/ });
  t.throws(() => validateNetConfList({ cniVersion: '1.0.0', name: 'n', plugins: [{}] }), { code: 7, message: /"plugins\[0\].type" is required/ });
  t.throws(() => validateNetConfList({ cniVersion: '1.0.0', name: 'n', plugins: [{ type: 'x' }], disableCheck: 'yes' }), { message: /"disableCheck" must be a boolean/ });
});

t.test('malformed JSON is DECODE_FAILURE', async (t) => {
  t.throws(() => decodeJsonObject('{"cniVersion":'), { code: 6 });
  t.throws(() => decodeJsonObject('[]'), { code: 6, message: /not a JSON object/ });
});

const envCases: [string, 'ADD' | 'DEL', Record<string, string>, RegExp | undefined][] = [
  ['ADD with everything', 'ADD', { CNI_COMMAND: 'ADD', CNI_CONTAINERID: 'c1', CNI_NETNS: '/run/netns/x', CNI_IFNAME: 'eth0' }, undefined],
  ['ADD without CNI_NETNS', 'ADD', { CNI_COMMAND: 'ADD', CNI_CONTAINERID: 'c1', CNI_IFNAME: 'eth0' }, /CNI_NETNS is missing/],
  ['DEL without CNI_NETNS', 'DEL', { CNI_COMMAND: 'DEL', CNI_CONTAINERID: 'c1', CNI_IFNAME: 'eth0' }, undefined],
  ['DEL without CNI_IFNAME', 'DEL', { CNI_COMMAND: 'DEL', CNI_CONTAINERID: 'c1' }, /CNI_IFNAME is missing/],
  ['a container ID starting with a dash', 'DEL', { CNI_COMMAND: 'DEL', CNI_CONTAINERID: '-c1', CNI_IFNAME: 'eth0' }, /CNI_CONTAINERID is malformed/],
  ['a 16-byte interface name', 'DEL', { CNI_COMMAND: 'DEL', CNI_CONTAINERID: 'c1', CNI_IFNAME: 'abcdefghijklmnop' }, /CNI_IFNAME is not a valid interface name/],
  ['CNI_ARGS without "="', 'DEL', { CNI_COMMAND: 'DEL', CNI_CONTAINERID: 'c1', CNI_IFNAME: 'eth0', CNI_ARGS: 'A=1;B' }, /CNI_ARGS is malformed/],
];
for (const [what, verb, env, message] of envCases) {
  t.test(`${what} ${message === undefined ? 'is accepted' : 'is INVALID_ENVIRONMENT'}`, async (t) => {
    if (message === undefined) t.doesNotThrow(() => validateEnvironment(verb, env));
    else t.throws(() => validateEnvironment(verb, env), { code: 4, message });
  });
}

t.test('interface names: the Linux limits', async (t) => {
  t.equal(interfaceNameProblem('eth0'), undefined);
  t.equal(interfaceNameProblem('a'.repeat(15)), undefined);
  t.match(interfaceNameProblem('a'.repeat(16)), /longer than 15/);
  t.match(interfaceNameProblem('..'), /reserved/);
  t.match(interfaceNameProblem('a:b'), /contains/);
});

t.test('CNI_ARGS reads into pairs, keeping "=" inside values', async (t) => {
  t.same(parseCniArgs('IgnoreUnknown=1;K8S_POD_NAME=web-0;X=a=b'), [['IgnoreUnknown', '1'], ['K8S_POD_NAME', 'web-0'], ['X', 'a=b']]);
});
