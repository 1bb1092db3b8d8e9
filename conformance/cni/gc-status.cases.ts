import type { Attachment, NetConfList } from '../../specs/cni/index.js';
import type { CaseContext, Suite } from '../framework/index.js';
import { addPod, attempt, caseNamespace, caseNode, networkCopy, podRuntime, type CaseNode } from './cni-harness.js';
import type { CniSubject } from './cni-subject.js';
import {
  addressOf,
  addressRanges,
  asResult,
  assignableAddresses,
  callList,
  checkAttachmentInPlace,
  describeError,
  describeRun,
  ipamPlugin,
  isHostLocalLike,
  namespaceAt,
  nodeWithNeighbour,
  removePodAndSettle,
  reservationFiles,
  snapshotDiff,
  snapshotWithState,
  type RawAnswer,
} from './observe.js';

type Ctx = CaseContext<CniSubject>;

/** GC of every plugin of the list with nothing but CNI_COMMAND and CNI_PATH set, as libcni sends it. */
function gcList(ctx: Ctx, node: CaseNode, list: NetConfList, valid: readonly Attachment[]): Promise<{ ok: boolean; answers: RawAnswer[] }> {
  return callList(ctx, node, { list, verb: 'GC', extraConf: { 'cni.dev/valid-attachments': valid } });
}

/** STATUS of every plugin of the list, with nothing but CNI_COMMAND and CNI_PATH set. */
function statusList(ctx: Ctx, node: CaseNode, list: NetConfList): Promise<{ ok: boolean; answers: RawAnswer[] }> {
  return callList(ctx, node, { list, verb: 'STATUS' });
}

/** Whether stdout holds an error object: a JSON object with a numeric code and a message. */
function errorObject(answer: RawAnswer): { code: number; msg: string } | undefined {
  const json = answer.json as { code?: unknown; msg?: unknown } | undefined;
  return json !== undefined && json !== null && typeof json.code === 'number' && typeof json.msg === 'string' ? { code: json.code, msg: json.msg } : undefined;
}

/** Declares the GC and STATUS cases (specs/cni/SPEC.md, CNI-GC and CNI-STATUS). */
export function declareGcStatusCases(suite: Suite<CniSubject>): void {
  suite.declare({
    ids: ['CNI-GC-001', 'CNI-GC-002', 'CNI-GC-003', 'CNI-GC-005', 'CNI-GC-007'],
    title: 'GC with only CNI_COMMAND and CNI_PATH keeps the valid attachment, releases the stale one and prints nothing',
    needs: { root: true, netns: true, capabilities: ['verb.GC'] },
    async run(ctx: Ctx) {
      const list = networkCopy(ctx);
      const { node, neighbour: valid, neighbourResult: validResult } = await nodeWithNeighbour(ctx, list);
      const before = await snapshotWithState(node, list);
      const stalePod = await caseNamespace(ctx, 'stale');
      const stale = podRuntime(ctx, stalePod);
      const staleResult = asResult(await addPod(ctx, node, list, stale));
      // The container is gone without a DEL: only GC can release what it held.
      await removePodAndSettle(node, stalePod);

      const gc = await gcList(ctx, node, list, [{ containerID: valid.containerId, ifname: valid.ifName }]);
      ctx.check(gc.ok, { ids: ['CNI-GC-001', 'CNI-GC-005'], what: 'GC with only CNI_COMMAND and CNI_PATH succeeds', expected: 'every plugin exits 0', got: gc.answers.map(describeRun) });
      for (const answer of gc.answers.filter((candidate) => candidate.ok)) {
        ctx.check(answer.run.stdout.trim() === '', { ids: ['CNI-GC-007'], what: `${answer.type} prints nothing on a successful GC`, expected: '', got: answer.run.stdout.slice(0, 500) });
      }

      if (validResult !== undefined) {
        await checkAttachmentInPlace(ctx, { pod: namespaceAt(valid.netns), rt: valid, result: validResult, label: 'the valid attachment after GC', ids: ['CNI-GC-002'] });
      }
      const after = await snapshotWithState(node, list);
      if (isHostLocalLike(list)) {
        for (const ip of validResult?.ips ?? []) {
          ctx.check(reservationFiles(after).some((file) => file.endsWith(addressOf(ip.address))), {
            ids: ['CNI-GC-002'],
            what: `the valid attachment's reservation of ${ip.address} survives GC`,
            expected: `a file for ${addressOf(ip.address)}`,
            got: reservationFiles(after),
          });
        }
        for (const ip of staleResult?.ips ?? []) {
          ctx.check(!reservationFiles(after).some((file) => file.endsWith(addressOf(ip.address))), {
            ids: ['CNI-GC-003'],
            what: `the stale attachment's reservation of ${ip.address} is released`,
            expected: `no file for ${addressOf(ip.address)}`,
            got: reservationFiles(after),
          });
        }
      }
      const diff = snapshotDiff(before, after);
      ctx.check(diff.leftBehind.length === 0, {
        ids: ['CNI-GC-003'],
        what: 'after GC the node holds nothing more of the stale attachment',
        expected: 'no link, address, rule or reservation added since before its ADD',
        got: diff.leftBehind,
      });
      ctx.check(diff.removed.length === 0, {
        ids: ['CNI-GC-002'],
        what: 'GC removed nothing the node held before the stale attachment',
        expected: 'nothing removed',
        got: diff.removed,
      });
      if (ctx.subject.capabilities.has('verb.CHECK')) {
        const check = await attempt(() => node.invoker.checkNetworkList(list, valid));
        ctx.check(check.ok, {
          ids: ['CNI-GC-002'],
          what: 'CHECK of the valid attachment still passes after GC',
          expected: 'exit 0',
          got: check.ok ? 'ok' : describeError(check.error),
        });
      }
    },
  });

  suite.declare({
    ids: ['CNI-STATUS-001', 'CNI-STATUS-002'],
    title: 'STATUS without attachment parameters passes for a plugin ready to serve ADD',
    needs: { root: true, netns: true, capabilities: ['verb.STATUS'] },
    async run(ctx: Ctx) {
      const list = networkCopy(ctx);
      const node = await caseNode(ctx);
      const status = await statusList(ctx, node, list);
      ctx.check(status.ok, { what: 'STATUS with only CNI_COMMAND and CNI_PATH succeeds on a fresh network', expected: 'every plugin exits 0', got: status.answers.map(describeRun) });
      // Ready means ADD works: show it, so a passing STATUS is not taken on faith.
      const pod = await caseNamespace(ctx, 'pod');
      const add = await attempt(() => addPod(ctx, node, list, podRuntime(ctx, pod)));
      ctx.note(`ADD after STATUS: ${add.ok ? 'succeeded' : add.error.message}`);
    },
  });

  suite.declare({
    ids: ['CNI-STATUS-003'],
    title: 'STATUS fails with an error object when the IPAM plugin ADD needs is missing',
    needs: { root: true, netns: true, capabilities: ['verb.STATUS'] },
    async run(ctx: Ctx) {
      const list = networkCopy(ctx);
      const found = ipamPlugin(list);
      if (found === undefined) ctx.notApplicable('no plugin of the configuration has an ipam section, so no missing dependency can be arranged');
      found.ipam['type'] = 'kubeplug-no-such-ipam';
      const node = await caseNode(ctx);
      const pod = await caseNamespace(ctx, 'pod');
      const add = await attempt(() => addPod(ctx, node, list, podRuntime(ctx, pod)));
      ctx.require(!add.ok, { ids: [], what: 'ADD cannot succeed with the IPAM plugin missing', expected: 'ADD fails', got: add.ok ? add.value : 'failed' });
      const status = await statusList(ctx, node, list);
      const failed = status.answers.find((answer) => !answer.ok);
      ctx.check(failed !== undefined && errorObject(failed) !== undefined, {
        what: `STATUS fails with an error object on stdout while ipam.type names a plugin that is not on CNI_PATH`,
        expected: 'a non-zero exit and {"code": <number>, "msg": <string>}',
        got: status.answers.map(describeRun),
      });
    },
  });

  suite.declare({
    ids: ['CNI-STATUS-005', 'CNI-STATUS-006', 'CNI-STATUS-003'],
    title: 'STATUS fails with code 50 or 51 once every address of the range is taken',
    needs: { root: true, netns: true, capabilities: ['verb.STATUS'] },
    async run(ctx: Ctx) {
      const list = networkCopy(ctx);
      const found = isHostLocalLike(list) ? ipamPlugin(list) : undefined;
      const range = found === undefined ? undefined : addressRanges(found.ipam)[0];
      const only = range === undefined ? undefined : assignableAddresses(range, 1)[0];
      if (found === undefined || range === undefined || only === undefined) ctx.notApplicable('the IPAM is not host-local-like, so its pool cannot be shrunk to one address');
      // One range set holding a single address, so one attachment exhausts the pool.
      found.ipam['ranges'] = [[{ subnet: range.subnet, rangeStart: only, rangeEnd: only, ...(range.gateway === undefined ? {} : { gateway: range.gateway }) }]];
      delete found.ipam['subnet'];
      const node = await caseNode(ctx);
      const first = await attempt(async () => addPod(ctx, node, list, podRuntime(ctx, await caseNamespace(ctx, 'pod'))));
      ctx.require(first.ok, { ids: [], what: `ADD takes the one address ${only}`, expected: 'a result', got: first.ok ? first.value : describeError(first.error) });
      const second = await attempt(async () => addPod(ctx, node, list, podRuntime(ctx, await caseNamespace(ctx, 'pod'))));
      ctx.require(!second.ok, { ids: [], what: 'a second ADD fails: the pool is exhausted', expected: 'ADD fails', got: second.ok ? second.value : 'failed' });
      const status = await statusList(ctx, node, list);
      const failed = status.answers.find((answer) => !answer.ok);
      ctx.check(failed !== undefined, { ids: ['CNI-STATUS-005'], what: 'STATUS fails while no address is left', expected: 'a non-zero exit', got: status.answers.map(describeRun) });
      if (failed === undefined) return;
      const error = errorObject(failed);
      ctx.check(error !== undefined, { ids: ['CNI-STATUS-003'], what: 'the failing STATUS prints an error object', expected: '{"code": <number>, "msg": <string>}', got: describeRun(failed) });
      ctx.check(error?.code === 50 || error?.code === 51, { ids: ['CNI-STATUS-006'], what: 'the failing STATUS says code 50 or 51', expected: [50, 51], got: error?.code ?? describeRun(failed) });
    },
  });

  suite.declare({
    ids: ['CNI-STATUS-007'],
    title: 'ADD, CHECK, GC and DEL work the same whether or not STATUS ran first',
    needs: { root: true, netns: true, capabilities: ['verb.STATUS'] },
    async run(ctx: Ctx) {
      const list = networkCopy(ctx);
      const node = await caseNode(ctx);
      for (const statusFirst of [false, true]) {
        const label = statusFirst ? 'after STATUS' : 'without STATUS ever called';
        if (statusFirst) await statusList(ctx, node, list);
        const rt = podRuntime(ctx, await caseNamespace(ctx, 'pod'));
        const steps: [string, () => Promise<unknown>][] = [
          ['ADD', () => addPod(ctx, node, list, rt)],
          ...(ctx.subject.capabilities.has('verb.CHECK') ? ([['CHECK', () => node.invoker.checkNetworkList(list, rt)]] as [string, () => Promise<unknown>][]) : []),
          [
            'GC',
            async () => {
              const gc = await gcList(ctx, node, list, [{ containerID: rt.containerId, ifname: rt.ifName }]);
              if (!gc.ok) throw new Error(JSON.stringify(gc.answers.map(describeRun)));
            },
          ],
          ['DEL', () => node.invoker.delNetworkList(list, rt)],
        ];
        for (const [verb, step] of steps) {
          const outcome = await attempt(step);
          ctx.check(outcome.ok, { what: `${verb} ${label} succeeds`, expected: 'exit 0', got: outcome.ok ? 'ok' : describeError(outcome.error) });
        }
      }
    },
  });
}
