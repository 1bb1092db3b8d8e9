/**
 * The pod sandbox (KUBELET-SANDBOX): one per pod, made before its
 * containers and shared by them (network, IPC, UTS, volumes), kept across
 * container restarts and replaced when it dies. Judged from the CRI call log
 * and from inside the containers (through the runtime's ExecSync), as
 * upstream's node e2e tests judge the real kubelet
 * (kubernetes/kubernetes v1.36.3 test/e2e/common/node/pods.go,
 * test/e2e/common/storage/empty_dir.go, host_path.go).
 */
import fs from 'node:fs';
import path from 'node:path';
import type { CaseContext, Suite } from '../framework/index.js';
import type { Container, Pod } from '../../kubelet/api/pod-types.js';
import type { KubeletSubject } from './kubelet-subject.js';
import {
  awaitPod,
  budgetMs,
  callsOf,
  callsView,
  httpServerScript,
  isRunning,
  lifecycleCalls,
  pause,
  podCalls,
  podNamed,
  podView,
  restartCount,
  shellContainer,
  sleeperContainer,
  testPod,
  withManifest,
  type PodCall,
} from './pod-manifests.js';

type Ctx = CaseContext<KubeletSubject>;

/** Whether every app container of the pod runs. */
function allRunning(pod: Pod): boolean {
  return pod.spec.containers.every((container) => isRunning(pod, container.name));
}

/** Runs a command in a container, retrying while it fails (a server may still be starting); returns the last result. */
async function execUntil(ctx: Ctx, podName: string, container: string, command: readonly string[], accept: (stdout: string) => boolean, timeoutMs: number) {
  const until = Date.now() + timeoutMs;
  let last: { exitCode: number; stdout: string; stderr: string } = { exitCode: -1, stdout: '', stderr: 'not run' };
  while (!ctx.signal.aborted) {
    try {
      last = await ctx.subject.exec(podName, container, command);
      if (last.exitCode === 0 && accept(last.stdout)) return last;
    } catch (error) {
      last = { exitCode: -1, stdout: '', stderr: (error as Error).message };
    }
    if (Date.now() > until) break;
    await pause(ctx, 300);
  }
  return last;
}

/** A nested field of a recorded message. */
function field(value: unknown, ...keys: string[]): unknown {
  let current = value;
  for (const key of keys) {
    if (current === null || typeof current !== 'object') return undefined;
    current = (current as Record<string, unknown>)[key];
  }
  return current;
}

/** The sandbox IDs RunPodSandbox returned for the pod, in order. */
function sandboxIdsOf(calls: readonly PodCall[]): string[] {
  return callsOf(calls, 'RunPodSandbox').flatMap((call) => (call.sandboxId === undefined ? [] : [call.sandboxId]));
}

/** Files under `dir` (recursively) whose name is `name`; symlinks are not followed. */
function findNamed(dir: string, name: string): string[] {
  let entries: fs.Dirent[];
  try {
    entries = fs.readdirSync(dir, { withFileTypes: true });
  } catch {
    return [];
  }
  return entries.flatMap((entry) => {
    const full = path.join(dir, entry.name);
    if (entry.name === name) return [full];
    return entry.isDirectory() ? findNamed(full, name) : [];
  });
}

/** Declares the sandbox cases. */
export function declareSandboxCases(suite: Suite<KubeletSubject>): void {
  suite.declare({
    ids: ['KUBELET-SANDBOX-001', 'KUBELET-PLUGIN-002'],
    title: 'A pod gets exactly one sandbox, created before any of its containers, and every container (init and app) is created in it with the sandbox config RunPodSandbox got',
    timeoutMs: 60_000,
    async run(ctx: Ctx) {
      const { subject } = ctx;
      const pod = testPod(ctx, 'one-sandbox', {
        initContainers: [shellContainer(subject, 'init', 'true')],
        containers: [sleeperContainer(subject, 'first'), sleeperContainer(subject, 'second')],
      });
      await withManifest(ctx, pod);
      const seen = await awaitPod(ctx, pod, 'the pod runs', allRunning, { timeoutMs: budgetMs(subject, 20) });
      const calls = podCalls(subject, seen.metadata.uid);
      const runs = callsOf(calls, 'RunPodSandbox').filter((call) => !call.failed);
      const creates = callsOf(calls, 'CreateContainer');
      const [run] = runs;
      ctx.check(runs.length === 1, { ids: ['KUBELET-SANDBOX-001'], what: 'exactly one RunPodSandbox for the pod', expected: 1, got: callsView(lifecycleCalls(calls)) });
      ctx.check(
        run !== undefined && creates.length === 3 && creates.every((create) => create.sandboxId === run.sandboxId),
        {
          ids: ['KUBELET-SANDBOX-001', 'KUBELET-PLUGIN-002'],
          what: 'every CreateContainer (init, first, second) names that sandbox',
          expected: { sandbox: run?.sandboxId ?? 'a sandbox', containers: ['init', 'first', 'second'] },
          got: creates.map((create) => ({ container: create.container, podSandboxId: create.sandboxId })),
        },
      );
      ctx.check(run !== undefined && creates.length > 0 && creates.every((create) => create.startedAt >= run.endedAt && create.call.seq > run.call.seq), {
        ids: ['KUBELET-SANDBOX-001', 'KUBELET-PLUGIN-002'],
        what: 'RunPodSandbox returned before the first CreateContainer',
        expected: 'RunPodSandbox, then CreateContainer…',
        got: callsView(lifecycleCalls(calls)),
      });
      const sandboxConfig = run === undefined ? undefined : field(run.call.request, 'config');
      const pick = (config: unknown): unknown => ({
        metadata: field(config, 'metadata'),
        hostname: field(config, 'hostname'),
        logDirectory: field(config, 'logDirectory'),
        namespaceOptions: field(config, 'linux', 'securityContext', 'namespaceOptions'),
      });
      const mismatched = creates.filter((create) => JSON.stringify(pick(field(create.call.request, 'sandboxConfig'))) !== JSON.stringify(pick(sandboxConfig)));
      ctx.check(sandboxConfig !== undefined && creates.length > 0 && mismatched.length === 0, {
        ids: ['KUBELET-PLUGIN-002'],
        what: 'each CreateContainer passes the sandbox config RunPodSandbox got (metadata, hostname, log directory, namespace options)',
        expected: pick(sandboxConfig),
        got: mismatched.map((create) => ({ container: create.container, sandboxConfig: pick(field(create.call.request, 'sandboxConfig')) })),
      });
    },
  });

  suite.declare({
    ids: ['KUBELET-SANDBOX-002'],
    title: 'Containers of a pod share its network namespace: one reaches a server in the other on localhost',
    timeoutMs: 60_000,
    async run(ctx: Ctx) {
      const { subject } = ctx;
      const pod = testPod(ctx, 'localhost', {
        containers: [shellContainer(subject, 'server', httpServerScript(8080)), sleeperContainer(subject, 'client')],
      });
      await withManifest(ctx, pod);
      await awaitPod(ctx, pod, 'the pod runs', allRunning, { timeoutMs: budgetMs(subject, 20) });
      // Through nc, not wget: Debian's static busybox wget crashes (SIGSEGV) even on a loopback address.
      const fetch = ['sh', '-c', "printf 'GET /index.html HTTP/1.0\\r\\n\\r\\n' | nc -w 2 127.0.0.1 8080"];
      const answer = await execUntil(ctx, pod.name, 'client', fetch, (out) => /^HTTP\/1\.[01] 200/.test(out) && out.trim().endsWith('ok'), 10_000);
      ctx.check(answer.exitCode === 0 && /^HTTP\/1\.[01] 200/.test(answer.stdout) && answer.stdout.trim().endsWith('ok'), {
        what: 'the client container fetched http://127.0.0.1:8080/index.html served by the server container',
        expected: { exitCode: 0, stdout: 'HTTP 200 … ok' },
        got: answer,
      });
    },
  });

  suite.declare({
    ids: ['KUBELET-SANDBOX-003'],
    title: "Containers of a pod share IPC and UTS namespaces, and their hostname is the pod's name, or spec.hostname when set",
    timeoutMs: 60_000,
    async run(ctx: Ctx) {
      const { subject } = ctx;
      const plain = testPod(ctx, 'uts', { containers: [sleeperContainer(subject, 'one'), sleeperContainer(subject, 'two')] });
      const named = testPod(ctx, 'uts-named', { hostname: 'kp-chosen-host', containers: [sleeperContainer(subject, 'one')] });
      await withManifest(ctx, plain);
      await withManifest(ctx, named);
      await awaitPod(ctx, plain, 'the pod runs', allRunning, { timeoutMs: budgetMs(subject, 20) });
      await awaitPod(ctx, named, 'the pod with spec.hostname runs', allRunning, { timeoutMs: budgetMs(subject, 20) });
      const look = async (podName: string, container: string): Promise<Record<string, string>> => {
        const result = await subject.exec(podName, container, ['sh', '-c', 'hostname; readlink /proc/self/ns/ipc; readlink /proc/self/ns/uts']);
        const [hostname = '', ipc = '', uts = ''] = result.stdout.trim().split('\n');
        return { hostname, ipc, uts, ...(result.exitCode === 0 ? {} : { stderr: result.stderr, exitCode: String(result.exitCode) }) };
      };
      const one = await look(plain.name, 'one');
      const two = await look(plain.name, 'two');
      ctx.check(one.ipc !== '' && one.ipc === two.ipc, { what: 'both containers are in one IPC namespace', expected: 'the same ipc:[inode]', got: { one: one.ipc, two: two.ipc } });
      ctx.check(one.uts !== '' && one.uts === two.uts, { what: 'both containers are in one UTS namespace', expected: 'the same uts:[inode]', got: { one: one.uts, two: two.uts } });
      const expectedName = podNamed(subject, plain.name).slice(0, 63);
      ctx.check(one.hostname === expectedName && two.hostname === expectedName, {
        what: "the hostname is the pod's name (with the node suffix)",
        expected: expectedName,
        got: { one: one.hostname, two: two.hostname },
      });
      const chosen = await look(named.name, 'one');
      ctx.check(chosen.hostname === 'kp-chosen-host', { what: 'spec.hostname sets the hostname', expected: 'kp-chosen-host', got: chosen.hostname });
    },
  });

  suite.declare({
    ids: ['KUBELET-SANDBOX-004'],
    title: 'Containers of a pod share its volumes: a file one writes into an emptyDir is read by the other',
    timeoutMs: 60_000,
    async run(ctx: Ctx) {
      const { subject } = ctx;
      const marker = ctx.uniqueName('shared');
      const mount = { name: 'shared', mountPath: '/shared' };
      const pod = testPod(ctx, 'shared-volume', {
        volumes: [{ name: 'shared', emptyDir: {} }],
        containers: [
          shellContainer(subject, 'writer', `echo ${marker} > /shared/note; trap "exit 0" TERM; while true; do sleep 1; done`, { volumeMounts: [mount] }),
          sleeperContainer(subject, 'reader', { volumeMounts: [mount] }),
        ],
      });
      await withManifest(ctx, pod);
      await awaitPod(ctx, pod, 'the pod runs', allRunning, { timeoutMs: budgetMs(subject, 20) });
      const read = await execUntil(ctx, pod.name, 'reader', ['cat', '/shared/note'], (out) => out.trim() === marker, 5000);
      ctx.check(read.stdout.trim() === marker, { what: "the reader container reads the writer's file in the emptyDir", expected: marker, got: read });
    },
  });

  suite.declare({
    ids: ['KUBELET-SANDBOX-005'],
    title: "status.podIP and status.podIPs hold the sandbox's address, the one the pod's network interface carries and PodSandboxStatus reports",
    timeoutMs: 45_000,
    async run(ctx: Ctx) {
      const { subject } = ctx;
      const pod = testPod(ctx, 'pod-ip', { containers: [sleeperContainer(subject, 'app')] });
      await withManifest(ctx, pod);
      const seen = await awaitPod(ctx, pod, 'the pod runs with a pod IP', (found) => allRunning(found) && (found.status?.podIP ?? '') !== '', { timeoutMs: budgetMs(subject, 20) });
      const inside = await subject.exec(pod.name, 'app', ['sh', '-c', "ip -4 -o addr show dev eth0 | awk '{print $4}' | cut -d/ -f1"]);
      const address = inside.stdout.trim().split('\n')[0] ?? '';
      const podIP = seen.status?.podIP;
      ctx.check(address !== '' && podIP === address, { what: "status.podIP is the address of the pod's eth0", expected: address || 'an address on eth0', got: { podIP: podIP ?? null, exec: inside } });
      ctx.check(seen.status?.podIPs?.[0]?.ip === podIP, { what: 'status.podIPs starts with status.podIP', expected: podIP ?? null, got: seen.status?.podIPs ?? null });
      const sandboxIds = sandboxIdsOf(podCalls(subject, seen.metadata.uid));
      const reported = subject
        .criCalls()
        .filter((call) => call.method === 'PodSandboxStatus' && sandboxIds.includes(String(field(call.request, 'podSandboxId'))))
        .map((call) => field(call.response, 'status', 'network', 'ip'))
        .filter((ip): ip is string => typeof ip === 'string' && ip !== '');
      ctx.check(reported.length > 0 && reported[reported.length - 1] === podIP, {
        what: "status.podIP is what PodSandboxStatus answered the kubelet as the sandbox's network.ip",
        expected: podIP ?? null,
        got: { podSandboxStatusIps: [...new Set(reported)] },
      });
    },
  });

  suite.declare({
    ids: ['KUBELET-SANDBOX-006'],
    title: 'A container that exits and is restarted is created again in the same sandbox, and the pod keeps its IP',
    timeoutMs: 60_000,
    async run(ctx: Ctx) {
      const { subject } = ctx;
      const pod = testPod(ctx, 'restart-same-sandbox', { restartPolicy: 'Always', containers: [shellContainer(subject, 'app', 'sleep 2; exit 1')] });
      await withManifest(ctx, pod);
      const first = await awaitPod(ctx, pod, 'the pod has an IP', (found) => (found.status?.podIP ?? '') !== '', { timeoutMs: budgetMs(subject, 20) });
      const restarted = await awaitPod(ctx, pod, 'the container was restarted once and runs again', (found) => restartCount(found, 'app') >= 1 && isRunning(found, 'app'), {
        timeoutMs: budgetMs(subject, 2 + Math.min(10, subject.maxRestartPeriodSeconds) + 5),
      });
      const calls = podCalls(subject, restarted.metadata.uid);
      const runs = callsOf(calls, 'RunPodSandbox').filter((call) => !call.failed);
      const creates = callsOf(calls, 'CreateContainer', 'app');
      ctx.check(runs.length === 1 && creates.length >= 2 && creates.every((create) => create.sandboxId === runs[0]?.sandboxId), {
        what: 'one sandbox, and every CreateContainer of the restarted container names it',
        expected: { runPodSandbox: 1, createContainer: '>= 2, all in that sandbox' },
        got: callsView(lifecycleCalls(calls)),
      });
      ctx.check(restarted.status?.podIP === first.status?.podIP, { what: 'the pod IP is the same after the restart', expected: first.status?.podIP ?? null, got: restarted.status?.podIP ?? null });
    },
  });

  suite.declare({
    ids: ['KUBELET-SANDBOX-007'],
    title: 'When the sandbox is stopped behind its back, the kubelet creates a new sandbox and new containers in it',
    timeoutMs: 60_000,
    async run(ctx: Ctx) {
      const { subject } = ctx;
      const pod = testPod(ctx, 'sandbox-dies', { restartPolicy: 'Always', containers: [sleeperContainer(subject, 'app')] });
      await withManifest(ctx, pod);
      const before = await awaitPod(ctx, pod, 'the pod runs', allRunning, { timeoutMs: budgetMs(subject, 20) });
      const [sandboxId] = sandboxIdsOf(podCalls(subject, before.metadata.uid));
      ctx.require(sandboxId !== undefined, { what: 'the pod sandbox is known from the call log', expected: 'a RunPodSandbox for the pod', got: callsView(podCalls(subject, before.metadata.uid)) });
      const oldContainer = before.status?.containerStatuses?.[0]?.containerID;
      await subject.stopPodSandbox(sandboxId);
      const after = await awaitPod(
        ctx,
        pod,
        'the pod runs again in a new sandbox',
        (found) => allRunning(found) && found.status?.containerStatuses?.[0]?.containerID !== oldContainer && sandboxIdsOf(podCalls(subject, found.metadata.uid)).length >= 2,
        { timeoutMs: budgetMs(subject, 20 + Math.min(10, subject.maxRestartPeriodSeconds)) },
      );
      const calls = podCalls(subject, after.metadata.uid);
      const sandboxes = sandboxIdsOf(calls);
      const newSandbox = sandboxes[sandboxes.length - 1];
      const createsInNew = callsOf(calls, 'CreateContainer', 'app').filter((create) => create.sandboxId === newSandbox);
      ctx.check(sandboxes.length >= 2 && newSandbox !== sandboxId, {
        what: 'a new sandbox was created for the pod',
        expected: `a RunPodSandbox after ${sandboxId} was stopped`,
        got: callsView(lifecycleCalls(calls)),
      });
      ctx.check(createsInNew.length >= 1, { what: 'the container was created again in the new sandbox', expected: `CreateContainer(app) in ${newSandbox ?? 'the new sandbox'}`, got: callsView(lifecycleCalls(calls)) });
      ctx.check(after.status?.containerStatuses?.[0]?.containerID !== oldContainer, {
        what: 'the pod runs a new container',
        expected: `a container ID other than ${oldContainer ?? '?'}`,
        got: podView(after),
      });
    },
  });

  suite.declare({
    ids: ['KUBELET-SANDBOX-008'],
    title: "A hostPath volume is the node's folder itself; an emptyDir starts empty for each new pod and is deleted from the node when the pod goes",
    timeoutMs: 90_000,
    async run(ctx: Ctx) {
      const { subject } = ctx;
      const hostDir = path.join(subject.hostPathDir, ctx.uniqueName('host'));
      fs.mkdirSync(hostDir, { recursive: true });
      ctx.defer(() => fs.rmSync(hostDir, { recursive: true, force: true }), `remove ${hostDir}`);
      const fromNode = ctx.uniqueName('from-node');
      fs.writeFileSync(path.join(hostDir, 'from-node'), `${fromNode}\n`);
      const marker = ctx.uniqueName('scratch');
      const script = `cat /host/from-node > /host/seen-by-pod; echo pod > /host/from-pod; ls -A /scratch > /host/scratch-at-start; touch /scratch/${marker}-$GENERATION; trap "exit 0" TERM; while true; do sleep 1; done`;
      const pod = testPod(ctx, 'volumes', {
        volumes: [
          { name: 'host', hostPath: { path: hostDir, type: 'Directory' } },
          { name: 'scratch', emptyDir: {} },
        ],
        containers: [
          shellContainer(subject, 'app', script, {
            env: [{ name: 'GENERATION', value: 'one' }],
            volumeMounts: [
              { name: 'host', mountPath: '/host' },
              { name: 'scratch', mountPath: '/scratch' },
            ],
          }),
        ],
      });
      await withManifest(ctx, pod);
      const first = await awaitPod(ctx, pod, 'the pod runs', allRunning, { timeoutMs: budgetMs(subject, 20) });
      const readNode = (name: string): string | undefined => {
        try {
          return fs.readFileSync(path.join(hostDir, name), 'utf8').trim();
        } catch {
          return undefined;
        }
      };
      let until = Date.now() + 5000;
      while (readNode('from-pod') === undefined && Date.now() < until) await pause(ctx, 200);
      ctx.check(readNode('seen-by-pod') === fromNode && readNode('from-pod') === 'pod', {
        what: "the pod reads the node's file through hostPath, and the node reads the pod's",
        expected: { 'seen-by-pod': fromNode, 'from-pod': 'pod' },
        got: { 'seen-by-pod': readNode('seen-by-pod') ?? null, 'from-pod': readNode('from-pod') ?? null },
      });
      ctx.check(readNode('scratch-at-start') === '', { what: 'the emptyDir is empty when the first pod starts', expected: '', got: readNode('scratch-at-start') ?? null });
      let markerFiles: string[] = [];
      until = Date.now() + 5000;
      const oldMarker = `${marker}-one`;
      while ((markerFiles = findNamed(subject.rootDir, oldMarker)).length === 0 && Date.now() < until) await pause(ctx, 200);
      if (markerFiles.length === 0) ctx.note(`the emptyDir file ${oldMarker} was not found under the kubelet's root dir ${subject.rootDir}; its removal is checked there anyway`);
      // A changed manifest is a new pod (KUBELET-MANIFEST-002): its emptyDir must start empty again.
      fs.rmSync(path.join(hostDir, 'scratch-at-start'), { force: true });
      // The new pod writes a file of another name, so one left behind can only be the old pod's.
      const [app] = pod.manifest.spec.containers;
      const changed = { ...pod.manifest, spec: { ...pod.manifest.spec, containers: [{ ...(app as Container), env: [{ name: 'GENERATION', value: 'two' }] }] } };
      await subject.writeManifest(pod.fileName, changed);
      await awaitPod(ctx, pod, 'the changed pod runs under a new UID', (found) => found.metadata.uid !== first.metadata.uid && allRunning(found), { timeoutMs: budgetMs(subject, 25) });
      until = Date.now() + 5000;
      while (readNode('scratch-at-start') === undefined && Date.now() < until) await pause(ctx, 200);
      ctx.check(readNode('scratch-at-start') === '', {
        what: "the new pod's emptyDir starts empty (no file of the old pod)",
        expected: '',
        got: readNode('scratch-at-start') ?? null,
      });
      until = Date.now() + budgetMs(subject, 10);
      let left = findNamed(subject.rootDir, oldMarker);
      while (left.length > 0 && Date.now() < until) {
        await pause(ctx, 500);
        left = findNamed(subject.rootDir, oldMarker);
      }
      ctx.check(left.length === 0, {
        what: "the old pod's emptyDir was deleted from the node once the pod went",
        expected: `no file named ${oldMarker} under ${subject.rootDir}`,
        got: left,
      });
    },
  });
}
