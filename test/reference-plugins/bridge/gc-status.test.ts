import fs from 'node:fs';
import t from 'tap';
import {
  bridgeConf,
  callPlugin,
  callPluginFailing,
  createNamespace,
  createNode,
  missingPrerequisites,
  observeNat,
  ourHostLocalPath,
  recordedIpamCalls,
  reservedAddresses,
} from './fixtures/bridge-harness.js';
import { masqueradeChainName } from '../../../reference-plugins/host-local-bridge/bridge/ip-masquerade.js';

const skip = missingPrerequisites() ?? false;

t.test('GC is forwarded to IPAM with the configuration the bridge received', { skip }, async (t) => {
  const node = await createNode(t);
  const conf = { ...bridgeConf(node, { version: '1.1.0', ipamType: 'recording-ipam' }), 'cni.dev/valid-attachments': [{ containerID: 'ctr1', ifname: 'eth0' }] };
  await callPlugin(node, { verb: 'GC', conf });
  t.same(recordedIpamCalls(node), [{ verb: 'GC', containerId: '', ifName: '', stdin: JSON.stringify(conf) }]);
});

t.test('GC removes the masquerade chains of containers without a valid attachment, and only those', { skip }, async (t) => {
  const node = await createNode(t);
  const extra = { ipMasq: true, isDefaultGateway: false };
  const conf = bridgeConf(node, { version: '1.1.0', ipamType: 'recording-ipam', extra });
  const other = { ...conf, name: 'othernet', bridge: 'kpbr1' };
  for (const [containerId, network] of [['ctr-keep', conf], ['ctr-stale', conf], ['ctr-stale', other]] as const) {
    const container = await createNamespace(t, 'pod');
    await callPlugin(node, { verb: 'ADD', conf: network, netns: container.path, containerId });
  }
  const chains = async () => (await observeNat(node.ns)).filter((line) => line.startsWith(':CNI-')).map((line) => line.split(' ')[0]!.slice(1)).sort();
  t.same(await chains(), [masqueradeChainName('kpnet', 'ctr-keep'), masqueradeChainName('kpnet', 'ctr-stale'), masqueradeChainName('othernet', 'ctr-stale')].sort());
  await callPlugin(node, { verb: 'GC', conf: { ...conf, 'cni.dev/valid-attachments': [{ containerID: 'ctr-keep', ifname: 'eth0' }] } });
  t.same(await chains(), [masqueradeChainName('kpnet', 'ctr-keep'), masqueradeChainName('othernet', 'ctr-stale')].sort(), "only kpnet's stale chain went");
  t.notOk((await observeNat(node.ns)).some((line) => line.includes(masqueradeChainName('kpnet', 'ctr-stale'))), 'its POSTROUTING jump went too');
});

t.test('GC through kubeplug-host-local releases the addresses of attachments no longer valid', { skip: skip || (fs.existsSync(ourHostLocalPath) ? false : 'kubeplug-host-local is not built') }, async (t) => {
  const node = await createNode(t);
  const conf = bridgeConf(node, { version: '1.1.0', ipamType: 'kubeplug-host-local' });
  for (const containerId of ['ctr1', 'ctr2']) {
    const container = await createNamespace(t, 'pod');
    await callPlugin(node, { verb: 'ADD', conf, netns: container.path, containerId });
  }
  t.same(reservedAddresses(node).sort(), ['10.88.0.2', '10.88.0.3']);
  await callPlugin(node, { verb: 'GC', conf: { ...conf, 'cni.dev/valid-attachments': [{ containerID: 'ctr1', ifname: 'eth0' }] } });
  t.same(reservedAddresses(node), ['10.88.0.2']);
});

t.test('STATUS is forwarded to IPAM', { skip }, async (t) => {
  const node = await createNode(t);
  await callPlugin(node, { verb: 'STATUS', conf: bridgeConf(node, { version: '1.1.0', ipamType: 'recording-ipam' }) });
  t.same(recordedIpamCalls(node).map((call) => call.verb), ['STATUS']);
});

t.test('STATUS reports the IPAM plugin\'s failure with its code', { skip }, async (t) => {
  const node = await createNode(t);
  const error = await callPluginFailing(node, { verb: 'STATUS', conf: bridgeConf(node, { version: '1.1.0', ipamType: 'failing-ipam' }) });
  t.equal(error.code, 11);
  t.equal(error.msg, 'failing-ipam refuses STATUS');
});

t.test('STATUS without ipam succeeds', { skip }, async (t) => {
  const node = await createNode(t);
  await t.resolves(callPlugin(node, { verb: 'STATUS', conf: { cniVersion: '1.1.0', name: 'kpnet', type: 'kubeplug-bridge' } }));
});
