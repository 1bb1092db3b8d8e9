import fs from 'node:fs/promises';
import path from 'node:path';
import { convertResult, type NetConfList, type Result100, type RuntimeConf } from '../../specs/cni/index.js';
import type { CaseContext, Suite } from '../framework/index.js';
import { addPod, caseNamespace, caseNode, networkCopy, podRuntime, type CaseNode } from './cni-harness.js';
import type { CniSubject } from './cni-subject.js';
import type { NetworkNamespace } from './network-namespaces.js';
import {
  addressOf,
  asResult,
  callList,
  canonicalCidr,
  containerInterfaceIndex,
  describeRun,
  formatIp,
  ipamStateDir,
  listWithRoutes,
  parseIp,
  readAddresses,
  type RawAnswer,
} from './observe.js';

type Ctx = CaseContext<CniSubject>;

const needsCheck = { root: true, netns: true, capabilities: ['verb.CHECK'] } as const;

/** A pod on the network with its ADD result, ready to be checked. */
interface AddedPod {
  readonly node: CaseNode;
  readonly pod: NetworkNamespace;
  readonly rt: RuntimeConf;
  readonly result: Result100;
  /** Index of the container interface in the result. */
  readonly container: number;
}

async function addCheckablePod(ctx: Ctx, list: NetConfList, node?: CaseNode): Promise<AddedPod> {
  const onNode = node ?? (await caseNode(ctx));
  const pod = await caseNamespace(ctx, 'pod');
  const rt = podRuntime(ctx, pod);
  const result = asResult(await addPod(ctx, onNode, list, rt));
  ctx.require(result !== undefined, { ids: [], what: 'ADD prints a result', expected: 'a result object', got: result ?? 'no result' });
  const container = containerInterfaceIndex(result, rt);
  ctx.require(container >= 0, { ids: [], what: 'the result reports the container interface', expected: `an interface with a sandbox`, got: result.interfaces ?? [] });
  return { node: onNode, pod, rt, result, container };
}

/** CHECK through the list with a given prevResult, sent in the list's version as the runtime would (CNI-CHAIN-008). */
function checkWith(ctx: Ctx, list: NetConfList, added: AddedPod, prevResult: Result100 | undefined): Promise<{ ok: boolean; answers: RawAnswer[] }> {
  return callList(ctx, added.node, { list, verb: 'CHECK', rt: added.rt, prevResult: prevResult === undefined ? undefined : convertResult(prevResult, list.cniVersion) });
}

/**
 * Whether CHECK passes on the untouched attachment. A CHECK that fails
 * anyway (CNI-CHECK-001's business) says nothing when it fails after a
 * breakage, so the cases stop without judging (their rules stay not checked).
 */
async function checkPassesUntouched(ctx: Ctx, list: NetConfList, added: AddedPod): Promise<boolean> {
  const untouched = await checkWith(ctx, list, added, prevResultOf(list, added.result));
  if (!untouched.ok) ctx.note(`CHECK fails even on the untouched attachment (see CNI-CHECK-001), so its failing after a breakage proves nothing: ${JSON.stringify(untouched.answers.map(describeRun))}`);
  return untouched.ok;
}

/** A copy of the ADD result to send, or to alter first, as CHECK's prevResult. */
function prevResultOf(list: NetConfList, result: Result100): Result100 {
  return { ...structuredClone(result), cniVersion: list.cniVersion };
}

/** A locally administered unicast MAC no plugin would pick by chance. */
const foreignMac = '0a:6b:70:00:00:01';

/** Declares the CHECK cases (specs/cni/SPEC.md, CNI-CHECK). */
export function declareCheckCases(suite: Suite<CniSubject>): void {
  suite.declare({
    ids: ['CNI-CHECK-001'],
    title: 'CHECK right after ADD passes and prints nothing',
    needs: needsCheck,
    async run(ctx: Ctx) {
      const list = networkCopy(ctx);
      const added = await addCheckablePod(ctx, list);
      const check = await checkWith(ctx, list, added, prevResultOf(list, added.result));
      ctx.check(check.ok, { what: 'CHECK with the ADD result as prevResult succeeds', expected: 'every plugin exits 0', got: check.answers.map(describeRun) });
      for (const answer of check.answers.filter((candidate) => candidate.ok)) {
        ctx.check(answer.run.stdout.trim() === '', { what: `${answer.type} prints nothing on a successful CHECK`, expected: '', got: answer.run.stdout.slice(0, 500) });
      }
    },
  });

  suite.declare({
    ids: ['CNI-CHECK-003'],
    title: 'CHECK compares the container with prevResult and fails without one',
    needs: needsCheck,
    async run(ctx: Ctx) {
      const list = networkCopy(ctx);
      const added = await addCheckablePod(ctx, list);
      if (!(await checkPassesUntouched(ctx, list, added))) return;
      const none = await checkWith(ctx, list, added, undefined);
      ctx.check(!none.ok, { what: 'CHECK without prevResult fails', expected: 'a plugin exits non-zero', got: none.answers.map(describeRun) });

      // A prevResult naming an address the container does not have: only a plugin that reads prevResult notices.
      const ip = added.result.ips?.find((candidate) => candidate.interface === added.container) ?? added.result.ips?.[0];
      ctx.require(ip !== undefined, { ids: [], what: 'the result reports an address', expected: 'an ips entry', got: added.result.ips ?? [] });
      const configured = await readAddresses(added.pod);
      const other = otherAddress(ip.address, configured);
      ctx.require(other !== undefined, { ids: [], what: 'a free address in the same subnet can be named', expected: 'an address', got: ip.address });
      const altered = prevResultOf(list, added.result);
      altered.ips = (altered.ips ?? []).map((entry) => (entry.address === ip.address ? { ...entry, address: other } : entry));
      const wrong = await checkWith(ctx, list, added, altered);
      ctx.check(!wrong.ok, {
        what: `CHECK fails when prevResult says the container has ${other} instead of its ${ip.address}`,
        expected: 'a plugin exits non-zero',
        got: wrong.answers.map(describeRun),
      });
    },
  });

  suite.declare({
    ids: ['CNI-CHECK-004'],
    title: 'CHECK passes when a later plugin added a route and changed the MAC address and recorded both in the result',
    needs: needsCheck,
    async run(ctx: Ctx) {
      const list = networkCopy(ctx);
      const added = await addCheckablePod(ctx, list);
      // A positive case too: if CHECK fails untouched, failing here would only repeat CNI-CHECK-001.
      if (!(await checkPassesUntouched(ctx, list, added))) return;
      const container = added.result.interfaces?.[added.container];
      ctx.require(container !== undefined, { ids: [], what: 'the container interface is in the result', expected: 'an interface', got: added.result.interfaces ?? [] });
      const family = parseIp(addressOf(added.result.ips?.[0]?.address ?? '0.0.0.0'))?.family ?? 4;
      const dst = family === 4 ? '198.51.100.0/24' : '2001:db8:ffff:9::/64';
      // What a later chained plugin (route-override, tuning) would do, and record in its result.
      await added.pod.exec('ip', ['route', 'add', dst, 'dev', container.name]);
      await added.pod.exec('ip', ['link', 'set', container.name, 'address', foreignMac]);
      const later = prevResultOf(list, added.result);
      later.routes = [...(later.routes ?? []), { dst }];
      later.interfaces = (later.interfaces ?? []).map((entry, index) => (index === added.container ? { ...entry, mac: foreignMac } : entry));
      const check = await checkWith(ctx, list, added, later);
      ctx.check(check.ok, {
        what: `CHECK with a prevResult that records the later route to ${dst} and MAC ${foreignMac} passes`,
        expected: 'every plugin exits 0',
        got: check.answers.map(describeRun),
      });
    },
  });

  suite.declare({
    ids: ['CNI-CHECK-005'],
    title: 'CHECK fails when the container interface is gone or its MAC address differs from prevResult',
    needs: needsCheck,
    async run(ctx: Ctx) {
      const list = networkCopy(ctx);
      const gone = await addCheckablePod(ctx, list);
      if (!(await checkPassesUntouched(ctx, list, gone))) return;
      const goneName = gone.result.interfaces?.[gone.container]?.name ?? gone.rt.ifName;
      await gone.pod.exec('ip', ['link', 'del', goneName]);
      const afterDelete = await checkWith(ctx, list, gone, prevResultOf(list, gone.result));
      ctx.check(!afterDelete.ok, { what: `CHECK fails after ${goneName} was deleted from the container`, expected: 'a plugin exits non-zero', got: afterDelete.answers.map(describeRun) });

      const changed = await addCheckablePod(ctx, list, gone.node);
      if (!(await checkPassesUntouched(ctx, list, changed))) return;
      const entry = changed.result.interfaces?.[changed.container];
      if (entry?.mac === undefined) {
        ctx.note('the result gives no MAC address for the container interface, so a changed MAC cannot contradict it');
        return;
      }
      await changed.pod.exec('ip', ['link', 'set', entry.name, 'address', foreignMac]);
      const afterChange = await checkWith(ctx, list, changed, prevResultOf(list, changed.result));
      ctx.check(!afterChange.ok, {
        what: `CHECK fails when ${entry.name} has MAC ${foreignMac} but prevResult says ${entry.mac}`,
        expected: 'a plugin exits non-zero',
        got: afterChange.answers.map(describeRun),
      });
    },
  });

  suite.declare({
    ids: ['CNI-CHECK-006'],
    title: 'CHECK fails when an address it configured is missing from the container interface',
    needs: needsCheck,
    async run(ctx: Ctx) {
      const list = networkCopy(ctx);
      const added = await addCheckablePod(ctx, list);
      if (!(await checkPassesUntouched(ctx, list, added))) return;
      const ip = added.result.ips?.find((candidate) => candidate.interface === added.container) ?? added.result.ips?.[0];
      const name = added.result.interfaces?.[added.container]?.name;
      ctx.require(ip !== undefined && name !== undefined, { ids: [], what: 'the result reports an address of the container interface', expected: 'an ips entry', got: added.result.ips ?? [] });
      await added.pod.exec('ip', ['addr', 'del', canonicalCidr(ip.address, false), 'dev', name]);
      const check = await checkWith(ctx, list, added, prevResultOf(list, added.result));
      ctx.check(!check.ok, { what: `CHECK fails after ${ip.address} was removed from ${name}`, expected: 'a plugin exits non-zero', got: check.answers.map(describeRun) });
    },
  });

  suite.declare({
    ids: ['CNI-CHECK-007'],
    title: 'CHECK fails when a route it installed is missing from the container',
    needs: needsCheck,
    async run(ctx: Ctx) {
      const list = listWithRoutes(ctx) ?? networkCopy(ctx);
      const added = await addCheckablePod(ctx, list);
      if (!(await checkPassesUntouched(ctx, list, added))) return;
      const route = added.result.routes?.[0];
      if (route === undefined) ctx.notApplicable('the result reports no routes and the IPAM is not host-local-like, so no route can be asked for');
      const args = ['route', 'del', canonicalCidr(route.dst, true), ...(route.gw === undefined ? [] : ['via', route.gw]), ...(route.table === undefined ? [] : ['table', String(route.table)])];
      const removed = await added.pod.exec('ip', args).then(
        () => true,
        (error: unknown) => (error as Error).message,
      );
      ctx.require(removed === true, { ids: [], what: `the route to ${route.dst} can be removed from the container`, expected: 'removed', got: removed });
      const check = await checkWith(ctx, list, added, prevResultOf(list, added.result));
      ctx.check(!check.ok, { what: `CHECK fails after the route to ${route.dst} was removed`, expected: 'a plugin exits non-zero', got: check.answers.map(describeRun) });
    },
  });

  suite.declare({
    ids: ['CNI-CHECK-008'],
    title: 'CHECK fails when the address reservation behind the attachment is gone',
    needs: needsCheck,
    async run(ctx: Ctx) {
      const list = networkCopy(ctx);
      const stateDir = ipamStateDir(list);
      if (stateDir === undefined) ctx.notApplicable('the IPAM keeps no host-local-style store whose reservations a case can remove');
      const added = await addCheckablePod(ctx, list);
      if (!(await checkPassesUntouched(ctx, list, added))) return;
      const addresses = (added.result.ips ?? []).map((ip) => addressOf(ip.address));
      ctx.require(addresses.length > 0, { ids: [], what: 'the result reports an address', expected: 'an ips entry', got: added.result.ips ?? [] });
      // Every reservation of the attachment, so one surviving family cannot stand in for the rest.
      for (const address of addresses) {
        const file = path.join(stateDir, address);
        const removed = await fs.rm(file).then(
          () => true,
          (error: unknown) => (error as Error).message,
        );
        ctx.require(removed === true, { ids: [], what: `the reservation file ${file} exists and can be removed`, expected: 'removed', got: removed });
      }
      const check = await checkWith(ctx, list, added, prevResultOf(list, added.result));
      ctx.check(!check.ok, {
        what: `CHECK fails after the reservations of ${addresses.join(', ')} were removed from the IPAM store`,
        expected: 'a plugin exits non-zero',
        got: check.answers.map(describeRun),
      });
    },
  });
}

/** Another host address of the same subnet, not among the configured ones, for a prevResult that lies. */
function otherAddress(cidr: string, configured: readonly string[]): string | undefined {
  const [address = '', prefix = ''] = cidr.split('/');
  const ip = parseIp(address);
  if (ip === undefined) return undefined;
  const taken = new Set(configured.map((entry) => addressOf(entry.split(' ')[1] ?? '')));
  for (const step of [7n, 11n, 13n, 3n, 2n]) {
    const hostBits = BigInt((ip.family === 4 ? 32 : 128) - Number(prefix));
    const span = 1n << hostBits;
    const base = ip.value - (ip.value % span);
    const candidate = base + ((ip.value - base + step) % (span - 2n > 0n ? span - 2n : 1n)) + 1n;
    const text = formatIp({ family: ip.family, value: candidate });
    if (candidate !== ip.value && !taken.has(text)) return `${text}/${prefix}`;
  }
  return undefined;
}
