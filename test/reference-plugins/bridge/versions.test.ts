import t from 'tap';
import { bridgeConf, callPlugin, createNamespace, createNode, missingPrerequisites, observeVeths, reservedAddresses } from './fixtures/bridge-harness.js';
import { cniSupportedVersions } from '../../../specs/cni/index.js';

const skip = missingPrerequisites() ?? false;

/** What the ADD result looks like in each result family, for 10.88.0.2/24 with gateway 10.88.0.1 and a default route. */
const expectedShape: Record<string, (result: Record<string, unknown>) => unknown> = {
  '020': () => ({ ip4: { ip: '10.88.0.2/24', gateway: '10.88.0.1', routes: [{ dst: '0.0.0.0/0', gw: '10.88.0.1' }] } }),
  '040': () => ({ ips: [{ address: '10.88.0.2/24', gateway: '10.88.0.1', interface: 2, version: '4' }], routes: [{ dst: '0.0.0.0/0', gw: '10.88.0.1' }] }),
  '100': () => ({ ips: [{ address: '10.88.0.2/24', gateway: '10.88.0.1', interface: 2 }], routes: [{ dst: '0.0.0.0/0', gw: '10.88.0.1' }] }),
};

const familyOf = (version: string): '020' | '040' | '100' => (version.startsWith('0.1') || version.startsWith('0.2') ? '020' : version.startsWith('0.') ? '040' : '100');

for (const version of cniSupportedVersions) {
  t.test(`ADD answers in the spec ${version} result shape and DEL undoes it`, { skip }, async (t) => {
    const node = await createNode(t);
    const container = await createNamespace(t, 'pod');
    const conf = bridgeConf(node, { version });
    const { result } = (await callPlugin(node, { verb: 'ADD', conf, netns: container.path })) as { result: Record<string, unknown> };
    t.equal(result['cniVersion'], version);
    t.match(result, expectedShape[familyOf(version)]!(result));
    if (familyOf(version) === '020') t.equal(result['interfaces'], undefined, 'no interfaces before 0.3.0');
    else t.equal((result['interfaces'] as unknown[]).length, 3, 'bridge, host veth, container interface');
    await callPlugin(node, { verb: 'DEL', conf, netns: container.path });
    t.same(await observeVeths(node.ns), []);
    t.same(reservedAddresses(node), []);
  });
}

t.test('VERSION lists every spec version', { skip }, async (t) => {
  const node = await createNode(t);
  const { result } = await callPlugin(node, { verb: 'VERSION', conf: { cniVersion: '1.1.0' }, plugin: 'kubeplug-bridge' });
  t.same(result, { cniVersion: '1.1.0', supportedVersions: [...cniSupportedVersions] });
});

t.test('CHECK on a 0.3.1 configuration is refused as too old', { skip }, async (t) => {
  const node = await createNode(t);
  const container = await createNamespace(t, 'pod');
  await t.rejects(callPlugin(node, { verb: 'CHECK', conf: bridgeConf(node, { version: '0.3.1' }), netns: container.path }), { code: 1 });
});
