import fs from 'node:fs';
import { NamespaceMode } from '../../specs/cri/index.js';
import type { CaseContext, Suite } from '../framework/index.js';
import { sandboxStatus } from './cri-observe.js';
import type { CriSubject } from './cri-subject.js';
import { markedSleeper, processesAppear, processMarker } from './node-processes.js';
import { ownNamespace } from './node-network.js';
import { runTestPod, shellOutput, startTestContainer } from './pod-fixtures.js';

type Ctx = CaseContext<CriSubject>;

/** Whether any process the container sees has `marker` on its command line. */
async function seesMarker(ctx: Ctx, containerId: string, marker: string): Promise<boolean> {
  // The pattern must not equal the marker: grep runs beside cat in the pipeline, and a grep whose argument were the
  // marker itself could be listed among the processes and be counted as the marked one (seen once on containerd).
  const pattern = `[${marker.slice(0, 1)}]${marker.slice(1)}`;
  const output = await shellOutput(ctx, containerId, `cat /proc/[0-9]*/cmdline 2>/dev/null | tr '\\0' '\\n' | grep -c -x '${pattern}' || true`);
  return Number(output.trim()) > 0;
}

function modeName(mode: NamespaceMode | undefined): string {
  return mode === undefined ? 'absent' : (NamespaceMode[mode] ?? String(mode));
}

/** Declares the namespace sharing and cgroup parent cases. */
export function declareSandboxNamespaceCases(suite: Suite<CriSubject>): void {
  suite.declare({
    ids: ['CRI-SANDBOX-015'],
    title: "Containers of a sandbox share its IPC namespace, and the node's with IPC mode NODE",
    timeoutMs: 60_000,
    async run(ctx: Ctx) {
      const pod = await runTestPod(ctx);
      const first = await startTestContainer(ctx, pod);
      const second = await startTestContainer(ctx, pod);
      const [a, b] = [await shellOutput(ctx, first.id, 'readlink /proc/self/ns/ipc'), await shellOutput(ctx, second.id, 'readlink /proc/self/ns/ipc')];
      ctx.check(a.trim() === b.trim() && a.trim() !== ownNamespace('ipc'), { what: 'with IPC mode POD both containers are in one IPC namespace, not the node\'s', expected: `equal, not ${ownNamespace('ipc')}`, got: [a.trim(), b.trim()] });
      const hostPod = await runTestPod(ctx, { namespaces: { ipc: NamespaceMode.NODE } });
      const hostIpc = await startTestContainer(ctx, hostPod);
      const c = await shellOutput(ctx, hostIpc.id, 'readlink /proc/self/ns/ipc');
      ctx.check(c.trim() === ownNamespace('ipc'), { what: "with IPC mode NODE the container is in the node's IPC namespace", expected: ownNamespace('ipc'), got: c.trim() });
    },
  });

  suite.declare({
    ids: ['CRI-SANDBOX-018'],
    title: 'With PID mode POD a container sees the processes of the other containers of the sandbox',
    async run(ctx: Ctx) {
      const pod = await runTestPod(ctx, { namespaces: { pid: NamespaceMode.POD } });
      const marker = processMarker();
      await startTestContainer(ctx, pod, { command: markedSleeper(marker) });
      const observer = await startTestContainer(ctx, pod);
      const seen = await seesMarker(ctx, observer.id, marker);
      ctx.check(seen, { what: "the second container sees the first container's process", expected: `a process with ${marker}`, got: seen ? 'seen' : 'not seen' });
    },
  });

  suite.declare({
    ids: ['CRI-SANDBOX-019'],
    title: "With PID mode CONTAINER a container's first process is PID 1 and it sees no other container's processes",
    async run(ctx: Ctx) {
      const pod = await runTestPod(ctx, { namespaces: { pid: NamespaceMode.CONTAINER } });
      const marker = processMarker();
      const first = await startTestContainer(ctx, pod, { command: markedSleeper(marker) });
      const other = await startTestContainer(ctx, pod);
      const init = await shellOutput(ctx, first.id, "tr '\\0' ' ' < /proc/1/cmdline");
      ctx.check(init.includes(marker), { what: "PID 1 of the container's namespace is its own first process", expected: `a command line with ${marker}`, got: init });
      const seen = await seesMarker(ctx, other.id, marker);
      ctx.check(!seen, { what: "another container of the sandbox does not see the first container's process", expected: 'not seen', got: seen ? 'seen' : 'not seen' });
    },
  });

  suite.declare({
    ids: ['CRI-SANDBOX-020'],
    title: "With PID mode NODE the container shares the node's PID namespace",
    async run(ctx: Ctx) {
      const pod = await runTestPod(ctx, { namespaces: { pid: NamespaceMode.NODE } });
      const container = await startTestContainer(ctx, pod);
      const inside = await shellOutput(ctx, container.id, 'readlink /proc/self/ns/pid');
      ctx.check(inside.trim() === ownNamespace('pid'), { what: "the container's PID namespace is the node's", expected: ownNamespace('pid'), got: inside.trim() });
    },
  });

  suite.declare({
    ids: ['CRI-SANDBOX-027'],
    title: "A container's cgroups lie under the sandbox's cgroup parent",
    needs: { root: true },
    async run(ctx: Ctx) {
      const pod = await runTestPod(ctx);
      const marker = processMarker();
      await startTestContainer(ctx, pod, { command: markedSleeper(marker) });
      const [pid] = await processesAppear(marker);
      ctx.require(pid !== undefined, { ids: [], what: "the container's process is visible on the node", expected: `a process with ${marker}`, got: 'none (is the suite on the runtime\'s node?)' });
      const lines = fs.readFileSync(`/proc/${pid}/cgroup`, 'utf8').trim().split('\n');
      const parent = ctx.subject.run.cgroupParent;
      const under = (cgroupPath: string): boolean => (parent.startsWith('/') ? cgroupPath.startsWith(`${parent.replace(/\/$/, '')}/`) : cgroupPath.includes(`/${parent}/`));
      const paths = lines.map((line) => line.split(':').slice(2).join(':'));
      ctx.check(paths.length > 0 && paths.every(under), { what: `every cgroup of the container's process lies under ${parent}`, expected: `${parent}/…`, got: lines });
    },
  });

  suite.declare({
    ids: ['CRI-SANDBOX-031'],
    title: 'PodSandboxStatus reports the network, PID and IPC modes the sandbox runs with',
    async run(ctx: Ctx) {
      for (const modes of [
        { network: NamespaceMode.POD, pid: NamespaceMode.POD, ipc: NamespaceMode.POD },
        { network: NamespaceMode.NODE, pid: NamespaceMode.CONTAINER, ipc: NamespaceMode.NODE },
      ]) {
        const pod = await runTestPod(ctx, { namespaces: modes });
        const status = await sandboxStatus(ctx, pod.id);
        const options = status.linux?.namespaces?.options;
        const got = { network: modeName(options?.network), pid: modeName(options?.pid), ipc: modeName(options?.ipc) };
        const expected = { network: modeName(modes.network), pid: modeName(modes.pid), ipc: modeName(modes.ipc) };
        ctx.check(JSON.stringify(got) === JSON.stringify(expected), { what: `status.linux.namespaces.options reports network ${expected.network}, pid ${expected.pid}, ipc ${expected.ipc}`, expected, got: options ?? 'absent' });
      }
    },
  });
}
