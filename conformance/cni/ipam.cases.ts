import fs from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { CniInvoker, cniEnvironment, convertResult, type JsonObject, type NetConfList, type RuntimeConf } from '../../specs/cni/index.js';
import type { CaseContext, Suite } from '../framework/index.js';
import { addPod, attempt, caseNamespace, caseNode, networkCopy, parseJson, podRuntime, snapshotNode, type CaseNode } from './cni-harness.js';
import type { CniSubject } from './cni-subject.js';
import {
  addressOf,
  addressRanges,
  asResult,
  assignableAddresses,
  callPlugin,
  describeError,
  describeRun,
  ipamPlugin,
  ipamStateDir,
  isHostLocalLike,
  parseIp,
  reservationFiles,
} from './observe.js';

type Ctx = CaseContext<CniSubject>;

/** The name the recording IPAM plugin goes by on CNI_PATH. */
const probeType = 'kp-ipam-probe';

/** An environment variable the runtime sets that a delegated plugin must also see (CNI-IPAM-003: "and the rest"). */
const markerVariable = 'KUBEPLUG_DELEGATION_MARK';

/** One line of the probe's log. */
interface ProbeRecord {
  readonly kind: 'received' | 'delegate';
  readonly at: number;
  readonly verb: string;
  readonly env?: Record<string, string>;
  readonly stdin?: string;
  readonly exitCode?: number | null;
  readonly stdout?: string;
}

/** A node whose plugins find the probe first on CNI_PATH, a network whose IPAM goes through it, and the probe's log. */
interface ProbedNetwork {
  readonly list: NetConfList;
  readonly node: CaseNode;
  /** Position of the plugin that delegates. */
  readonly index: number;
  readonly mainType: string;
  readonly realIpamType: string;
  readonly marker: string;
  /** The real IPAM's host-local-style store, when it has one. */
  readonly stateDir: string | undefined;
  /** Each invocation of the delegating plugin by the runtime, with its time window and stdin. */
  readonly mainCalls: { verb: string; startedAt: number; endedAt: number; stdin: JsonObject }[];
  readLog(): Promise<ProbeRecord[]>;
  /** The same network with the probe failing the given verbs after delegating. */
  failing(verbs: readonly string[]): NetConfList;
}

async function compiledProbe(ctx: Ctx): Promise<string> {
  const here = fileURLToPath(new URL('./chain-probe-plugin.js', import.meta.url));
  // Run from TypeScript sources (the kit's tests), the compiled probe sits in dist/.
  const candidates = [here, path.resolve(path.dirname(here), '../../dist/conformance/cni/chain-probe-plugin.js')];
  for (const candidate of candidates) {
    if (await fs.access(candidate).then(() => true, () => false)) return candidate;
  }
  return ctx.skip(`the recording IPAM plugin is not built (looked for ${candidates.join(', ')})`);
}

/**
 * Puts the recording probe in front of the network's IPAM plugin: a copy of
 * the configuration whose `ipam.type` is the probe (which runs the real
 * one), and a node whose CNI_PATH finds the probe first.
 */
async function probedNetwork(ctx: Ctx): Promise<ProbedNetwork> {
  const list = networkCopy(ctx);
  const found = ipamPlugin(list);
  if (found === undefined) ctx.notApplicable('no plugin of the configuration has an ipam section, so nothing is delegated');
  const source = await compiledProbe(ctx);
  const dir = path.join(ctx.subject.runDir, ctx.uniqueName('probe'));
  ctx.defer(() => fs.rm(dir, { recursive: true, force: true }), `remove ${dir}`);
  await fs.mkdir(dir, { recursive: true });
  // A private .mjs copy runs as an ES module wherever it lives; the link gives it its plugin name.
  await fs.copyFile(source, path.join(dir, `${probeType}.mjs`));
  await fs.chmod(path.join(dir, `${probeType}.mjs`), 0o755);
  await fs.symlink(`${probeType}.mjs`, path.join(dir, probeType));
  const log = path.join(dir, 'probe.log');
  const stateDir = ipamStateDir(list);
  const realIpamType = found.ipam.type;
  found.ipam = { ...found.ipam, type: probeType, probeLog: log, probeDelegate: realIpamType };
  list.plugins[found.index] = { ...found.plugin, ipam: found.ipam };

  const plain = await caseNode(ctx);
  const marker = ctx.uniqueName('mark');
  const invoker = new CniInvoker({
    cniPath: [dir, ...ctx.subject.cniPath],
    cacheDir: plain.invoker.options.cacheDir,
    exec: { ...plain.invoker.options.exec, env: { [markerVariable]: marker } },
  });
  const mainType = String(found.plugin['type']);
  const mainCalls: ProbedNetwork['mainCalls'] = [];
  invoker.onInvocation((record) => {
    const endedAt = Date.now();
    if (record.plugin === mainType) mainCalls.push({ verb: record.verb, startedAt: endedAt - record.durationMs, endedAt, stdin: record.stdin });
    ctx.recordCall({
      target: `${record.plugin} (in ${plain.namespace.name}, IPAM through the probe)`,
      method: record.verb,
      request: record.stdin,
      ...(record.ok ? { response: record.result ?? null } : { status: { code: String(record.error?.code), message: record.error?.msg ?? '' } }),
      durationMs: Math.round(record.durationMs),
    });
  });
  return {
    list,
    node: { namespace: plain.namespace, invoker },
    index: found.index,
    mainType,
    realIpamType,
    marker,
    stateDir,
    mainCalls,
    async readLog() {
      const text = await fs.readFile(log, 'utf8').catch(() => '');
      return text
        .split('\n')
        .filter((line) => line !== '')
        .map((line) => JSON.parse(line) as ProbeRecord);
    },
    failing(verbs) {
      const copy = structuredClone(list);
      const plugin = copy.plugins[found.index] ?? {};
      plugin['ipam'] = { ...(plugin['ipam'] as JsonObject), probeFail: [...verbs] };
      return copy;
    },
  };
}

/** The environment the runtime gave the delegating plugin for a call: what the delegate must see too. */
function runtimeEnvironment(probed: ProbedNetwork, verb: 'ADD' | 'DEL' | 'CHECK' | 'GC' | 'STATUS', rt?: RuntimeConf): Record<string, string> {
  return {
    ...cniEnvironment({
      verb,
      cniPath: probed.node.invoker.options.cniPath,
      ...(rt === undefined ? {} : { containerId: rt.containerId, netns: rt.netns, ifName: rt.ifName, ...(rt.args === undefined ? {} : { args: rt.args }) }),
    }),
    PATH: process.env['PATH'] ?? '/usr/sbin:/usr/bin:/sbin:/bin',
    [markerVariable]: probed.marker,
  };
}

/** Checks that the probe received one call of a verb, and that its environment is the runtime's, unchanged. */
function checkDelegated(
  ctx: Ctx,
  options: { ids: readonly string[]; records: readonly ProbeRecord[]; verb: string; expectedEnv: Record<string, string>; after?: number },
): ProbeRecord | undefined {
  const received = options.records.find((record) => record.kind === 'received' && record.verb === options.verb && record.at >= (options.after ?? 0));
  ctx.check(received !== undefined, {
    ids: options.ids,
    what: `the plugin ran its IPAM plugin for ${options.verb}`,
    expected: `a ${options.verb} call of the IPAM plugin`,
    got: options.records.filter((record) => record.kind === 'received').map((record) => record.verb),
  });
  if (received?.env === undefined) return received;
  const differing = Object.entries(options.expectedEnv).filter(([key, value]) => received.env?.[key] !== value);
  ctx.check(differing.length === 0, {
    ids: ['CNI-IPAM-003'],
    what: `the IPAM plugin's ${options.verb} got the caller's environment unchanged`,
    expected: options.expectedEnv,
    got: differing.length === 0 ? 'the same values' : Object.fromEntries(differing.map(([key]) => [key, received.env?.[key] ?? '(unset)'])),
  });
  // Adding variables is not forbidden; say so when it happens.
  const added = Object.keys(received.env).filter((key) => key.startsWith('CNI_') && !(key in options.expectedEnv));
  if (added.length > 0) ctx.note(`the IPAM plugin's ${options.verb} also got ${added.map((key) => `${key}=${received.env?.[key] ?? ''}`).join(', ')}`);
  return received;
}

/** JSON with keys sorted, to compare objects regardless of key order. */
function canonicalJson(value: unknown): string {
  const sort = (inner: unknown): unknown =>
    Array.isArray(inner)
      ? inner.map(sort)
      : inner !== null && typeof inner === 'object'
        ? Object.fromEntries(Object.entries(inner as Record<string, unknown>).sort(([a], [b]) => a.localeCompare(b)).map(([key, v]) => [key, sort(v)]))
        : inner;
  return JSON.stringify(sort(value));
}

const isCidr = (text: unknown): boolean => typeof text === 'string' && /^[^/]+\/\d{1,3}$/.test(text) && parseIp(text.split('/')[0] ?? '') !== undefined;

/** Declares the IPAM delegation cases (specs/cni/SPEC.md, CNI-IPAM) and the args-over-CNI_ARGS rule (CNI-CONV-021). */
export function declareIpamCases(suite: Suite<CniSubject>): void {
  suite.declare({
    ids: ['CNI-IPAM-001', 'CNI-IPAM-003', 'CNI-IPAM-004', 'CNI-IPAM-005', 'CNI-IPAM-013', 'CNI-IPAM-015', 'CNI-IPAM-016'],
    title: 'On ADD the plugin itself runs its IPAM plugin with its own environment and request, and the IPAM plugin returns bare addresses',
    needs: { root: true, netns: true },
    async run(ctx: Ctx) {
      const probed = await probedNetwork(ctx);
      const pod = await caseNamespace(ctx, 'pod');
      const rt: RuntimeConf = { ...podRuntime(ctx, pod), args: [['IgnoreUnknown', '1'], ['K8S_POD_NAMESPACE', 'kubeplug'], ['K8S_POD_NAME', 'ipam-probe']] };
      const result = asResult(await addPod(ctx, probed.node, probed.list, rt));
      const records = await probed.readLog();
      const main = probed.mainCalls.find((call) => call.verb === 'ADD');
      const received = checkDelegated(ctx, { ids: ['CNI-IPAM-001'], records, verb: 'ADD', expectedEnv: runtimeEnvironment(probed, 'ADD', rt) });
      ctx.check(received !== undefined && main !== undefined && received.at >= main.startedAt - 5 && received.at <= main.endedAt + 5, {
        ids: ['CNI-IPAM-001'],
        what: `the IPAM plugin ran while ${probed.mainType}'s ADD was running, not around it`,
        expected: main === undefined ? 'a window' : { from: main.startedAt, to: main.endedAt },
        got: received?.at ?? '(never ran)',
      });
      const receivedStdin = received?.stdin === undefined ? undefined : (JSON.parse(received.stdin) as JsonObject);
      if (main !== undefined && receivedStdin !== undefined) {
        const missing = Object.keys(main.stdin).filter((key) => !(key in receivedStdin));
        ctx.check(missing.length === 0 && receivedStdin['type'] === main.stdin['type'], {
          ids: ['CNI-IPAM-004'],
          what: 'the IPAM plugin got the whole request configuration, not only the ipam section',
          expected: Object.keys(main.stdin),
          got: Object.keys(receivedStdin),
        });
        ctx.check(canonicalJson(receivedStdin) === canonicalJson(main.stdin), {
          ids: ['CNI-IPAM-005'],
          what: 'the IPAM plugin got the request configuration unchanged',
          expected: main.stdin,
          got: receivedStdin,
        });
      }

      const answer = records.find((record) => record.kind === 'delegate' && record.verb === 'ADD');
      const parsed = answer?.stdout === undefined ? undefined : parseJson(answer.stdout);
      const ipamResult = parsed !== null && typeof parsed === 'object' && !Array.isArray(parsed) ? (parsed as JsonObject) : undefined;
      ctx.require(answer?.exitCode === 0 && ipamResult !== undefined, {
        ids: ['CNI-IPAM-013'],
        what: `${probed.realIpamType} answers ADD with exit 0 and a JSON result`,
        expected: 'exit 0 and a result',
        got: answer ?? '(not run)',
      });
      const ips = Array.isArray(ipamResult['ips']) ? (ipamResult['ips'] as JsonObject[]) : [];
      ctx.check(ips.length > 0 && ips.every((ip) => isCidr(ip['address']) && (ip['gateway'] === undefined || parseIp(String(ip['gateway'])) !== undefined)), {
        ids: ['CNI-IPAM-013'],
        what: `${probed.realIpamType} returns addresses in CIDR notation with valid gateways`,
        expected: 'ips: [{address: "<ip>/<prefix>", gateway?: "<ip>"}…]',
        got: ipamResult['ips'] ?? '(no ips)',
      });
      const routes = Array.isArray(ipamResult['routes']) ? (ipamResult['routes'] as JsonObject[]) : [];
      ctx.check(routes.every((route) => isCidr(route['dst'])), {
        ids: ['CNI-IPAM-013'],
        what: `${probed.realIpamType}'s routes have CIDR destinations`,
        expected: 'routes: [{dst: "<ip>/<prefix>"}…]',
        got: routes,
      });
      const applied = (result?.ips ?? []).map((ip) => addressOf(ip.address));
      ctx.check(ips.every((ip) => applied.includes(addressOf(String(ip['address'])))), {
        ids: ['CNI-IPAM-013'],
        what: `${probed.mainType} applied the addresses ${probed.realIpamType} decided`,
        expected: ips.map((ip) => ip['address']),
        got: result?.ips ?? '(no result)',
      });
      ctx.check(!('interfaces' in ipamResult), {
        ids: ['CNI-IPAM-015'],
        what: `${probed.realIpamType}'s result has no interfaces array`,
        expected: 'no interfaces key',
        got: ipamResult['interfaces'],
      });
      ctx.check(ips.every((ip) => !('interface' in ip)), {
        ids: ['CNI-IPAM-016'],
        what: `no address in ${probed.realIpamType}'s result has an interface index`,
        expected: 'no ips[].interface',
        got: ips,
      });
    },
  });

  suite.declare({
    ids: ['CNI-IPAM-007', 'CNI-IPAM-003'],
    title: 'On DEL the plugin runs DEL through its IPAM plugin with its own environment',
    needs: { root: true, netns: true },
    async run(ctx: Ctx) {
      const probed = await probedNetwork(ctx);
      const rt = podRuntime(ctx, await caseNamespace(ctx, 'pod'));
      await addPod(ctx, probed.node, probed.list, rt);
      const addedAt = Date.now();
      const del = await attempt(() => probed.node.invoker.delNetworkList(probed.list, rt));
      ctx.require(del.ok, { ids: [], what: 'DEL succeeds', expected: 'exit 0', got: del.ok ? 'ok' : describeError(del.error) });
      checkDelegated(ctx, { ids: ['CNI-IPAM-007'], records: await probed.readLog(), verb: 'DEL', expectedEnv: runtimeEnvironment(probed, 'DEL', rt), after: addedAt });
    },
  });

  suite.declare({
    ids: ['CNI-IPAM-008', 'CNI-IPAM-003'],
    title: 'On CHECK the plugin runs CHECK through its IPAM plugin with its own environment',
    needs: { root: true, netns: true, capabilities: ['verb.CHECK'] },
    async run(ctx: Ctx) {
      const probed = await probedNetwork(ctx);
      const rt = podRuntime(ctx, await caseNamespace(ctx, 'pod'));
      await addPod(ctx, probed.node, probed.list, rt);
      const check = await attempt(() => probed.node.invoker.checkNetworkList(probed.list, rt));
      ctx.require(check.ok, { ids: [], what: 'CHECK succeeds', expected: 'exit 0', got: check.ok ? 'ok' : describeError(check.error) });
      checkDelegated(ctx, { ids: ['CNI-IPAM-008'], records: await probed.readLog(), verb: 'CHECK', expectedEnv: runtimeEnvironment(probed, 'CHECK', rt) });
    },
  });

  suite.declare({
    ids: ['CNI-IPAM-009', 'CNI-IPAM-003'],
    title: 'On GC the plugin runs GC through its IPAM plugin with the same valid attachments',
    needs: { root: true, netns: true, capabilities: ['verb.GC'] },
    async run(ctx: Ctx) {
      const probed = await probedNetwork(ctx);
      const rt = podRuntime(ctx, await caseNamespace(ctx, 'pod'));
      await addPod(ctx, probed.node, probed.list, rt);
      const valid = [{ containerID: rt.containerId, ifname: rt.ifName }];
      const plugin = probed.list.plugins[probed.index] ?? {};
      const gc = await callPlugin(ctx, probed.node, { list: probed.list, plugin, verb: 'GC', extraConf: { 'cni.dev/valid-attachments': valid } });
      ctx.check(gc.ok, { ids: [], what: 'GC succeeds', expected: 'exit 0', got: describeRun(gc) });
      const received = checkDelegated(ctx, { ids: ['CNI-IPAM-009'], records: await probed.readLog(), verb: 'GC', expectedEnv: runtimeEnvironment(probed, 'GC') });
      const passed = received?.stdin === undefined ? undefined : (JSON.parse(received.stdin) as JsonObject)['cni.dev/valid-attachments'];
      ctx.check(canonicalJson(passed) === canonicalJson(valid), {
        ids: ['CNI-IPAM-009'],
        what: 'the IPAM plugin got the same cni.dev/valid-attachments',
        expected: valid,
        got: passed ?? '(none)',
      });
    },
  });

  suite.declare({
    ids: ['CNI-IPAM-010'],
    title: 'On STATUS the plugin runs STATUS through its IPAM plugin',
    needs: { root: true, netns: true, capabilities: ['verb.STATUS'] },
    async run(ctx: Ctx) {
      const probed = await probedNetwork(ctx);
      const plugin = probed.list.plugins[probed.index] ?? {};
      const status = await callPlugin(ctx, probed.node, { list: probed.list, plugin, verb: 'STATUS' });
      ctx.note(`STATUS of ${probed.mainType}: ${JSON.stringify(describeRun(status))}`);
      checkDelegated(ctx, { ids: ['CNI-IPAM-010'], records: await probed.readLog(), verb: 'STATUS', expectedEnv: runtimeEnvironment(probed, 'STATUS') });
    },
  });

  suite.declare({
    ids: ['CNI-IPAM-011'],
    title: 'When the IPAM plugin fails DEL, CHECK, GC or STATUS, the plugin fails it too',
    needs: { root: true, netns: true },
    async run(ctx: Ctx) {
      const probed = await probedNetwork(ctx);
      const rt = podRuntime(ctx, await caseNamespace(ctx, 'pod'));
      const added = asResult(await addPod(ctx, probed.node, probed.list, rt));
      const plugin = probed.list.plugins[probed.index] ?? {};
      const verbs = (['DEL', 'CHECK', 'GC', 'STATUS'] as const).filter((verb) => verb === 'DEL' || ctx.subject.capabilities.has(`verb.${verb}`));
      for (const verb of verbs) {
        const failing = probed.failing([verb]);
        const failingPlugin = failing.plugins[probed.index] ?? plugin;
        const attachment = verb === 'GC' || verb === 'STATUS' ? {} : { rt };
        const answer = await callPlugin(ctx, probed.node, {
          list: failing,
          plugin: failingPlugin,
          verb,
          ...attachment,
          ...((verb === 'DEL' || verb === 'CHECK') && added !== undefined ? { prevResult: convertResult(added, failing.cniVersion) } : {}),
          ...(verb === 'GC' ? { extraConf: { 'cni.dev/valid-attachments': [{ containerID: rt.containerId, ifname: rt.ifName }] } } : {}),
        });
        ctx.check(!answer.ok, {
          what: `${probed.mainType} fails ${verb} when its IPAM plugin fails ${verb}`,
          expected: 'a non-zero exit',
          got: describeRun(answer),
        });
      }
    },
  });

  suite.declare({
    ids: ['CNI-IPAM-012'],
    title: 'When the IPAM plugin fails ADD, the plugin runs DEL through it before failing',
    needs: { root: true, netns: true },
    async run(ctx: Ctx) {
      const probed = await probedNetwork(ctx);
      const failing = probed.failing(['ADD']);
      const rt = podRuntime(ctx, await caseNamespace(ctx, 'pod'));
      const before = await snapshotNode(probed.node.namespace, probed.stateDir);
      ctx.defer(() => probed.node.invoker.delNetworkList(probed.list, rt).catch(() => {}), `DEL ${rt.containerId}`);
      const add = await attempt(() => probed.node.invoker.addNetworkList(failing, rt));
      ctx.require(!add.ok, { ids: [], what: `${probed.mainType}'s ADD fails when its IPAM plugin fails`, expected: 'an error', got: add.ok ? add.value : 'failed' });
      const records = await probed.readLog();
      const addAt = records.find((record) => record.kind === 'received' && record.verb === 'ADD')?.at ?? 0;
      const undo = records.find((record) => record.kind === 'received' && record.verb === 'DEL' && record.at >= addAt);
      ctx.check(undo !== undefined && undo.env?.['CNI_CONTAINERID'] === rt.containerId, {
        what: `${probed.mainType} ran DEL through the IPAM plugin after its failed ADD`,
        expected: `DEL for ${rt.containerId}`,
        got: records.filter((record) => record.kind === 'received').map((record) => record.verb),
      });
      if (probed.stateDir !== undefined) {
        const after = await snapshotNode(probed.node.namespace, probed.stateDir);
        const kept = reservationFiles(after).filter((file) => !before.stateFiles.includes(file));
        ctx.check(kept.length === 0, { what: 'no address stays reserved after the failed ADD', expected: 'no new reservation', got: kept });
      }
    },
  });

  suite.declare({
    ids: ['CNI-CONV-021'],
    title: 'An address asked for both in args.cni.ips and in CNI_ARGS IP is taken from args',
    needs: { root: true, netns: true },
    async run(ctx: Ctx) {
      const list = networkCopy(ctx);
      const found = ipamPlugin(list);
      const range = found === undefined || !isHostLocalLike(list) ? undefined : addressRanges(found.ipam)[0];
      if (found === undefined || range === undefined) ctx.notApplicable('the IPAM is not host-local-like, so there is no known way to ask it for an address');
      const [viaArgs, viaCniArgs, bothArgs, bothCniArgs] = assignableAddresses(range, 4);
      ctx.require(bothCniArgs !== undefined && bothArgs !== undefined && viaArgs !== undefined && viaCniArgs !== undefined, {
        ids: [],
        what: 'the first range has four free addresses to ask for',
        expected: 4,
        got: assignableAddresses(range, 4),
      });
      const withArgs = (ips: string[]): NetConfList => {
        const copy = structuredClone(list);
        copy.plugins[found.index] = { ...(copy.plugins[found.index] ?? {}), args: { cni: { ips } } };
        return copy;
      };
      const node = await caseNode(ctx);
      const addressesAfter = async (network: NetConfList, args: [string, string][] | undefined): Promise<string[] | string> => {
        const rt: RuntimeConf = { ...podRuntime(ctx, await caseNamespace(ctx, 'pod')), ...(args === undefined ? {} : { args }) };
        const added = await attempt(() => addPod(ctx, node, network, rt));
        return added.ok ? (asResult(added.value)?.ips ?? []).map((ip) => addressOf(ip.address)) : `ADD failed: ${added.error.code} ${added.error.msg}`;
      };
      const honoursArgs = await addressesAfter(withArgs([viaArgs]), undefined);
      const honoursCniArgs = await addressesAfter(list, [['IgnoreUnknown', '1'], ['IP', viaCniArgs]]);
      if (!Array.isArray(honoursArgs) || !honoursArgs.includes(viaArgs) || !Array.isArray(honoursCniArgs) || !honoursCniArgs.includes(viaCniArgs)) {
        ctx.notApplicable(
          `the IPAM does not honour both ways of asking for an address (args.cni.ips ${viaArgs} gave ${JSON.stringify(honoursArgs)}; CNI_ARGS IP=${viaCniArgs} gave ${JSON.stringify(honoursCniArgs)})`,
        );
      }
      const both = await addressesAfter(withArgs([bothArgs]), [['IgnoreUnknown', '1'], ['IP', bothCniArgs]]);
      ctx.check(Array.isArray(both) && both.includes(bothArgs) && !both.includes(bothCniArgs), {
        what: `asked for ${bothArgs} in args.cni.ips and ${bothCniArgs} in CNI_ARGS, the attachment gets ${bothArgs} only`,
        expected: [bothArgs],
        got: both,
      });
    },
  });
}
