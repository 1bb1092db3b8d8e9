import fs from 'node:fs';
import path from 'node:path';
import t from 'tap';
import {
  bridgeConf,
  callPlugin,
  callPluginFailing,
  createNamespace,
  createNode,
  missingPrerequisites,
  observeVeths,
  type Result100Like,
  type TestLike,
} from './fixtures/bridge-harness.js';
import type { JsonObject } from '../../../specs/cni/index.js';

const skip = missingPrerequisites() ?? false;

/** ADD, then a CHECK call's options with the result as prevResult, as a runtime would send it. */
async function addedAttachment(t: TestLike, options: { version?: string; extra?: JsonObject } = {}) {
  const node = await createNode(t);
  const container = await createNamespace(t, 'pod');
  const conf = bridgeConf(node, { ...(options.version === undefined ? {} : { version: options.version }), ...(options.extra === undefined ? {} : { extra: options.extra }) });
  const { result } = await callPlugin(node, { verb: 'ADD', conf, netns: container.path });
  const check = (prevResult: unknown = result, confOverrides: JsonObject = {}) =>
    ({ verb: 'CHECK' as const, conf: { ...conf, prevResult, ...confOverrides } as JsonObject, netns: container.path });
  return { node, container, conf, result: result as Result100Like, check };
}

for (const version of ['0.4.0', '1.0.0', '1.1.0']) {
  t.test(`CHECK passes right after ADD (spec ${version})`, { skip }, async (t) => {
    const { node, check } = await addedAttachment(t, { version, extra: { ipMasq: true, hairpinMode: true } });
    await t.resolves(callPlugin(node, check()));
  });
}

t.test('CHECK fails when an address from prevResult is gone from the container', { skip }, async (t) => {
  const { node, container, check } = await addedAttachment(t);
  await container.exec('ip', ['addr', 'del', '10.88.0.2/24', 'dev', 'eth0']);
  const error = await callPluginFailing(node, check());
  t.equal(error.code, 102);
  t.equal(error.msg, 'Failed to match addr 10.88.0.2/24 on interface eth0');
});

t.test('CHECK fails when a route from prevResult is gone from the container', { skip }, async (t) => {
  const { node, container, check } = await addedAttachment(t);
  await container.exec('ip', ['route', 'del', 'default']);
  const error = await callPluginFailing(node, check());
  t.equal(error.code, 102);
  t.match(error.msg, /^Expected Route .*0\.0\.0\.0\/0.* not found in routing table$/);
});

t.test('CHECK fails when the host end of the veth has left the bridge', { skip }, async (t) => {
  const { node, check } = await addedAttachment(t);
  const [port] = await observeVeths(node.ns);
  await node.ns.exec('ip', ['link', 'set', 'dev', port!.ifname, 'nomaster']);
  const error = await callPluginFailing(node, check());
  t.equal(error.msg, 'CNI veth created for bridge kpbr0 was not found');
});

t.test('CHECK fails when the container interface has a different MAC than prevResult', { skip }, async (t) => {
  const { node, result, check } = await addedAttachment(t);
  const interfaces = result.interfaces!.map((entry) => (entry.name === 'eth0' ? { ...entry, mac: '02:00:00:00:00:01' } : entry));
  const error = await callPluginFailing(node, check({ ...result, interfaces }));
  t.match(error.msg, /^Interface eth0 Mac 02:00:00:00:00:01 doesn't match container Mac: /);
});

t.test('CHECK fails when the container interface is gone', { skip }, async (t) => {
  const { node, container, check } = await addedAttachment(t);
  await container.exec('ip', ['link', 'del', 'eth0']);
  const error = await callPluginFailing(node, check());
  t.equal(error.msg, 'Interface name eth0 not found');
});

t.test('CHECK fails when the bridge promiscuity differs from the configuration', { skip }, async (t) => {
  const { node, check } = await addedAttachment(t);
  await node.ns.exec('ip', ['link', 'set', 'dev', 'kpbr0', 'promisc', 'on']);
  const error = await callPluginFailing(node, check());
  t.equal(error.msg, "Bridge interface kpbr0 configured Promisc Mode false doesn't match current state: true");
});

t.test('CHECK is delegated to IPAM: an address IPAM no longer holds fails it', { skip }, async (t) => {
  const { node, check } = await addedAttachment(t);
  fs.rmSync(path.join(node.dataDir, 'kpnet', '10.88.0.2'));
  const error = await callPluginFailing(node, check());
  t.match(error.msg, /Failed to find address added by container ctr1/);
});

t.test('CHECK without prevResult fails with code 7', { skip }, async (t) => {
  const { node, check } = await addedAttachment(t);
  const request = check();
  const { prevResult: _dropped, ...conf } = request.conf;
  const error = await callPluginFailing(node, { ...request, conf });
  t.equal(error.code, 7);
  t.equal(error.msg, 'Required prevResult missing');
});
