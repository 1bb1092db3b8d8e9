import { cacheKind, resultFamily, writeCache, type NetConfList, type Result100, type RuntimeConf } from '../../specs/cni/index.js';
import type { CaseContext, Suite } from '../framework/index.js';
import { caseNamespace, caseNode, networkCopy, podRuntime, type CaseNode } from './cni-harness.js';
import type { CniSubject } from './cni-subject.js';
import {
  asResult,
  callPlugin,
  canonicalCidr,
  canonicalIp,
  checkResultHolds,
  describeRun,
  namespaceAt,
  readAddresses,
  readLinks,
  readRoutes,
  type RawAnswer,
} from './observe.js';

type Ctx = CaseContext<CniSubject>;

/** One plugin's part of an ADD run plugin by plugin. */
interface ChainStep {
  readonly index: number;
  readonly type: string;
  /** What the plugin got as prevResult (undefined for the first). */
  readonly sent: unknown;
  readonly answer: RawAnswer;
  readonly result: Result100 | undefined;
  /** What the result type can express, in the container and on the node, before and after this plugin ran. */
  readonly stateBefore: string;
  readonly stateAfter: string;
}

/** The links, addresses and routes a result could report, as one comparable text. */
async function expressibleState(node: CaseNode, rt: RuntimeConf): Promise<string> {
  const pod = namespaceAt(rt.netns);
  const kernelOwned = (dst: string): boolean => dst.startsWith('fe80:') || dst.startsWith('ff00:');
  return JSON.stringify({
    podLinks: (await readLinks(pod)).map(({ name, mac, mtu }) => ({ name, mac, mtu })),
    podAddresses: (await readAddresses(pod)).filter((address) => !/ fe80:/i.test(address)),
    podRoutes: (await readRoutes(pod)).filter((route) => route.table !== 'local' && !kernelOwned(route.dst)),
    nodeLinks: (await readLinks(node.namespace)).map(({ name, mac, mtu }) => ({ name, mac, mtu })),
  });
}

/**
 * Runs ADD through the list one plugin at a time, as the runtime would, so
 * each plugin's prevResult, result and effect can be seen; `tamper` may
 * rewrite a prevResult before it is sent. Caches the final result as the
 * invoker does, so the DEL registered for cleanup carries it.
 */
async function addStepwise(
  ctx: Ctx,
  node: CaseNode,
  list: NetConfList,
  rt: RuntimeConf,
  tamper: (index: number, prevResult: unknown) => unknown = (_index, prevResult) => prevResult,
): Promise<ChainStep[]> {
  ctx.defer(() => node.invoker.delNetworkList(list, rt).catch(() => {}), `DEL ${rt.containerId}`);
  const steps: ChainStep[] = [];
  let previous: unknown;
  for (const [index, plugin] of list.plugins.entries()) {
    const sent = index === 0 ? undefined : tamper(index, previous);
    const stateBefore = await expressibleState(node, rt);
    const answer = await callPlugin(ctx, node, { list, plugin, verb: 'ADD', rt, prevResult: sent });
    const stateAfter = await expressibleState(node, rt);
    steps.push({ index, type: answer.type, sent, answer, result: asResult(answer.json), stateBefore, stateAfter });
    if (!answer.ok) return steps;
    previous = answer.json;
  }
  await writeCache(node.invoker.options.cacheDir, {
    kind: cacheKind,
    containerId: rt.containerId,
    config: Buffer.from(JSON.stringify(list)).toString('base64'),
    ifName: rt.ifName,
    networkName: list.name,
    netns: rt.netns,
    result: previous as Record<string, unknown>,
  });
  return steps;
}

/** Stops the case as not-applicable when no plugin of the configuration is ever handed prevResult. */
function requireChain(ctx: Ctx): void {
  const plugins = ctx.subject.list.plugins;
  if (plugins.length < 2) {
    ctx.notApplicable(
      `the configuration has one plugin (${String(plugins[0]?.['type'])}); as the first plugin it never receives prevResult (CNI-CHAIN-005), so the rules on handling prevResult bind nothing in this configuration`,
    );
  }
}

/** Runs the chain stepwise on a fresh node and pod and requires every plugin to succeed. */
async function chainedAdd(ctx: Ctx, list: NetConfList, tamper?: (index: number, prevResult: unknown) => unknown, ids: readonly string[] = []): Promise<{ node: CaseNode; steps: ChainStep[] }> {
  const node = await caseNode(ctx);
  const pod = await caseNamespace(ctx, 'pod');
  const steps = await addStepwise(ctx, node, list, podRuntime(ctx, pod), tamper);
  const failed = steps.find((step) => !step.answer.ok || step.result === undefined);
  ctx.require(failed === undefined, {
    ids,
    what: `every plugin of the chain succeeds ADD at ${list.cniVersion}`,
    expected: 'exit 0 and a result from each',
    got: failed === undefined ? 'ok' : describeRun(failed.answer),
  });
  return { node, steps };
}

/** The result without what CNI-CHAIN-002 lets differ (cniVersion) or what is equivalent to absent (empty sections), keys sorted. */
function comparable(result: unknown): string {
  const strip = (value: unknown): unknown => {
    if (Array.isArray(value)) return value.map(strip);
    if (value === null || typeof value !== 'object') return value;
    const entries = Object.entries(value as Record<string, unknown>)
      .filter(([key]) => key !== 'cniVersion')
      .map(([key, inner]) => [key, strip(inner)] as const)
      .filter(([, inner]) => !(Array.isArray(inner) && inner.length === 0) && !(inner !== null && typeof inner === 'object' && !Array.isArray(inner) && Object.keys(inner).length === 0))
      .sort(([a], [b]) => a.localeCompare(b));
    return Object.fromEntries(entries);
  };
  return JSON.stringify(strip(result));
}

/** Checks that a chained plugin's result carries everything of its prevResult. */
function checkCarriedForward(ctx: Ctx, ids: readonly string[], step: ChainStep, prev: Result100, out: Result100): void {
  const label = `${step.type} (plugin ${step.index + 1})`;
  for (const entry of prev.interfaces ?? []) {
    ctx.check((out.interfaces ?? []).some((candidate) => candidate.name === entry.name && (candidate.sandbox ?? '') === (entry.sandbox ?? '')), {
      ids,
      what: `${label} keeps prevResult's interface ${entry.name} in its result`,
      expected: { name: entry.name, sandbox: entry.sandbox ?? '' },
      got: out.interfaces ?? [],
    });
  }
  for (const ip of prev.ips ?? []) {
    ctx.check((out.ips ?? []).some((candidate) => canonicalCidr(candidate.address, false) === canonicalCidr(ip.address, false)), {
      ids,
      what: `${label} keeps prevResult's address ${ip.address} in its result`,
      expected: ip.address,
      got: (out.ips ?? []).map((candidate) => candidate.address),
    });
  }
  for (const route of prev.routes ?? []) {
    const wanted = `${canonicalCidr(route.dst, true)} via ${route.gw === undefined ? '-' : canonicalIp(route.gw)}`;
    const got = (out.routes ?? []).map((candidate) => `${canonicalCidr(candidate.dst, true)} via ${candidate.gw === undefined ? '-' : canonicalIp(candidate.gw)}`);
    ctx.check(got.includes(wanted), { ids, what: `${label} keeps prevResult's route ${wanted} in its result`, expected: wanted, got });
  }
  for (const [field, value] of Object.entries(prev.dns ?? {})) {
    if (Array.isArray(value) ? value.length === 0 : value === '') continue;
    ctx.check((out.dns as Record<string, unknown> | undefined)?.[field] !== undefined, {
      ids,
      what: `${label} keeps prevResult's dns.${field} in its result`,
      expected: value,
      got: out.dns ?? '(no dns)',
    });
  }
}

/** Declares the chaining cases (specs/cni/SPEC.md, CNI-CHAIN): how each plugin after the first handles prevResult. */
export function declareChainCases(suite: Suite<CniSubject>): void {
  suite.declare({
    ids: ['CNI-CHAIN-001', 'CNI-CHAIN-003'],
    title: 'Each chained plugin returns prevResult with its own changes applied and its interface indexes intact',
    needs: { root: true, netns: true },
    async run(ctx: Ctx) {
      requireChain(ctx);
      const list = networkCopy(ctx);
      const { node, steps } = await chainedAdd(ctx, list);
      let indexed = 0;
      for (const step of steps.slice(1)) {
        const prev = asResult(step.sent);
        const out = step.result;
        if (prev === undefined || out === undefined) continue;
        checkCarriedForward(ctx, ['CNI-CHAIN-001'], step, prev, out);
        // What it reports must be true now, changed or not.
        await checkResultHolds(ctx, { node, result: out, label: `result of ${step.type} (plugin ${step.index + 1})`, ids: { interfaces: ['CNI-CHAIN-001'], addresses: ['CNI-CHAIN-001'] } });
        for (const ip of prev.ips ?? []) {
          if (ip.interface === undefined) continue;
          const before = prev.interfaces?.[ip.interface];
          const carried = (out.ips ?? []).find((candidate) => canonicalCidr(candidate.address, false) === canonicalCidr(ip.address, false));
          const after = carried?.interface === undefined ? undefined : out.interfaces?.[carried.interface];
          indexed += 1;
          ctx.check(before !== undefined && after !== undefined && after.name === before.name && (after.sandbox ?? '') === (before.sandbox ?? ''), {
            ids: ['CNI-CHAIN-003'],
            what: `${step.type} (plugin ${step.index + 1}): ${ip.address} still points at ${before?.name ?? `index ${ip.interface}`}`,
            expected: before ?? `interface ${ip.interface} of prevResult`,
            got: carried === undefined ? '(address dropped)' : (after ?? `index ${String(carried.interface)}`),
          });
        }
      }
      if (indexed === 0) ctx.note('no prevResult address carried an interface index, so CNI-CHAIN-003 had nothing to hold to');
    },
  });

  suite.declare({
    ids: ['CNI-CHAIN-002'],
    title: 'A chained plugin that changes nothing a result can express returns prevResult as it came',
    needs: { root: true, netns: true },
    async run(ctx: Ctx) {
      requireChain(ctx);
      const list = networkCopy(ctx);
      const { steps } = await chainedAdd(ctx, list);
      let judged = 0;
      for (const step of steps.slice(1)) {
        if (step.stateBefore !== step.stateAfter) {
          ctx.note(`${step.type} (plugin ${step.index + 1}) changed links, addresses or routes, so its result may differ from prevResult`);
          continue;
        }
        judged += 1;
        ctx.check(comparable(step.answer.json) === comparable(step.sent), {
          what: `${step.type} (plugin ${step.index + 1}) changed no link, address or route, and returns prevResult unchanged apart from cniVersion`,
          expected: step.sent,
          got: step.answer.json,
        });
      }
      if (judged === 0) ctx.notApplicable('every chained plugin changed links, addresses or routes of the attachment, so none is one that changes nothing the result expresses');
    },
  });

  suite.declare({
    ids: ['CNI-CHAIN-004'],
    title: 'A chained plugin reads prevResult in the request\'s version, also when prevResult carries no cniVersion',
    needs: { root: true, netns: true },
    async run(ctx: Ctx) {
      requireChain(ctx);
      const variants: { list: NetConfList; label: string; tamper?: (index: number, prevResult: unknown) => unknown }[] = [
        {
          list: networkCopy(ctx),
          label: 'prevResult without cniVersion',
          tamper: (_index, prevResult) => {
            const { cniVersion: _dropped, ...rest } = prevResult as Record<string, unknown>;
            return rest;
          },
        },
      ];
      // Another result format every plugin of the list supports: prevResult then arrives in that format.
      const family = resultFamily(ctx.subject.version);
      const other = [...ctx.subject.supportedVersions].reverse().find((version) => resultFamily(version) !== family && resultFamily(version) !== '020');
      if (other !== undefined) variants.push({ list: networkCopy(ctx, { version: other }), label: `the whole chain at ${other}` });
      else ctx.note(`the plugins support no other result format than ${ctx.subject.version}'s (besides 0.1.0/0.2.0)`);

      for (const variant of variants) {
        const { steps } = await chainedAdd(ctx, variant.list, variant.tamper, ['CNI-CHAIN-004']);
        for (const step of steps.slice(1)) {
          const out = step.result;
          ctx.check(out !== undefined, { what: `${step.type} (plugin ${step.index + 1}) with ${variant.label} answers with a result`, expected: 'a result', got: step.answer.json });
          const prev = asResult({ cniVersion: variant.list.cniVersion, ...(step.sent as Record<string, unknown>) });
          if (prev === undefined || out === undefined) continue;
          const lost = (prev.ips ?? []).filter((ip) => !(out.ips ?? []).some((candidate) => canonicalCidr(candidate.address, false) === canonicalCidr(ip.address, false)));
          const lostInterfaces = (prev.interfaces ?? []).filter((entry) => !(out.interfaces ?? []).some((candidate) => candidate.name === entry.name));
          ctx.check(lost.length === 0 && lostInterfaces.length === 0, {
            what: `${step.type} (plugin ${step.index + 1}) read the addresses and interfaces of a prevResult given as ${variant.label}`,
            expected: { ips: (prev.ips ?? []).map((ip) => ip.address), interfaces: (prev.interfaces ?? []).map((entry) => entry.name) },
            got: { ips: (out.ips ?? []).map((ip) => ip.address), interfaces: (out.interfaces ?? []).map((entry) => entry.name) },
          });
        }
      }
    },
  });
}
