import type { CaseContext, Suite } from '../framework/index.js';
import { addPod, attempt, caseNamespace, caseNode, networkCopy, podRuntime } from './cni-harness.js';
import type { CniSubject } from './cni-subject.js';
import {
  asResult,
  checkAttachmentInPlace,
  checkNoLeftovers,
  checkResultHolds,
  describeError,
  ipamPlugin,
  isHostLocalLike,
  linkNames,
  listWithRoutes,
  nodeWithNeighbour,
  readLinks,
  snapshotWithState,
} from './observe.js';

type Ctx = CaseContext<CniSubject>;

/** Declares the ADD cases (specs/cni/SPEC.md, CNI-ADD). */
export function declareAddCases(suite: Suite<CniSubject>): void {
  suite.declare({
    ids: ['CNI-ADD-001', 'CNI-ADD-003', 'CNI-ADD-004'],
    title: 'ADD creates CNI_IFNAME inside CNI_NETNS and every interface and address it reports is really there',
    needs: { root: true, netns: true },
    async run(ctx: Ctx) {
      const list = networkCopy(ctx);
      const node = await caseNode(ctx);
      const pod = await caseNamespace(ctx, 'pod');
      const rt = podRuntime(ctx, pod);
      const nodeLinksBefore = await linkNames(node.namespace);
      const result = asResult(await addPod(ctx, node, list, rt));
      ctx.require(result !== undefined, { ids: [], what: 'ADD prints a result', expected: 'a result object', got: result ?? 'no result' });

      const podLinks = await linkNames(pod);
      ctx.check(podLinks.includes(rt.ifName), {
        ids: ['CNI-ADD-001'],
        what: `an interface named ${rt.ifName} exists in CNI_NETNS after ADD`,
        expected: rt.ifName,
        got: podLinks,
      });
      const nodeLinksAfter = await linkNames(node.namespace);
      ctx.check(nodeLinksBefore.includes(rt.ifName) || !nodeLinksAfter.includes(rt.ifName), {
        ids: ['CNI-ADD-001'],
        what: `no interface named ${rt.ifName} appeared in the plugin's own namespace`,
        expected: `no ${rt.ifName} on the node`,
        got: nodeLinksAfter,
      });
      // Reporting nothing makes the rules below hold trivially; the result rules judge what must be reported.
      if ((result.interfaces ?? []).length === 0) ctx.note('the result reports no interfaces');
      if (!(result.ips ?? []).some((ip) => ip.interface !== undefined && (result.interfaces?.[ip.interface]?.sandbox ?? '') !== '')) {
        ctx.note('no address of the result points at an interface inside the container');
      }
      await checkResultHolds(ctx, { node, result, label: 'after ADD', ids: { interfaces: ['CNI-ADD-003'], addresses: ['CNI-ADD-004'] } });
    },
  });

  suite.declare({
    ids: ['CNI-ADD-005'],
    title: 'ADD installs every route it reports in the container',
    needs: { root: true, netns: true },
    async run(ctx: Ctx) {
      // Routes need to be in the result to be checked; a host-local-style IPAM is asked for some.
      const list = listWithRoutes(ctx) ?? networkCopy(ctx);
      const node = await caseNode(ctx);
      const pod = await caseNamespace(ctx, 'pod');
      const result = asResult(await addPod(ctx, node, list, podRuntime(ctx, pod)));
      ctx.require(result !== undefined, { ids: [], what: 'ADD prints a result', expected: 'a result object', got: result ?? 'no result' });
      if ((result.routes ?? []).length === 0) {
        if (isHostLocalLike(list)) {
          // Not this rule's failure, but nothing left to judge it by: the requirement stays not checked.
          ctx.note(`the result reports none of the routes the IPAM section asks for (${JSON.stringify(ipamPlugin(list)?.ipam['routes'])}), so no route can be held against the container`);
          return;
        }
        ctx.notApplicable('the result reports no routes and the IPAM is not host-local-like, so no route can be asked for');
      }
      await checkResultHolds(ctx, { node, result, label: 'after ADD', ids: { routes: ['CNI-ADD-005'] }, containerNetns: pod.path });
    },
  });

  suite.declare({
    ids: ['CNI-ADD-002', 'CNI-DEL-002'],
    title: 'ADD fails when the container already has an interface named CNI_IFNAME, and its DEL leaves nothing on the node',
    needs: { root: true, netns: true },
    async run(ctx: Ctx) {
      const list = networkCopy(ctx);
      const { node } = await nodeWithNeighbour(ctx, list);

      // Someone else's interface of that name.
      const pod = await caseNamespace(ctx, 'pod');
      const rt = podRuntime(ctx, pod);
      // A veth pair rather than a dummy: some kernels here ship without the dummy module.
      await pod.exec('ip', ['link', 'add', rt.ifName, 'type', 'veth', 'peer', 'name', 'kpforeign0']);
      const before = await snapshotWithState(node, list);
      ctx.defer(() => node.invoker.delNetworkList(list, rt).catch(() => {}), `DEL ${rt.containerId}`);
      const taken = await attempt(() => node.invoker.addNetworkList(list, rt));
      ctx.check(!taken.ok, {
        ids: ['CNI-ADD-002'],
        what: `ADD into a namespace that already has a veth named ${rt.ifName} fails`,
        expected: 'an error',
        got: taken.ok ? taken.value : describeError(taken.error),
      });
      const foreign = (await readLinks(pod)).find((link) => link.name === rt.ifName && link.kind === 'veth');
      ctx.check(foreign !== undefined && (await linkNames(pod)).includes('kpforeign0'), {
        ids: ['CNI-ADD-002'],
        what: `the existing ${rt.ifName} and its peer are left as they were`,
        expected: [rt.ifName, 'kpforeign0'],
        got: await linkNames(pod),
      });
      // The runtime follows a failed ADD with DEL (CNI-RT-006); together they must leave the node as it was.
      const del = await attempt(() => node.invoker.delNetworkList(list, rt));
      ctx.note(`DEL after the failed ADD: ${del.ok ? 'succeeded' : del.error.message}`);
      checkNoLeftovers(ctx, { ids: ['CNI-DEL-002'], what: 'the failed ADD and its DEL leave the node as it was', before, after: await snapshotWithState(node, list) });

      // The same attachment added twice.
      const pod2 = await caseNamespace(ctx, 'pod');
      const rt2 = podRuntime(ctx, pod2);
      await addPod(ctx, node, list, rt2);
      const again = await attempt(() => node.invoker.addNetworkList(list, rt2));
      ctx.check(!again.ok, {
        ids: ['CNI-ADD-002'],
        what: `a second ADD of the same container and ${rt2.ifName} fails`,
        expected: 'an error',
        got: again.ok ? again.value : describeError(again.error),
      });
    },
  });

  suite.declare({
    ids: ['CNI-ADD-006'],
    title: 'One container holds two attachments of the network under different interface names',
    needs: { root: true, netns: true },
    async run(ctx: Ctx) {
      const list = networkCopy(ctx);
      const node = await caseNode(ctx);
      const pod = await caseNamespace(ctx, 'pod');
      const first = podRuntime(ctx, pod, 'eth0');
      const second = { ...first, ifName: 'net1' };
      const firstResult = asResult(await addPod(ctx, node, list, first));
      const added = await attempt(async () => asResult(await addPod(ctx, node, list, second)));
      ctx.require(added.ok && added.value !== undefined, {
        what: `ADD of the same container ID with CNI_IFNAME ${second.ifName} succeeds`,
        expected: 'a result',
        got: added.ok ? added.value ?? 'no result' : describeError(added.error),
      });
      const links = await linkNames(pod);
      ctx.check(links.includes(first.ifName) && links.includes(second.ifName), {
        what: 'both interfaces exist in the container',
        expected: [first.ifName, second.ifName],
        got: links,
      });
      const addressesOf = (result: typeof firstResult): string[] => (result?.ips ?? []).map((ip) => ip.address);
      const shared = addressesOf(firstResult).filter((address) => addressesOf(added.value).includes(address));
      ctx.check(shared.length === 0, {
        what: 'the two attachments have different addresses',
        expected: 'no address in both results',
        got: { [first.ifName]: addressesOf(firstResult), [second.ifName]: addressesOf(added.value) },
      });
      await checkAttachmentInPlace(ctx, { pod, rt: first, result: firstResult, label: `${first.ifName} after adding ${second.ifName}`, ids: ['CNI-ADD-006'] });
      await checkAttachmentInPlace(ctx, { pod, rt: second, result: added.value, label: second.ifName, ids: ['CNI-ADD-006'] });
    },
  });
}
