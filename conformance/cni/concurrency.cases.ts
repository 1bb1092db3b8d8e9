import type { NetConfList, RuntimeConf } from '../../specs/cni/index.js';
import type { CaseContext, Suite } from '../framework/index.js';
import { attempt, caseNamespace, caseNode, networkCopy, podRuntime, type CaseNode } from './cni-harness.js';
import type { CniSubject } from './cni-subject.js';
import {
  addressOf,
  asResult,
  assignableAddresses,
  canonicalCidr,
  describeError,
  ipamPlugin,
  isHostLocalLike,
  readAddresses,
  snapshotDiff,
  snapshotWithState,
  type AddressRange,
} from './observe.js';

type Ctx = CaseContext<CniSubject>;

/** How many containers ADD at once. */
const parallelAdds = 100;

/**
 * How many attachments the pool takes before it is empty: for a
 * host-local-style IPAM, the smallest range set (every attachment takes one
 * address of each set); unknown otherwise.
 */
function poolSize(list: NetConfList, cap: number): number | undefined {
  const found = isHostLocalLike(list) ? ipamPlugin(list) : undefined;
  if (found === undefined) return undefined;
  const ranges = found.ipam['ranges'];
  const sets: AddressRange[][] = Array.isArray(ranges) ? (ranges as AddressRange[][]) : typeof found.ipam['subnet'] === 'string' ? [[found.ipam as unknown as AddressRange]] : [];
  if (sets.length === 0) return undefined;
  return Math.min(...sets.map((set) => set.reduce((sum, range) => sum + assignableAddresses(range, cap).length, 0)));
}

/** Runs one call per item, all at once, and returns every outcome. */
function allAtOnce<T, R>(items: readonly T[], call: (item: T) => Promise<R>): Promise<Awaited<ReturnType<typeof attempt<R>>>[]> {
  return Promise.all(items.map((item) => attempt(() => call(item))));
}

/** Declares the concurrency cases (specs/cni/SPEC.md, CNI-PROTO-014). */
export function declareConcurrencyCases(suite: Suite<CniSubject>): void {
  suite.declare({
    ids: ['CNI-PROTO-014'],
    title: 'ADDs, CHECKs and DELs for 100 containers at once all succeed with distinct addresses and leave the node as one lifecycle does',
    needs: { root: true, netns: true },
    timeoutMs: 600_000,
    async run(ctx: Ctx) {
      const list = networkCopy(ctx);
      const pool = poolSize(list, parallelAdds);
      const count = Math.min(parallelAdds, pool ?? parallelAdds);
      ctx.note(`${count} containers at once (address pool: ${pool === undefined ? 'unknown, not host-local-like' : pool >= parallelAdds ? `${parallelAdds} or more` : pool})`);

      // What one attachment's ADD and DEL leave behind on a node of their own: what attachments share (a bridge).
      const reference = await caseNode(ctx, 'refnode');
      const referenceBefore = await snapshotWithState(reference, list);
      const referencePod = await caseNamespace(ctx, 'refpod');
      const referenceRt = podRuntime(ctx, referencePod);
      ctx.defer(() => reference.invoker.delNetworkList(list, referenceRt).catch(() => {}), `DEL ${referenceRt.containerId}`);
      const referenceAdd = await attempt(() => reference.invoker.addNetworkList(list, referenceRt));
      ctx.require(referenceAdd.ok, { ids: [], what: 'one ADD on a node of its own succeeds', expected: 'a result', got: referenceAdd.ok ? 'ok' : describeError(referenceAdd.error) });
      await reference.invoker.delNetworkList(list, referenceRt);
      const shared = snapshotDiff(referenceBefore, await snapshotWithState(reference, list)).leftBehind;
      ctx.note(`one lifecycle leaves: ${shared.length === 0 ? 'nothing' : shared.join(', ')}`);

      const node = await caseNode(ctx);
      const before = await snapshotWithState(node, list);
      const pods = await Promise.all(Array.from({ length: count }, () => caseNamespace(ctx, 'cc')));
      const runtimes = pods.map((pod) => podRuntime(ctx, pod));
      const remaining = new Set(runtimes);
      // One cleanup for all, registered before any ADD: DEL whatever was not deleted yet, all at once.
      ctx.defer(() => delAll(node, list, [...remaining]), `DEL of ${count} containers`);

      const added = await allAtOnce(runtimes, (rt) => node.invoker.addNetworkList(list, rt));
      const failures = added.flatMap((outcome, index) => (outcome.ok ? [] : [`${runtimes[index]?.containerId}: ${JSON.stringify(describeError(outcome.error))}`]));
      ctx.check(failures.length === 0, { what: `all ${count} ADDs at once succeed`, expected: `${count} results`, got: failures.length === 0 ? 'all succeeded' : failures.slice(0, 10) });
      const addresses = added.flatMap((outcome) => (outcome.ok ? (asResult(outcome.value)?.ips ?? []).map((ip) => addressOf(ip.address)) : []));
      const duplicates = addresses.filter((address, index) => addresses.indexOf(address) !== index);
      ctx.check(duplicates.length === 0, { what: 'no two containers got the same address', expected: 'distinct addresses', got: duplicates.length === 0 ? `${addresses.length} distinct` : duplicates });

      const missing: string[] = [];
      await Promise.all(
        added.map(async (outcome, index) => {
          const result = outcome.ok ? asResult(outcome.value) : undefined;
          const pod = pods[index];
          if (result === undefined || pod === undefined) return;
          const present = (await readAddresses(pod)).map((entry) => entry.split(' ')[1] ?? '');
          for (const ip of result.ips ?? []) if (!present.includes(canonicalCidr(ip.address, false))) missing.push(`${pod.name}: ${ip.address}`);
        }),
      );
      ctx.check(missing.length === 0, { what: 'every container has the address its result reports', expected: 'all configured', got: missing.length === 0 ? 'all configured' : missing.slice(0, 10) });

      if (ctx.subject.capabilities.has('verb.CHECK')) {
        const checked = await allAtOnce(runtimes, (rt) => node.invoker.checkNetworkList(list, rt));
        const checkFailures = checked.flatMap((outcome, index) => (outcome.ok ? [] : [`${runtimes[index]?.containerId}: ${JSON.stringify(describeError(outcome.error))}`]));
        ctx.check(checkFailures.length === 0, { what: `all ${count} CHECKs at once pass`, expected: 'exit 0 each', got: checkFailures.length === 0 ? 'all passed' : checkFailures.slice(0, 10) });
      }

      const deleted = await allAtOnce(runtimes, (rt) => node.invoker.delNetworkList(list, rt));
      deleted.forEach((outcome, index) => {
        const rt = runtimes[index];
        if (outcome.ok && rt !== undefined) remaining.delete(rt);
      });
      const delFailures = deleted.flatMap((outcome, index) => (outcome.ok ? [] : [`${runtimes[index]?.containerId}: ${JSON.stringify(describeError(outcome.error))}`]));
      ctx.check(delFailures.length === 0, { what: `all ${count} DELs at once succeed`, expected: 'exit 0 each', got: delFailures.length === 0 ? 'all succeeded' : delFailures.slice(0, 10) });

      const diff = snapshotDiff(before, await snapshotWithState(node, list));
      const leftBehind = diff.leftBehind.filter((item) => !shared.includes(item));
      ctx.check(leftBehind.length === 0 && diff.removed.length === 0, {
        what: `after ${count} concurrent lifecycles the node holds only what one lifecycle leaves (state files back to the start)`,
        expected: shared.length === 0 ? 'nothing new' : `at most: ${shared.join(', ')}`,
        got: leftBehind.length === 0 && diff.removed.length === 0 ? 'as expected' : { leftBehind, removed: diff.removed },
      });
    },
  });
}

async function delAll(node: CaseNode, list: NetConfList, runtimes: readonly RuntimeConf[]): Promise<void> {
  await Promise.all(runtimes.map((rt) => node.invoker.delNetworkList(list, rt).catch(() => {})));
}
