import { spawn } from 'node:child_process';
import fs from 'node:fs/promises';
import path from 'node:path';
import { buildConfig, cniEnvironment, convertResult, readCache, writeCache, type NetConfList, type RuntimeConf } from '../../specs/cni/index.js';
import type { CaseContext, Suite } from '../framework/index.js';
import { addPod, attempt, caseNamespace, caseNode, networkCopy, podRuntime, type CaseNode } from './cni-harness.js';
import type { CniSubject } from './cni-subject.js';
import {
  addressOf,
  asResult,
  attachmentScene,
  callList,
  checkAttachmentInPlace,
  checkNoLeftovers,
  describeError,
  describeRun,
  ipamStateDir,
  linkNames,
  nodeWithNeighbour,
  removePodAndSettle,
  reservationFiles,
  snapshotDiff,
  snapshotWithState,
  type Observable,
} from './observe.js';

type Ctx = CaseContext<CniSubject>;

/** Where in a measured ADD the plugin is killed, as fractions of its duration. */
const killPoints = [0.2, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9] as const;

/** Checks that CNI_IFNAME is gone from the container. */
async function checkInterfaceGone(ctx: Ctx, ids: readonly string[], pod: Observable, rt: RuntimeConf, when: string): Promise<void> {
  const links = await linkNames(pod);
  ctx.check(!links.includes(rt.ifName), { ids, what: `${when}, no ${rt.ifName} is left in the container`, expected: `no ${rt.ifName}`, got: links });
}

/** Notes what left-behind IPAM state files hold (an empty one is a reservation cut off mid-write). */
async function noteStateFiles(ctx: Ctx, list: NetConfList, files: readonly string[]): Promise<void> {
  const stateDir = ipamStateDir(list);
  if (stateDir === undefined) return;
  for (const file of files) {
    const content = await fs.readFile(path.join(stateDir, file), 'utf8').catch((error: unknown) => `(unreadable: ${(error as Error).message})`);
    ctx.note(`left-behind state file ${file} holds ${JSON.stringify(content)}`);
  }
}

/**
 * Runs the list's first plugin for ADD in the node and SIGKILLs it (with
 * whatever it started, e.g. its IPAM plugin: the whole process group, as a
 * node crash would) after `afterMs`. Resolves with how the process ended.
 */
async function addKilledAfter(
  ctx: Ctx,
  node: CaseNode,
  list: NetConfList,
  rt: RuntimeConf,
  afterMs: number,
): Promise<{ killed: boolean; exitCode: number | null; signal: NodeJS.Signals | null; durationMs: number }> {
  const plugin = list.plugins[0] ?? {};
  const pluginPath = await node.invoker.findPlugin(String(plugin['type']));
  const env = cniEnvironment({ verb: 'ADD', containerId: rt.containerId, netns: rt.netns, ifName: rt.ifName, cniPath: node.invoker.options.cniPath });
  const stdin = JSON.stringify(buildConfig(list, list.cniVersion, plugin, rt, undefined));
  const started = performance.now();
  return new Promise((resolve, reject) => {
    // nsenter execs the plugin, so the child's pid is the plugin's and, detached, leads its own process group.
    const child = spawn('nsenter', [`--net=${node.namespace.path}`, pluginPath], {
      env: { PATH: process.env['PATH'] ?? '/usr/sbin:/usr/bin:/sbin:/bin', ...env },
      stdio: ['pipe', 'ignore', 'ignore'],
      detached: true,
    });
    let killed = false;
    const timer = setTimeout(() => {
      if (child.pid === undefined || child.exitCode !== null) return;
      killed = true;
      try {
        process.kill(-child.pid, 'SIGKILL');
      } catch {
        // Already gone.
      }
    }, afterMs);
    child.once('error', (error) => {
      clearTimeout(timer);
      reject(error);
    });
    child.once('close', (exitCode, signal) => {
      clearTimeout(timer);
      const durationMs = performance.now() - started;
      ctx.recordCall({
        target: `${String(plugin['type'])} (in ${node.namespace.name}, raw, SIGKILL after ${afterMs} ms)`,
        method: 'ADD',
        request: { env, stdin },
        response: { killed, exitCode, signal },
        durationMs: Math.round(durationMs),
      });
      resolve({ killed: killed && signal === 'SIGKILL', exitCode, signal, durationMs });
    });
    child.stdin.on('error', () => {});
    child.stdin.end(stdin);
  });
}

/** Declares the DEL cases (specs/cni/SPEC.md, CNI-DEL). */
export function declareDelCases(suite: Suite<CniSubject>): void {
  suite.declare({
    ids: ['CNI-DEL-001', 'CNI-DEL-002'],
    title: 'DEL removes the container interface and everything ADD made for the attachment on the node',
    needs: { root: true, netns: true },
    async run(ctx: Ctx) {
      const { list, node, pod, rt } = await attachmentScene(ctx);
      const before = await snapshotWithState(node, list);
      const result = asResult(await addPod(ctx, node, list, rt));
      const during = await snapshotWithState(node, list);
      ctx.note(`the attachment added to the node: ${JSON.stringify({ links: during.links.filter((l) => !before.links.includes(l)), state: reservationFiles(during).filter((f) => !before.stateFiles.includes(f)) })}`);
      const del = await attempt(() => node.invoker.delNetworkList(list, rt));
      ctx.require(del.ok, { ids: [], what: 'DEL succeeds', expected: 'exit 0', got: del.ok ? 'ok' : describeError(del.error) });
      await checkInterfaceGone(ctx, ['CNI-DEL-001'], pod, rt, 'after DEL');
      checkNoLeftovers(ctx, { ids: ['CNI-DEL-002'], what: 'after DEL the node holds what it held before ADD', before, after: await snapshotWithState(node, list) });
      // The released address can be handed out again.
      const address = result?.ips?.[0]?.address;
      const stateDir = ipamStateDir(list);
      if (address !== undefined && stateDir !== undefined) {
        const after = await snapshotWithState(node, list);
        ctx.check(!reservationFiles(after).some((file) => file.endsWith(addressOf(address))), {
          ids: ['CNI-DEL-002'],
          what: `the reservation of ${address} is gone from the IPAM store`,
          expected: `no file for ${addressOf(address)}`,
          got: reservationFiles(after),
        });
      }
    },
  });

  suite.declare({
    ids: ['CNI-DEL-003', 'CNI-DEL-002'],
    title: 'DEL succeeds for an attachment that was never added or whose interface someone else removed',
    needs: { root: true, netns: true },
    async run(ctx: Ctx) {
      const list = networkCopy(ctx);
      const { node } = await nodeWithNeighbour(ctx, list);

      const never = podRuntime(ctx, await caseNamespace(ctx, 'pod'));
      const before = await snapshotWithState(node, list);
      const delNever = await attempt(() => node.invoker.delNetworkList(list, never));
      ctx.check(delNever.ok, {
        ids: ['CNI-DEL-003'],
        what: 'DEL of a container that was never added succeeds',
        expected: 'exit 0',
        got: delNever.ok ? 'ok' : describeError(delNever.error),
      });
      checkNoLeftovers(ctx, { ids: ['CNI-DEL-002'], what: 'DEL of a never-added container changes nothing on the node', before, after: await snapshotWithState(node, list) });

      const pod = await caseNamespace(ctx, 'pod');
      const rt = podRuntime(ctx, pod);
      const beforeAdd = await snapshotWithState(node, list);
      await addPod(ctx, node, list, rt);
      await pod.exec('ip', ['link', 'del', rt.ifName]);
      const delGone = await attempt(() => node.invoker.delNetworkList(list, rt));
      ctx.check(delGone.ok, {
        ids: ['CNI-DEL-003'],
        what: `DEL succeeds after ${rt.ifName} was deleted behind the plugin's back`,
        expected: 'exit 0',
        got: delGone.ok ? 'ok' : describeError(delGone.error),
      });
      checkNoLeftovers(ctx, {
        ids: ['CNI-DEL-002'],
        what: 'DEL of an attachment whose interface was already gone still releases its address and host side',
        before: beforeAdd,
        after: await snapshotWithState(node, list),
      });
    },
  });

  suite.declare({
    ids: ['CNI-DEL-004', 'CNI-DEL-001', 'CNI-DEL-002'],
    title: 'DEL of the same attachment can be repeated, with and without the cached result',
    needs: { root: true, netns: true },
    async run(ctx: Ctx) {
      const { list, node, pod, rt } = await attachmentScene(ctx);
      const before = await snapshotWithState(node, list);
      await addPod(ctx, node, list, rt);
      const cacheDir = node.invoker.options.cacheDir;
      const cached = await readCache(cacheDir, list.name, rt.containerId, rt.ifName);
      const outcomes: string[] = [];
      for (const round of ['first', 'second, same request', 'third, no cached result']) {
        // The second round repeats the first byte for byte: the cache (and so prevResult) is put back.
        if (round.startsWith('second') && cached !== undefined) await writeCache(cacheDir, cached);
        const del = await attempt(() => node.invoker.delNetworkList(list, rt));
        outcomes.push(`${round}: ${del.ok ? 'ok' : `${del.error.code} ${del.error.msg}`}`);
        ctx.check(del.ok, {
          ids: ['CNI-DEL-004'],
          what: `the ${round} DEL succeeds`,
          expected: 'exit 0',
          got: del.ok ? 'ok' : describeError(del.error),
        });
      }
      ctx.note(outcomes.join('; '));
      await checkInterfaceGone(ctx, ['CNI-DEL-001'], pod, rt, 'after repeated DEL');
      checkNoLeftovers(ctx, { ids: ['CNI-DEL-002'], what: 'after repeated DEL the node holds what it held before ADD', before, after: await snapshotWithState(node, list) });
    },
  });

  suite.declare({
    ids: ['CNI-DEL-005', 'CNI-DEL-007'],
    title: 'DEL succeeds without CNI_NETNS and still releases the address',
    needs: { root: true, netns: true },
    async run(ctx: Ctx) {
      const list = networkCopy(ctx);
      const { node } = await nodeWithNeighbour(ctx, list);
      const before = await snapshotWithState(node, list);
      for (const [how, omitEnv] of [
        ['unset', ['CNI_NETNS']],
        ['empty', []],
      ] as const) {
        // A fresh attachment each time, so the second DEL is not a repeat of the first (that is CNI-DEL-004's business).
        const rt = podRuntime(ctx, await caseNamespace(ctx, 'pod'));
        const result = asResult(await addPod(ctx, node, list, rt));
        const del = await callList(ctx, node, { list, verb: 'DEL', rt: how === 'empty' ? { ...rt, netns: '' } : rt, prevResult: result === undefined ? undefined : convertResult(result, list.cniVersion), omitEnv });
        ctx.check(del.ok, {
          ids: ['CNI-DEL-005'],
          what: `DEL with CNI_NETNS ${how} succeeds`,
          expected: 'every plugin exits 0',
          got: del.answers.map(describeRun),
        });
      }
      // The namespace still exists, so the container's veth (and with it the host end) may stay; the address may not.
      const after = await snapshotWithState(node, list);
      const leaked = reservationFiles(after).filter((file) => !before.stateFiles.includes(file));
      ctx.check(leaked.length === 0, {
        ids: ['CNI-DEL-007'],
        what: 'DEL without CNI_NETNS releases the address reservation',
        expected: 'no reservation added since before ADD',
        got: leaked,
      });
    },
  });

  suite.declare({
    ids: ['CNI-DEL-006', 'CNI-DEL-007'],
    title: 'DEL succeeds after the network namespace is deleted and still releases the address and host side',
    needs: { root: true, netns: true },
    async run(ctx: Ctx) {
      const list = networkCopy(ctx);
      const { node } = await nodeWithNeighbour(ctx, list);
      for (const netnsWhenDeleting of ['the deleted path', 'empty'] as const) {
        const before = await snapshotWithState(node, list);
        const pod = await caseNamespace(ctx, 'pod');
        const rt = podRuntime(ctx, pod);
        await addPod(ctx, node, list, rt);
        await removePodAndSettle(node, pod);
        const del = await attempt(() => node.invoker.delNetworkList(list, netnsWhenDeleting === 'empty' ? { ...rt, netns: '' } : rt));
        ctx.check(del.ok, {
          ids: netnsWhenDeleting === 'empty' ? ['CNI-DEL-006', 'CNI-DEL-005'] : ['CNI-DEL-006'],
          what: `DEL after the namespace was deleted, with CNI_NETNS ${netnsWhenDeleting}, succeeds`,
          expected: 'exit 0',
          got: del.ok ? 'ok' : describeError(del.error),
        });
        checkNoLeftovers(ctx, {
          ids: ['CNI-DEL-007'],
          what: `DEL with CNI_NETNS ${netnsWhenDeleting} after the namespace was deleted leaves the node as before ADD`,
          before,
          after: await snapshotWithState(node, list),
        });
      }
    },
  });

  suite.declare({
    ids: ['CNI-DEL-008', 'CNI-ADD-006'],
    title: 'DEL of one attachment leaves the other interface of the same container and other containers intact',
    needs: { root: true, netns: true },
    async run(ctx: Ctx) {
      const list = networkCopy(ctx);
      const node = await caseNode(ctx);
      const podA = await caseNamespace(ctx, 'poda');
      const podB = await caseNamespace(ctx, 'podb');
      const aEth0 = podRuntime(ctx, podA, 'eth0');
      const aNet1 = { ...aEth0, ifName: 'net1' };
      const bEth0 = podRuntime(ctx, podB, 'eth0');
      const kept = [
        { pod: podA, rt: aEth0, label: 'the same container\'s eth0', result: asResult(await addPod(ctx, node, list, aEth0)) },
        { pod: podB, rt: bEth0, label: 'another container\'s eth0', result: asResult(await addPod(ctx, node, list, bEth0)) },
      ];
      // A second interface in the same container is the plugin's to serve (CNI-ADD-006), not the harness's premise.
      const second = await attempt(() => addPod(ctx, node, list, aNet1));
      ctx.check(second.ok, {
        ids: ['CNI-ADD-006'],
        what: `ADD of ${aNet1.ifName} to a container that has ${aEth0.ifName} succeeds`,
        expected: 'exit 0',
        got: second.ok ? 'ok' : describeError(second.error),
      });
      // Refused: the rule is still judged on the other container, by deleting the first container's only attachment.
      const removed = second.ok ? aNet1 : aEth0;
      const survivors = second.ok ? kept : kept.slice(1);
      if (!second.ok) ctx.note(`the plugin refused a second interface in one container, so DEL of ${aEth0.ifName} is judged against the other container only`);
      const del = await attempt(() => node.invoker.delNetworkList(list, removed));
      // An independent attachment (CNI-ADD-006) can be deleted on its own.
      ctx.require(del.ok, {
        ids: second.ok ? ['CNI-ADD-006'] : ['CNI-DEL-008'],
        what: second.ok ? `DEL of ${aNet1.ifName} succeeds while ${aEth0.ifName} of the same container stays` : `DEL of the first container's ${aEth0.ifName} succeeds`,
        expected: 'exit 0',
        got: del.ok ? 'ok' : describeError(del.error),
      });
      const snapshot = await snapshotWithState(node, list);
      for (const { pod, rt, label, result } of survivors) {
        if (result === undefined) continue;
        await checkAttachmentInPlace(ctx, { pod, rt, result, label: `${label} after DEL of ${removed.ifName}`, ids: ['CNI-DEL-008'] });
        if (ipamStateDir(list) !== undefined) {
          for (const ip of result.ips ?? []) {
            ctx.check(reservationFiles(snapshot).some((file) => file.endsWith(addressOf(ip.address))), {
              ids: ['CNI-DEL-008'],
              what: `the reservation of ${label}'s ${ip.address} survives`,
              expected: `a file for ${addressOf(ip.address)}`,
              got: reservationFiles(snapshot),
            });
          }
        }
        if (ctx.subject.capabilities.has('verb.CHECK')) {
          const check = await attempt(() => node.invoker.checkNetworkList(list, rt));
          ctx.check(check.ok, {
            ids: ['CNI-DEL-008'],
            what: `CHECK of ${label} still passes`,
            expected: 'exit 0',
            got: check.ok ? 'ok' : describeError(check.error),
          });
        }
      }
    },
  });

  suite.declare({
    ids: ['CNI-DEL-009'],
    title: 'DEL without prevResult still removes the attachment',
    needs: { root: true, netns: true },
    async run(ctx: Ctx) {
      const { list, node, pod, rt } = await attachmentScene(ctx);
      const before = await snapshotWithState(node, list);
      await addPod(ctx, node, list, rt);
      const del = await callList(ctx, node, { list, verb: 'DEL', rt });
      ctx.check(del.ok, { what: 'DEL without prevResult succeeds', expected: 'every plugin exits 0', got: del.answers.map(describeRun) });
      await checkInterfaceGone(ctx, ['CNI-DEL-009'], pod, rt, 'after DEL without prevResult');
      checkNoLeftovers(ctx, { ids: ['CNI-DEL-009'], what: 'DEL without prevResult leaves the node as before ADD', before, after: await snapshotWithState(node, list) });
    },
  });

  suite.declare({
    ids: ['CNI-DEL-003', 'CNI-DEL-001', 'CNI-DEL-002'],
    title: 'DEL after the plugin was killed in the middle of ADD succeeds and leaves no link or reservation behind',
    needs: { root: true, netns: true },
    timeoutMs: 120_000,
    async run(ctx: Ctx) {
      const list = networkCopy(ctx);
      const { node } = await nodeWithNeighbour(ctx, list);
      // How long one ADD of the first plugin takes here, to spread the kills over it: the faster of two undisturbed runs.
      let fastestMs = Number.POSITIVE_INFINITY;
      for (let run = 0; run < 2; run += 1) {
        const calibrationRt = podRuntime(ctx, await caseNamespace(ctx, 'pod'));
        ctx.defer(() => node.invoker.delNetworkList(list, calibrationRt).catch(() => {}), `DEL ${calibrationRt.containerId}`);
        const measured = await addKilledAfter(ctx, node, list, calibrationRt, 60_000);
        fastestMs = Math.min(fastestMs, measured.durationMs);
        await attempt(() => node.invoker.delNetworkList(list, calibrationRt));
      }
      ctx.note(`an undisturbed ADD of ${String(list.plugins[0]?.['type'])} took ${Math.round(fastestMs)} ms; kills at ${killPoints.map((f) => Math.round(f * fastestMs)).join(', ')} ms`);

      for (const fraction of killPoints) {
        const afterMs = Math.round(fraction * fastestMs);
        const pod = await caseNamespace(ctx, 'pod');
        const rt = podRuntime(ctx, pod);
        const before = await snapshotWithState(node, list);
        ctx.defer(() => node.invoker.delNetworkList(list, rt).catch(() => {}), `DEL ${rt.containerId}`);
        const killed = await addKilledAfter(ctx, node, list, rt, afterMs);
        const label = killed.killed ? `killed after ${afterMs} ms` : `that finished (exit ${killed.exitCode}) before the kill at ${afterMs} ms`;
        const halfDone = snapshotDiff(before, await snapshotWithState(node, list)).leftBehind;
        ctx.note(`the ADD ${label} left on the node: ${halfDone.length === 0 ? 'nothing' : halfDone.join(', ')}; in the container: ${(await linkNames(pod)).join(', ')}`);
        const del = await attempt(() => node.invoker.delNetworkList(list, rt));
        ctx.check(del.ok, {
          ids: ['CNI-DEL-003'],
          what: `DEL after an ADD ${label} succeeds`,
          expected: 'exit 0',
          got: del.ok ? 'ok' : describeError(del.error),
        });
        await checkInterfaceGone(ctx, ['CNI-DEL-001'], pod, rt, `after DEL of an ADD ${label}`);
        const after = await snapshotWithState(node, list);
        if (!checkNoLeftovers(ctx, { ids: ['CNI-DEL-002'], what: `DEL of an ADD ${label} leaves the node as before`, before, after })) {
          await noteStateFiles(ctx, list, reservationFiles(after).filter((file) => !before.stateFiles.includes(file)));
        }
      }
    },
  });
}
