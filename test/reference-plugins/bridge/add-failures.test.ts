import fs from 'node:fs';
import path from 'node:path';
import t, * as Tap from 'tap';
import {
  bridgeConf,
  callPlugin,
  callPluginFailing,
  createNamespace,
  createNode,
  missingPrerequisites,
  observeLink,
  observeLinks,
  observeNat,
  observeVeths,
  reservedAddresses,
  type TestNode,
} from './fixtures/bridge-harness.js';
import type { NetworkNamespace } from '../../../conformance/cni/network-namespaces.js';

const skip = missingPrerequisites() ?? false;

/** Asserts that a failed ADD left nothing of the attachment: no veth on the node, no eth0 in the container, no address held, no chain. */
async function assertNothingLeft(t: Tap.Test, node: TestNode, container: NetworkNamespace | undefined): Promise<void> {
  t.same((await observeVeths(node.ns)).map((veth) => veth.ifname), [], 'no veth on the node');
  if (container !== undefined) t.equal(await observeLink(container, 'eth0'), undefined, 'no eth0 in the container');
  t.same(reservedAddresses(node), [], 'no address reserved');
  t.same((await observeNat(node.ns)).filter((line) => line.includes('CNI-')), [], 'no masquerade chain');
}

t.test('ADD into a container that already has CNI_IFNAME fails with upstream\'s message and leaves nothing', { skip }, async (t) => {
  const node = await createNode(t);
  const container = await createNamespace(t, 'pod');
  await container.exec('ip', ['link', 'add', 'eth0', 'type', 'veth', 'peer', 'name', 'eth0peer']);
  const error = await callPluginFailing(node, { verb: 'ADD', conf: bridgeConf(node), netns: container.path });
  t.equal(error.code, 4, 'INVALID_ENVIRONMENT: CNI_IFNAME is taken');
  t.match(error.msg, /^container veth name \("eth0"\) peer provided \("veth[0-9a-f]{8}"\) already exists$/);
  t.same((await observeVeths(node.ns)).map((veth) => veth.ifname), [], 'no veth on the node');
  t.same(reservedAddresses(node), [], 'no address stays reserved');
  t.ok(await observeLink(container, 'eth0peer'), 'the existing interface is untouched');
});

t.test('a failing IPAM plugin fails the ADD with its own code and no veth is left', { skip }, async (t) => {
  const node = await createNode(t);
  const container = await createNamespace(t, 'pod');
  const error = await callPluginFailing(node, { verb: 'ADD', conf: bridgeConf(node, { ipamType: 'failing-ipam' }), netns: container.path });
  t.equal(error.code, 11);
  t.equal(error.msg, 'failing-ipam refuses ADD');
  await assertNothingLeft(t, node, container);
});

t.test('an IPAM type missing from CNI_PATH fails with code 7 and no veth is left', { skip }, async (t) => {
  const node = await createNode(t);
  const container = await createNamespace(t, 'pod');
  const error = await callPluginFailing(node, { verb: 'ADD', conf: bridgeConf(node, { ipamType: 'no-such-ipam' }), netns: container.path });
  t.equal(error.code, 7);
  t.match(error.msg, /failed to find plugin "no-such-ipam" in path/);
  await assertNothingLeft(t, node, container);
});

t.test('a failure after IPAM (another address on the bridge) releases the address and removes the veth', { skip }, async (t) => {
  const node = await createNode(t);
  await node.ns.exec('ip', ['link', 'add', 'kpbr0', 'type', 'bridge']);
  await node.ns.exec('ip', ['addr', 'add', '10.77.0.1/24', 'dev', 'kpbr0']);
  const container = await createNamespace(t, 'pod');
  const error = await callPluginFailing(node, { verb: 'ADD', conf: bridgeConf(node, { extra: { ipMasq: true } }), netns: container.path });
  t.equal(error.code, 7);
  t.equal(error.msg, 'failed to set bridge addr: "kpbr0" already has an IP address different from 10.88.0.1/24');
  await assertNothingLeft(t, node, container);
  t.match((await observeLink(node.ns, 'kpbr0'))?.addr_info, [{ local: '10.77.0.1' }], 'the bridge keeps its address');
});

t.test('with forceAddress the other address on the bridge is replaced by the gateway', { skip }, async (t) => {
  const node = await createNode(t);
  await node.ns.exec('ip', ['link', 'add', 'kpbr0', 'type', 'bridge']);
  await node.ns.exec('ip', ['addr', 'add', '10.77.0.1/24', 'dev', 'kpbr0']);
  const container = await createNamespace(t, 'pod');
  await callPlugin(node, { verb: 'ADD', conf: bridgeConf(node, { extra: { forceAddress: true } }), netns: container.path });
  const inet = (await observeLink(node.ns, 'kpbr0'))?.addr_info.filter((info) => info.family === 'inet');
  t.same(inet?.map((info) => `${info.local}/${info.prefixlen}`), ['10.88.0.1/24']);
});

t.test('a failure at the last step (iptables refuses) unwinds the veth, the address and the chain', { skip }, async (t) => {
  const node = await createNode(t);
  // A PATH where iptables-restore always fails: the masquerade step runs after everything else.
  const tools = path.join(node.dir, 'tools');
  fs.mkdirSync(tools);
  for (const tool of ['ip', 'nsenter', 'sh', 'iptables-save', 'ip6tables-save', 'ip6tables-restore', 'cat']) {
    const found = ['/usr/sbin', '/usr/bin', '/sbin', '/bin'].map((dir) => path.join(dir, tool)).find((file) => fs.existsSync(file));
    if (found !== undefined) fs.symlinkSync(found, path.join(tools, tool));
  }
  fs.symlinkSync(process.execPath, path.join(tools, 'node'));
  fs.writeFileSync(path.join(tools, 'iptables-restore'), '#!/bin/sh\necho "iptables-restore: refused by the test" >&2\nexit 1\n', { mode: 0o755 });
  const container = await createNamespace(t, 'pod');
  const error = await callPluginFailing(node, { verb: 'ADD', conf: bridgeConf(node, { extra: { ipMasq: true } }), netns: container.path, env: { PATH: tools } });
  t.equal(error.code, 100, 'HOST_COMMAND_FAILED');
  t.match(error.msg, /failed to set up IP masquerade chain CNI-/);
  t.match(error.details, /refused by the test/);
  await assertNothingLeft(t, node, container);
});

t.test('ADD with a CNI_NETNS path that does not exist fails with code 3 and creates nothing', { skip }, async (t) => {
  const node = await createNode(t);
  const error = await callPluginFailing(node, { verb: 'ADD', conf: bridgeConf(node), netns: '/run/netns/kp-does-not-exist' });
  t.equal(error.code, 3);
  t.equal(error.msg, 'failed to open netns "/run/netns/kp-does-not-exist": no such file or directory');
  t.equal(await observeLink(node.ns, 'kpbr0'), undefined, 'not even the bridge');
  await assertNothingLeft(t, node, undefined);
});

t.test('ADD with a CNI_NETNS that is not a network namespace fails with code 4', { skip }, async (t) => {
  const node = await createNode(t);
  const notNetns = path.join(node.dir, 'plain-file');
  fs.writeFileSync(notNetns, '');
  const error = await callPluginFailing(node, { verb: 'ADD', conf: bridgeConf(node), netns: notNetns });
  t.equal(error.code, 4);
  t.match(error.details, /CNI_NETNS/);
  await assertNothingLeft(t, node, undefined);
});

t.test('ADD without CNI_NETNS fails with code 4 naming the variable', { skip }, async (t) => {
  const node = await createNode(t);
  const error = await callPluginFailing(node, { verb: 'ADD', conf: bridgeConf(node) });
  t.equal(error.code, 4);
  t.match(error.msg, /CNI_NETNS/);
});

t.test('hairpinMode together with promiscMode is rejected before anything is made', { skip }, async (t) => {
  const node = await createNode(t);
  const container = await createNamespace(t, 'pod');
  const error = await callPluginFailing(node, { verb: 'ADD', conf: bridgeConf(node, { extra: { hairpinMode: true, promiscMode: true } }), netns: container.path });
  t.equal(error.code, 7);
  t.equal(error.msg, 'cannot set hairpin mode and promiscuous mode at the same time');
  t.equal(await observeLink(node.ns, 'kpbr0'), undefined, 'no bridge');
});

t.test('a bridge name taken by another kind of link is rejected and nothing is reserved', { skip }, async (t) => {
  const node = await createNode(t);
  await node.ns.exec('ip', ['link', 'add', 'kpbr0', 'type', 'veth', 'peer', 'name', 'kpbr0peer']);
  const container = await createNamespace(t, 'pod');
  const error = await callPluginFailing(node, { verb: 'ADD', conf: bridgeConf(node), netns: container.path });
  t.equal(error.code, 7);
  t.equal(error.msg, 'failed to create bridge "kpbr0": "kpbr0" already exists but is not a bridge');
  t.same(reservedAddresses(node), []);
  t.equal((await observeLinks(node.ns)).filter((link) => link.linkinfo?.info_kind === 'veth').length, 2, 'only the pre-existing veth pair');
});

t.test('ipMasqBackend nftables is reported as an unsupported field', { skip }, async (t) => {
  const node = await createNode(t);
  const container = await createNamespace(t, 'pod');
  const error = await callPluginFailing(node, { verb: 'ADD', conf: bridgeConf(node, { extra: { ipMasq: true, ipMasqBackend: 'nftables' } }), netns: container.path });
  t.equal(error.code, 2);
  t.match(error.msg, /ipMasqBackend.*nftables/);
});

t.test('an out-of-range vlan is rejected with upstream\'s message', { skip }, async (t) => {
  const node = await createNode(t);
  const container = await createNamespace(t, 'pod');
  const error = await callPluginFailing(node, { verb: 'ADD', conf: bridgeConf(node, { extra: { vlan: 5000 } }), netns: container.path });
  t.equal(error.code, 7);
  t.equal(error.msg, 'invalid VLAN ID 5000 (must be between 0 and 4094)');
});

t.test('a vlan tags the port, or fails cleanly where the kernel has no VLAN filtering', { skip }, async (t) => {
  const node = await createNode(t);
  const probe = await node.ns.exec('ip', ['link', 'add', 'kpvlanprobe', 'type', 'bridge', 'vlan_filtering', '1']).then(
    () => true,
    () => false,
  );
  if (probe) await node.ns.exec('ip', ['link', 'del', 'kpvlanprobe']);
  const container = await createNamespace(t, 'pod');
  const conf = bridgeConf(node, { extra: { vlan: 100, isDefaultGateway: false } });
  if (!probe) {
    t.comment('this kernel has no bridge VLAN filtering: checking the failure path');
    const error = await callPluginFailing(node, { verb: 'ADD', conf, netns: container.path });
    t.equal(error.code, 100);
    await assertNothingLeft(t, node, container);
    return;
  }
  await callPlugin(node, { verb: 'ADD', conf, netns: container.path });
  const [port] = await observeVeths(node.ns);
  const vlans = JSON.parse((await node.ns.exec('bridge', ['-j', 'vlan', 'show', 'dev', port!.ifname])).stdout) as { vlans: { vlan: number; flags?: string[] }[] }[];
  t.match(vlans[0]?.vlans, [{ vlan: 100, flags: ['PVID', 'Egress Untagged'] }]);
});

t.test('a layer 2 ADD with a 0.2.0 configuration is refused before any link is made', { skip }, async (t) => {
  const node = await createNode(t);
  const container = await createNamespace(t, 'pod');
  const conf = { cniVersion: '0.2.0', name: 'kpnet', type: 'kubeplug-bridge', bridge: 'kpbr0' };
  const error = await callPluginFailing(node, { verb: 'ADD', conf, netns: container.path });
  t.equal(error.code, 1);
  await assertNothingLeft(t, node, container);
  t.equal(await observeLink(node.ns, 'kpbr0'), undefined, 'no bridge either');
});
