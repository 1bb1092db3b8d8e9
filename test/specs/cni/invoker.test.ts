import fs from 'node:fs';
import t, * as Tap from 'tap';
import {
  CniInvoker,
  cachePath,
  readCache,
  type NetConfList,
  type Result100,
} from '../../../specs/cni/index.js';
import { createNetworkNamespace, uniqueNetnsName, type NetworkNamespace } from '../../../conformance/cni/network-namespaces.js';
import { tempDir } from '../../helpers/temp-dir.js';

// Real peers: Debian's containernetworking-plugins, run by our invoker in a node namespace we create.
const upstreamCniDir = '/usr/lib/cni';
const haveUpstream = fs.existsSync(`${upstreamCniDir}/bridge`);
const isRoot = process.getuid?.() === 0;

type Test = Tap.Test;

async function namespace(t: Test, role: string): Promise<NetworkNamespace> {
  const created = await createNetworkNamespace(uniqueNetnsName(role));
  t.teardown(() => created.remove());
  return created;
}

function bridgeList(dataDir: string, bridge: string): NetConfList {
  return {
    cniVersion: '1.0.0',
    name: 'kp-invoker-test',
    plugins: [
      {
        type: 'bridge',
        bridge,
        isGateway: true,
        ipam: { type: 'host-local', dataDir, ranges: [[{ subnet: '10.99.0.0/24' }]] },
      },
      { type: 'tuning', sysctl: { 'net.ipv4.conf.IFNAME.proxy_arp': '1' } },
    ],
  };
}

t.test('the invoker runs ADD, CHECK, DEL and DEL again on an upstream chain, caching as libcni does', { skip: !haveUpstream || !isRoot ? 'needs root and Debian containernetworking-plugins' : false }, async (t) => {
  const dir = tempDir(t);
  const node = await namespace(t, 'node');
  const pod = await namespace(t, 'pod');
  const list = bridgeList(`${dir}/ipam`, 'kpbr0');
  // Replace the IFNAME placeholder with the real interface so tuning writes a sysctl that exists.
  (list.plugins[1] as { sysctl: Record<string, string> }).sysctl = { 'net.ipv4.conf.eth0.proxy_arp': '1' };
  const invoker = new CniInvoker({
    cniPath: [upstreamCniDir],
    cacheDir: `${dir}/cache`,
    exec: { wrapper: ['nsenter', `--net=${node.path}`], timeoutMs: 20_000 },
  });
  const verbs: string[] = [];
  invoker.onInvocation((record) => verbs.push(`${record.plugin}:${record.verb}:${record.ok ? 'ok' : record.error?.code}`));
  const rt = { containerId: 'kp-invoker-1', netns: pod.path, ifName: 'eth0', args: [['IgnoreUnknown', '1']] as [string, string][] };

  const result = (await invoker.addNetworkList(list, rt)) as Result100;
  t.equal(result.cniVersion, '1.0.0');
  t.match(result.ips?.[0]?.address, /^10\.99\.0\.\d+\/24$/);
  const inside = await pod.exec('ip', ['-j', 'addr', 'show', 'eth0']);
  t.match(inside.stdout, result.ips?.[0]?.address.split('/')[0] ?? 'missing', 'the address is really on eth0 in the pod');
  const proxyArp = await pod.exec('cat', ['/proc/sys/net/ipv4/conf/eth0/proxy_arp']);
  t.equal(proxyArp.stdout.trim(), '1', 'the chained plugin ran after the bridge');

  const cached = await readCache(`${dir}/cache`, list.name, rt.containerId, rt.ifName);
  t.match(cached, { kind: 'cniCacheV1', containerId: 'kp-invoker-1', ifName: 'eth0', networkName: list.name, netns: pod.path, result: { cniVersion: '1.0.0' } });
  t.same(JSON.parse(Buffer.from(cached?.config ?? '', 'base64').toString()), list, 'config bytes are kept base64 as Go encodes []byte');

  await invoker.checkNetworkList(list, rt);
  await invoker.delNetworkList(list, rt);
  t.notOk(fs.existsSync(cachePath(`${dir}/cache`, list.name, rt.containerId, rt.ifName)), 'DEL drops the cache entry');
  await invoker.delNetworkList(list, rt);
  const links = await node.exec('ip', ['-j', 'link', 'show', 'type', 'veth']);
  t.same(JSON.parse(links.stdout || '[]'), [], 'no veth left on the node');
  t.same(verbs, [
    'bridge:ADD:ok', 'tuning:ADD:ok',
    'bridge:CHECK:ok', 'tuning:CHECK:ok',
    'tuning:DEL:ok', 'bridge:DEL:ok',
    'tuning:DEL:ok', 'bridge:DEL:ok',
  ], 'list order for ADD and CHECK, reverse order for DEL');
});

t.test('CHECK without a cached result is UNKNOWN_CONTAINER', async (t) => {
  const dir = tempDir(t);
  const invoker = new CniInvoker({ cniPath: [upstreamCniDir], cacheDir: dir });
  await t.rejects(invoker.checkNetworkList(bridgeList(dir, 'x'), { containerId: 'none', netns: '/x', ifName: 'eth0' }), { code: 3 });
});

t.test('a plugin type that is not on CNI_PATH is named in the error', async (t) => {
  const invoker = new CniInvoker({ cniPath: ['/nonexistent'], cacheDir: '/tmp' });
  await t.rejects(invoker.findPlugin('nope'), { message: /failed to find plugin "nope" in path \[\/nonexistent\]/ });
  await t.rejects(invoker.findPlugin('../bin/sh'), { message: /not a plain name/ });
});

t.test('VERSION is read from an upstream plugin', { skip: !haveUpstream ? 'needs Debian containernetworking-plugins' : false }, async (t) => {
  const invoker = new CniInvoker({ cniPath: [upstreamCniDir], cacheDir: '/tmp' });
  const info = await invoker.versionInfo('bridge', '1.0.0');
  t.ok(info.supportedVersions.includes('1.0.0'));
});
