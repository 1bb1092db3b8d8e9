/**
 * The rules CNI places on runtimes (specs/cni/SPEC.md, `Binds: runtime`),
 * checked on kubeplug's own invoker with a recording test plugin. Each test
 * names the rule IDs it checks; test/specs/registry.test.ts requires every
 * runtime MUST to be named by some test.
 */
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import t, * as Tap from 'tap';
import { CniInvoker, loadNetworkConfig, readCache, type JsonObject, type NetConfList } from '../../../specs/cni/index.js';
import { tempDir } from '../../helpers/temp-dir.js';

const recorder = path.join(path.dirname(fileURLToPath(import.meta.url)), '..', '..', 'helpers', 'recording-plugin.mjs');

interface Record_ {
  plugin: string;
  marker: string;
  verb: string;
  env: Record<string, string>;
  conf: JsonObject & { prevResult?: { cniVersion: string; interfaces?: { name: string }[]; ips?: { version?: string }[] } };
}

function setup(t: Tap.Test) {
  const dir = tempDir(t);
  const bin = path.join(dir, 'bin');
  fs.mkdirSync(bin);
  for (const name of ['rec-a', 'rec-b', 'rec-c']) fs.symlinkSync(recorder, path.join(bin, name));
  const log = path.join(dir, 'log.jsonl');
  const invoker = new CniInvoker({ cniPath: [bin], cacheDir: path.join(dir, 'cache') });
  const records = (): Record_[] =>
    fs.existsSync(log) ? fs.readFileSync(log, 'utf8').trim().split('\n').map((line) => JSON.parse(line) as Record_) : [];
  const list = (extra: Partial<NetConfList> = {}, failOn: Record<string, string[]> = {}): NetConfList => ({
    cniVersion: '1.1.0',
    name: 'kp-rules',
    plugins: ['a', 'b', 'c'].map((marker) => ({
      type: `rec-${marker}`,
      marker,
      recordTo: log,
      failOn: failOn[marker] ?? [],
      custom: { nested: [1, 2] },
      capabilities: marker === 'b' ? { portMappings: true } : {},
    })),
    ...extra,
  });
  const rt = { containerId: 'ctr-1', netns: '/run/netns/none', ifName: 'eth0', capabilityArgs: { portMappings: [{ hostPort: 8080 }], mac: 'x' } };
  return { dir, bin, log, invoker, records, list, rt };
}

const markers = (records: Record_[], verb?: string): string[] =>
  records.filter((record) => verb === undefined || record.verb === verb).map((record) => `${record.verb}:${record.marker}`);

t.test('ADD runs the plugins in list order, chaining each result into the next (CNI-RT-014 CNI-CHAIN-005 CNI-CHAIN-006 CNI-RT-016)', async (t) => {
  const { invoker, records, list, rt, dir } = setup(t);
  const result = await invoker.addNetworkList(list(), rt);
  const adds = records();
  t.same(markers(adds), ['ADD:a', 'ADD:b', 'ADD:c']);
  t.equal(adds[0]?.conf.prevResult, undefined, 'the first plugin gets no prevResult');
  t.same(adds[1]?.conf.prevResult?.interfaces?.map((i) => i.name), ['a0'], 'b gets what a returned');
  t.same(adds[2]?.conf.prevResult?.interfaces?.map((i) => i.name), ['a0', 'b0'], 'c gets what b returned');
  const cached = await readCache(path.join(dir, 'cache'), 'kp-rules', 'ctr-1', 'eth0');
  t.same(cached?.result, result, 'the final result is kept');
});

t.test('each request carries the network name and version, unknown fields unchanged, runtimeConfig only for declared capabilities and no capabilities key (CNI-CONF-020 CNI-CONF-021 CNI-CONF-022 CNI-CONF-023 CNI-PROTO-002 CNI-PROTO-013 CNI-RT-012)', async (t) => {
  const { invoker, records, list, rt, bin } = setup(t);
  await invoker.addNetworkList(list(), rt);
  for (const record of records()) {
    t.equal(record.conf['name'], 'kp-rules');
    t.equal(record.conf['cniVersion'], '1.1.0');
    t.same(record.conf['custom'], { nested: [1, 2] });
    t.notOk('capabilities' in record.conf, `${record.marker}: no capabilities key in the request`);
    t.same(
      { id: record.env['CNI_CONTAINERID'], netns: record.env['CNI_NETNS'], ifname: record.env['CNI_IFNAME'], path: record.env['CNI_PATH'] },
      { id: 'ctr-1', netns: '/run/netns/none', ifname: 'eth0', path: bin },
    );
  }
  t.same(records().map((r) => r.conf['runtimeConfig'] ?? null), [null, { portMappings: [{ hostPort: 8080 }] }, null]);
});

t.test('ADD stops at the first failing plugin (CNI-RT-015)', async (t) => {
  const { invoker, records, list, rt } = setup(t);
  await t.rejects(invoker.addNetworkList(list({}, { b: ['ADD'] }), rt), { code: 104 });
  t.same(markers(records()), ['ADD:a', 'ADD:b']);
});

t.test('DEL runs in reverse order with the final ADD result, in the request version, and drops the cache (CNI-RT-018 CNI-CHAIN-007 CNI-CHAIN-008 CNI-RT-020)', async (t) => {
  const { invoker, records, list, rt, dir } = setup(t);
  await invoker.addNetworkList(list(), rt);
  await invoker.delNetworkList(list(), rt);
  const dels = records().filter((r) => r.verb === 'DEL');
  t.same(markers(dels), ['DEL:c', 'DEL:b', 'DEL:a']);
  for (const record of dels) t.same(record.conf.prevResult?.interfaces?.map((i) => i.name), ['a0', 'b0', 'c0']);
  t.equal(await readCache(path.join(dir, 'cache'), 'kp-rules', 'ctr-1', 'eth0'), undefined);
});

t.test('prevResult reaches plugins in the version of the request (CNI-CHAIN-008)', async (t) => {
  const { invoker, records, list, rt } = setup(t);
  await invoker.addNetworkList(list(), rt);
  await invoker.delNetworkList({ ...list(), cniVersion: '0.4.0' }, rt);
  const del = records().find((r) => r.verb === 'DEL');
  t.equal(del?.conf.prevResult?.cniVersion, '0.4.0');
});

t.test('DEL stops at the first failing plugin (CNI-RT-019)', async (t) => {
  const { invoker, records, list, rt } = setup(t);
  await invoker.addNetworkList(list(), rt);
  await t.rejects(invoker.delNetworkList(list({}, { b: ['DEL'] }), rt), { code: 104 });
  t.same(markers(records(), 'DEL'), ['DEL:c', 'DEL:b']);
});

t.test('CHECK repeats ADD parameters, runs in order with the final result and stops at the first failure (CNI-RT-021 CNI-RT-023)', async (t) => {
  const { invoker, records, list, rt } = setup(t);
  await invoker.addNetworkList(list(), rt);
  await t.rejects(invoker.checkNetworkList(list({}, { b: ['CHECK'] }), rt), { code: 104 });
  const checks = records().filter((r) => r.verb === 'CHECK');
  t.same(markers(checks), ['CHECK:a', 'CHECK:b']);
  t.equal(checks[0]?.env['CNI_CONTAINERID'], 'ctr-1');
  t.same(checks[0]?.conf.prevResult?.interfaces?.map((i) => i.name), ['a0', 'b0', 'c0']);
});

t.test('CHECK only between ADD and DEL: without a cached result nothing is sent (CNI-RT-022)', async (t) => {
  const { invoker, records, list, rt } = setup(t);
  await t.rejects(invoker.checkNetworkList(list(), rt), { code: 3 });
  await invoker.addNetworkList(list(), rt);
  await invoker.delNetworkList(list(), rt);
  await t.rejects(invoker.checkNetworkList(list(), rt), { code: 3 });
  t.same(markers(records(), 'CHECK'), []);
});

t.test('no operation the version lacks is sent: CHECK before 0.4.0, GC and STATUS before 1.1.0 (CNI-RT-030)', async (t) => {
  const { invoker, records, list, rt } = setup(t);
  await t.rejects(invoker.checkNetworkList(list({ cniVersion: '0.3.1' }), rt), { code: 1 });
  await invoker.gcNetworkList(list({ cniVersion: '1.0.0' }), []);
  await invoker.statusNetworkList(list({ cniVersion: '1.0.0' }));
  t.same(records(), []);
});

t.test('disableCheck and disableGC switch those operations off (CNI-CONF-009 CNI-CONF-010)', async (t) => {
  const { invoker, records, list, rt } = setup(t);
  await invoker.addNetworkList(list(), rt);
  await invoker.checkNetworkList(list({ disableCheck: true }), rt);
  await invoker.gcNetworkList(list({ disableGC: true }), [{ containerID: 'ctr-1', ifname: 'eth0' }]);
  t.same(markers(records()).filter((m) => !m.startsWith('ADD')), []);
});

t.test('GC names the valid attachments to every plugin, DELs stale cached ones first and reports errors after running all (CNI-RT-026 CNI-RT-027 CNI-RT-028 CNI-RT-029)', async (t) => {
  const { invoker, records, list, rt } = setup(t);
  await invoker.addNetworkList(list(), rt);
  await invoker.addNetworkList(list(), { ...rt, containerId: 'ctr-2' });
  await t.rejects(invoker.gcNetworkList(list({}, { a: ['GC'] }), [{ containerID: 'ctr-1', ifname: 'eth0' }]), { code: 104 });
  const all = records();
  t.same(markers(all.filter((r) => r.verb === 'DEL')), ['DEL:c', 'DEL:b', 'DEL:a'], 'the stale attachment is deleted');
  t.ok(all.filter((r) => r.verb === 'DEL').every((r) => r.env['CNI_CONTAINERID'] === 'ctr-2'), 'only the stale one');
  const gcs = all.filter((r) => r.verb === 'GC');
  t.same(markers(gcs), ['GC:a', 'GC:b', 'GC:c'], 'every plugin runs although the first failed');
  for (const record of gcs) t.same(record.conf['cni.dev/valid-attachments'], [{ containerID: 'ctr-1', ifname: 'eth0' }]);
  t.equal(gcs[0]?.env['CNI_CONTAINERID'], undefined, 'GC carries no attachment parameters');
});

t.test('one attachment never has two operations in flight, and GC runs alone (CNI-RT-003 CNI-RT-004)', async (t) => {
  const { invoker, records, list, rt } = setup(t);
  await Promise.all([
    invoker.addNetworkList(list(), rt),
    invoker.checkNetworkList(list(), rt),
    invoker.gcNetworkList(list(), [{ containerID: 'ctr-1', ifname: 'eth0' }]),
    invoker.delNetworkList(list(), rt),
  ]);
  const sequence = markers(records()).map((m) => m.split(':')[0]);
  const firstOf = (verb: string): number => sequence.indexOf(verb);
  const lastOf = (verb: string): number => sequence.lastIndexOf(verb);
  t.ok(lastOf('ADD') < firstOf('CHECK') && lastOf('CHECK') < firstOf('GC') && lastOf('GC') < firstOf('DEL'), sequence.join(' '));
});

const badRuntime: [string, Record<string, unknown>, RegExp][] = [
  ['an empty container ID', { containerId: '' }, /container ID/],
  ['a container ID starting with a dot', { containerId: '.x' }, /container ID/],
  ['a 16-byte interface name', { ifName: 'x'.repeat(16) }, /interface name/],
  ['a CNI_ARGS value holding ";"', { args: [['K', 'a;b']] }, /CNI_ARGS/],
];
for (const [what, override, message] of badRuntime) {
  t.test(`${what} is refused before any plugin runs (CNI-PROTO-006 CNI-PROTO-010 CNI-PROTO-012)`, async (t) => {
    const { invoker, records, list, rt } = setup(t);
    await t.rejects(invoker.addNetworkList(list(), { ...rt, ...override }), { code: 4, message });
    t.same(records(), []);
  });
}

t.test('a plugin type with no executable is an error (CNI-RT-013 CNI-CONF-017)', async (t) => {
  const { invoker, rt } = setup(t);
  await t.rejects(invoker.addNetworkList({ cniVersion: '1.0.0', name: 'n', plugins: [{ type: 'missing' }] }, rt), { message: /failed to find plugin "missing"/ });
});

t.test('the highest offered version is used (CNI-CONF-002 CNI-CONF-004)', async (t) => {
  const { invoker, records, list, rt } = setup(t);
  await invoker.addNetworkList(list({ cniVersion: '0.4.0', cniVersions: ['0.4.0', '1.0.0', '9.0.0'] }), rt);
  t.ok(records().every((r) => r.conf['cniVersion'] === '1.0.0'));
});

t.test('plugin objects beside the conflist are appended after the inlined ones unless only inlined ones are wanted; a broken one fails the load (CNI-CONF-001 CNI-CONF-011 CNI-CONF-012 CNI-CONF-013 CNI-CONF-014 CNI-CONF-015 CNI-CONF-016 CNI-CONF-006)', async (t) => {
  const { dir } = setup(t);
  const file = path.join(dir, '10-net.conflist');
  fs.writeFileSync(file, JSON.stringify({ cniVersion: '1.1.0', name: 'gathered', plugins: [{ type: 'rec-a' }] }));
  fs.mkdirSync(path.join(dir, 'gathered'));
  fs.writeFileSync(path.join(dir, 'gathered', '20-b.conf'), JSON.stringify({ type: 'rec-b' }));
  fs.writeFileSync(path.join(dir, 'gathered', '10-c.conf'), JSON.stringify({ type: 'rec-c' }));
  t.same((await loadNetworkConfig(file)).plugins.map((p) => p['type']), ['rec-a', 'rec-c', 'rec-b']);
  fs.writeFileSync(file, JSON.stringify({ cniVersion: '1.1.0', name: 'gathered', loadOnlyInlinedPlugins: true, plugins: [{ type: 'rec-a' }] }));
  t.same((await loadNetworkConfig(file)).plugins.map((p) => p['type']), ['rec-a']);
  fs.writeFileSync(path.join(dir, 'plain.conf'), JSON.stringify({ cniVersion: '1.1.0', name: 'p', type: 'rec-a', loadOnlyInlinedPlugins: true }));
  await t.rejects(loadNetworkConfig(path.join(dir, 'plain.conf')), { code: 7, message: /needs a "plugins" list/ });
  fs.writeFileSync(file, JSON.stringify({ cniVersion: '1.1.0', name: 'gathered', plugins: [{ type: 'rec-a' }] }));
  fs.writeFileSync(path.join(dir, 'gathered', '30-bad.conf'), '{"notype": 1}');
  await t.rejects(loadNetworkConfig(file), { code: 7, message: /30-bad\.conf: field "type" is required/ });
});

t.test('configuration mistakes a runtime must catch are refused naming the field (CNI-CONF-007 CNI-CONF-018)', async (t) => {
  const { dir } = setup(t);
  const bad = async (conf: object): Promise<unknown> => {
    const file = path.join(dir, 'bad.conflist');
    fs.writeFileSync(file, JSON.stringify(conf));
    return loadNetworkConfig(file);
  };
  await t.rejects(bad({ cniVersion: '1.0.0', name: 'bad name', plugins: [{ type: 'x' }] }), { code: 7, message: /"name"/ });
  await t.rejects(bad({ cniVersion: '1.0.0', name: 'n', type: 'x', ipam: { type: '../x' } }), { code: 7, message: /"ipam.type" must be a bare file name/ });
});
