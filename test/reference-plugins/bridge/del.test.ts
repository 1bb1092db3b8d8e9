import t from 'tap';
import {
  attachContainer,
  bridgeConf,
  callPlugin,
  createNamespace,
  createNode,
  missingPrerequisites,
  observeLink,
  observeNat,
  observeVeths,
  reservedAddresses,
} from './fixtures/bridge-harness.js';
import { masqueradeChainName } from '../../../reference-plugins/host-local-bridge/bridge/ip-masquerade.js';

const skip = missingPrerequisites() ?? false;

t.test('ipMasq installs the chain upstream names and DEL removes it', { skip }, async (t) => {
  const node = await createNode(t);
  const conf = bridgeConf(node, { extra: { ipMasq: true } });
  const { container } = await attachContainer(t, node, conf, { containerId: 'ctr-masq' });
  const chain = masqueradeChainName('kpnet', 'ctr-masq');
  t.equal(chain.length, 28);
  const comment = '-m comment --comment "name: \\"kpnet\\" id: \\"ctr-masq\\""';
  t.same(
    (await observeNat(node.ns)).filter((line) => line.includes(chain)),
    [`:${chain} - [0:0]`, `-A POSTROUTING -s 10.88.0.2/32 ${comment} -j ${chain}`, `-A ${chain} -d 10.88.0.0/24 ${comment} -j ACCEPT`, `-A ${chain} ! -d 224.0.0.0/4 ${comment} -j MASQUERADE`],
  );
  await callPlugin(node, { verb: 'DEL', conf, netns: container.path, containerId: 'ctr-masq' });
  t.same((await observeNat(node.ns)).filter((line) => line.includes('CNI-')), [], 'no chain and no jump left');
});

t.test('DEL removes the container interface, its host end and the reservation', { skip }, async (t) => {
  const node = await createNode(t);
  const conf = bridgeConf(node);
  const { container } = await attachContainer(t, node, conf);
  await callPlugin(node, { verb: 'DEL', conf, netns: container.path });
  t.equal(await observeLink(container, 'eth0'), undefined, 'eth0 is gone');
  t.same(await observeVeths(node.ns), [], 'no veth left on the node');
  t.same(reservedAddresses(node), [], 'the address is released');
  t.ok(await observeLink(node.ns, 'kpbr0'), 'the shared bridge stays');
});

t.test('DEL twice succeeds', { skip }, async (t) => {
  const node = await createNode(t);
  const conf = bridgeConf(node, { extra: { ipMasq: true } });
  const { container } = await attachContainer(t, node, conf);
  await callPlugin(node, { verb: 'DEL', conf, netns: container.path });
  await t.resolves(callPlugin(node, { verb: 'DEL', conf, netns: container.path }));
});

t.test('DEL succeeds after the network namespace is gone and still releases the address and the chain', { skip }, async (t) => {
  const node = await createNode(t);
  const conf = bridgeConf(node, { extra: { ipMasq: true } });
  const { container } = await attachContainer(t, node, conf);
  await container.remove();
  await t.resolves(callPlugin(node, { verb: 'DEL', conf, netns: container.path }));
  t.same(reservedAddresses(node), []);
  t.same((await observeNat(node.ns)).filter((line) => line.includes('CNI-')), []);
});

t.test('DEL without CNI_NETNS releases the address', { skip }, async (t) => {
  const node = await createNode(t);
  const conf = bridgeConf(node);
  await attachContainer(t, node, conf);
  await t.resolves(callPlugin(node, { verb: 'DEL', conf }));
  t.same(reservedAddresses(node), []);
});

t.test('DEL of an attachment that never existed succeeds', { skip }, async (t) => {
  const node = await createNode(t);
  const container = await createNamespace(t, 'pod');
  await t.resolves(callPlugin(node, { verb: 'DEL', conf: bridgeConf(node, { extra: { ipMasq: true } }), netns: container.path, containerId: 'never-added' }));
});
