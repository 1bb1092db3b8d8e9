import t from 'tap';
import { checkAddableConfig, parseBridgeConfig } from '../../../reference-plugins/host-local-bridge/bridge/bridge-config.js';
import { parseVlanTrunk, portVlanLines } from '../../../reference-plugins/host-local-bridge/bridge/vlan.js';
import { CniError } from '../../../specs/cni/index.js';
import type { NetConf } from '../../../specs/cni/index.js';

const parse = (fields: Record<string, unknown>, args: [string, string][] = []) =>
  parseBridgeConfig({ conf: { cniVersion: '1.0.0', name: 'net', type: 'kubeplug-bridge', ...fields } as NetConf, args });

t.test('the defaults are upstream\'s: bridge cni0, no gateway, no masquerade, no VLAN', async (t) => {
  t.match(parse({}), {
    bridge: 'cni0',
    isGateway: false,
    isDefaultGateway: false,
    ipMasq: false,
    mtu: 0,
    hairpinMode: false,
    vlan: { vlan: 0, trunk: [], preserveDefaultVlan: false },
    macSpoofCheck: false,
    enableDad: false,
  });
  t.equal(parse({}).ipamType, undefined, 'no ipam: layer 2');
});

t.test('isDefaultGateway implies isGateway', async (t) => {
  t.equal(parse({ isDefaultGateway: true }).isGateway, true);
});

t.test('the container MAC comes from runtimeConfig, else args.cni, else CNI_ARGS', async (t) => {
  const args: [string, string][] = [['IgnoreUnknown', '1'], ['MAC', '02:00:00:00:00:03']];
  t.equal(parse({}, args).mac, '02:00:00:00:00:03');
  t.equal(parse({ args: { cni: { mac: '02:00:00:00:00:02' } } }, args).mac, '02:00:00:00:00:02');
  t.equal(parse({ runtimeConfig: { mac: '02-00-00-00-00-01' }, args: { cni: { mac: '02:00:00:00:00:02' } } }, args).mac, '02:00:00:00:00:01');
});

const invalid = [
  { fields: { isGateway: 'yes' }, msg: /field "isGateway" must be a boolean/ },
  { fields: { mtu: 1500.5 }, msg: /field "mtu" must be an integer/ },
  { fields: { vlan: -1 }, msg: /^invalid VLAN ID -1 \(must be between 0 and 4094\)$/ },
  { fields: { bridge: 'a/b' }, msg: /field "bridge" is not an interface name/ },
  { fields: { runtimeConfig: { mac: 'not-a-mac' } }, msg: /invalid MAC address "not-a-mac" in runtimeConfig.mac/ },
  { fields: { vlanTrunk: [{ minID: 10 }] }, msg: /^minID and maxID should be configured simultaneously, maxID is missing$/ },
];
for (const { fields, msg } of invalid) {
  t.test(`${JSON.stringify(fields)} is an invalid configuration (code 7)`, async (t) => {
    t.throws(() => parse(fields), { code: 7, msg });
  });
}

t.test('an ipMasqBackend other than iptables is an unsupported field (code 2) only when ipMasq is on', async (t) => {
  t.throws(() => parse({ ipMasq: true, ipMasqBackend: 'nftables' }), { code: 2 });
  t.doesNotThrow(() => parse({ ipMasqBackend: 'nftables' }));
});

t.test('ADD refuses IPAM with disableContainerInterface, and hairpin with promiscuous mode', async (t) => {
  t.throws(() => checkAddableConfig(parse({ ipam: { type: 'host-local' }, disableContainerInterface: true })), new CniError({ code: 7, msg: 'cannot use IPAM when DisableContainerInterface flag is set' }));
  t.throws(() => checkAddableConfig(parse({ hairpinMode: true, promiscMode: true })), new CniError({ code: 7, msg: 'cannot set hairpin mode and promiscuous mode at the same time' }));
});

t.test('a VLAN trunk folds ids and ranges into one sorted list', async (t) => {
  t.same(parseVlanTrunk([{ minID: 10, maxID: 12 }, { id: 5 }, { id: 11 }]), [5, 10, 11, 12]);
  t.same(parseVlanTrunk(undefined), []);
  t.throws(() => parseVlanTrunk([{ minID: 12, maxID: 10 }]), new CniError({ code: 7, msg: 'minID is greater than maxID in trunk parameter' }));
  t.throws(() => parseVlanTrunk([{ id: 4095 }]), new CniError({ code: 7, msg: 'incorrect trunk id parameter' }));
});

t.test('port VLAN commands drop the default PVID, set the access VLAN and the trunk ranges', async (t) => {
  t.same(portVlanLines('veth0', { vlan: 100, trunk: [], preserveDefaultVlan: false }, 1), [
    ['vlan', 'del', 'dev', 'veth0', 'vid', '1'],
    ['vlan', 'add', 'dev', 'veth0', 'vid', '100', 'pvid', 'untagged'],
  ]);
  t.same(portVlanLines('veth0', { vlan: 0, trunk: [5, 10, 11, 12], preserveDefaultVlan: true }, 1), [
    ['vlan', 'add', 'dev', 'veth0', 'vid', '5'],
    ['vlan', 'add', 'dev', 'veth0', 'vid', '10-12'],
    ['vlan', 'add', 'dev', 'veth0', 'vid', '1', 'pvid', 'untagged'],
  ]);
  t.same(portVlanLines('veth0', { vlan: 0, trunk: [], preserveDefaultVlan: false }, 1), [], 'no VLAN, no commands');
});
