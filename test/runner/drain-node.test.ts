import { spawn } from 'node:child_process';
import { once } from 'node:events';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import t from 'tap';
import { registryUnavailable } from '../../conformance/cri/test-images/index.js';
import { kubeletNodeUnavailable, startKubeletNode, type KubeletNode } from '../../conformance/kubelet/kubelet-node.js';
import { httpGetOverSocket } from '../../conformance/kubelet/read-only-port.js';
import { loadKubeletRunSettings } from '../../conformance/kubelet/run-config.js';
import type { Pod, PodList } from '../../kubelet/api/pod-types.js';
import { cliPath, runCli } from '../helpers/run-cli.js';

// End to end: `kubeplug drain` (dist) against the reference kubelet on the
// process runtime, on a node in network and mount namespaces the harness
// makes. The kubelet also serves its read-only API on a unix socket
// (--read-only-socket), which is how drain reaches it from outside the
// node's network namespace. Two pods under a minAvailable 1 budget: drain
// evicts one and is held back on the other until its timeout; Ctrl-C stops a
// drain with the node left cordoned; without the budget a second drain ends
// the job; uncordon lifts the cordon.

const settings = loadKubeletRunSettings({});
const skip = kubeletNodeUnavailable(settings) ?? registryUnavailable() ?? false;
const nodeName = 'drain-a';
const budgetFile = 'web-pdb.json';

interface BudgetStatus {
  metadata: { name: string };
  status?: { currentHealthy?: number; desiredHealthy?: number; disruptionsAllowed?: number; expectedPods?: number };
}

async function getJson<T>(socket: string, urlPath: string): Promise<T> {
  const answer = await httpGetOverSocket(socket, urlPath);
  if (answer.status !== 200) throw new Error(`GET ${urlPath} answered ${answer.status}: ${answer.body}`);
  return JSON.parse(answer.body) as T;
}

async function waitFor<T>(what: string, timeoutMs: number, probe: () => Promise<T | undefined>, describe: () => Promise<string>): Promise<T> {
  const until = Date.now() + timeoutMs;
  while (Date.now() < until) {
    const found = await probe().catch(() => undefined);
    if (found !== undefined) return found;
    await sleep(250);
  }
  throw new Error(`timed out waiting for ${what}; last seen: ${await describe()}`);
}

function writeManifest(dir: string, name: string, object: object): void {
  const temporary = path.join(dir, `.${name}.tmp`);
  fs.writeFileSync(temporary, JSON.stringify(object));
  fs.renameSync(temporary, path.join(dir, name));
}

const isReady = (pod: Pod): boolean => pod.status?.phase === 'Running' && pod.status.conditions?.some((condition) => condition.type === 'Ready' && condition.status === 'True') === true;
const isEvicted = (pod: Pod): boolean => pod.status?.phase === 'Failed' && pod.status.reason === 'Evicted';

t.test('drain evicts what the budget allows, names the budget holding the rest, and finishes once the budget is gone', { skip, timeout: 420_000 }, async (t) => {
  let stopNode: (() => Promise<unknown>) | undefined;
  const socketDir = fs.mkdtempSync(path.join(os.tmpdir(), 'kp-drain-'));
  t.teardown(async () => {
    await stopNode?.();
    fs.rmSync(socketDir, { recursive: true, force: true });
  });
  const socket = path.join(socketDir, 'kubelet.sock');
  const url = `unix://${socket}`;
  const node: KubeletNode = await startKubeletNode(settings, { registerStop: (stop) => (stopNode = stop), nodeName, extraKubeletArgs: ['--read-only-socket', socket] });
  const pods = async (): Promise<Pod[]> => (await getJson<PodList>(socket, '/pods')).items;
  const describe = async (): Promise<string> =>
    `${JSON.stringify((await pods().catch(() => [])).map((pod) => ({ name: pod.metadata.name, phase: pod.status?.phase, reason: pod.status?.reason })))}\n${await httpGetOverSocket(socket, '/poddisruptionbudgets').then((answer) => answer.body).catch((error: Error) => error.message)}\n${node.kubeletLogTail(20)}`;

  const webPod = (name: string) => ({
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: { name, labels: { app: 'web' } },
    spec: { containers: [{ name: 'web', image: node.images.busybox, command: ['sleep', '3600'] }], terminationGracePeriodSeconds: 1 },
  });
  writeManifest(node.manifestsDir, 'web-1.json', webPod('web-1'));
  writeManifest(node.manifestsDir, 'web-2.json', webPod('web-2'));
  writeManifest(node.manifestsDir, budgetFile, {
    apiVersion: 'policy/v1',
    kind: 'PodDisruptionBudget',
    metadata: { name: 'web-pdb' },
    spec: { minAvailable: 1, selector: { matchLabels: { app: 'web' } } },
  });
  const podNames = [`web-1-${nodeName}`, `web-2-${nodeName}`];
  await waitFor('both pods Ready', 120_000, async () => ((await pods()).filter((pod) => podNames.includes(pod.metadata.name) && isReady(pod)).length === 2 ? true : undefined), describe);
  await waitFor(
    'the budget to allow one disruption of two healthy pods',
    30_000,
    async () => {
      const budget = (await getJson<{ items: BudgetStatus[] }>(socket, '/poddisruptionbudgets')).items.find((item) => item.metadata.name === 'web-pdb');
      return budget?.status?.currentHealthy === 2 && budget.status.disruptionsAllowed === 1 ? true : undefined;
    },
    describe,
  );

  // 1. The budget lets one pod go and holds the other until the timeout.
  const started = Date.now();
  const blocked = await runCli(['drain', '--kubelet', url, '--timeout', '12s'], { timeoutMs: 120_000 });
  const seconds = (Date.now() - started) / 1000;
  t.equal(blocked.code, 1, 'exit 1 at the timeout', { stdout: blocked.stdout, stderr: blocked.stderr });
  t.ok(seconds >= 12, `it waited out its timeout (${seconds.toFixed(1)} s)`);
  t.match(blocked.stdout, new RegExp(`node/${nodeName} \\(kubelet ${url}\\) cordoned, not drained: 1 of 2 pods left`));
  t.match(blocked.stdout, new RegExp(`pod default/web-[12]-${nodeName}: blocked by PodDisruptionBudget default/web-pdb at the timeout \\(12s\\) after [2-4] eviction requests: The disruption budget web-pdb needs 1 healthy pods and has 1 currently`));
  t.match(blocked.stderr, new RegExp(`node/${nodeName} cordoned`));
  t.match(blocked.stderr, /will retry after 5s/);
  t.match(blocked.stderr, /kubeplug drain: 1 pod left at the timeout \(12s\)/);
  const afterFirst = await pods();
  const evicted = afterFirst.filter((pod) => podNames.includes(pod.metadata.name) && isEvicted(pod));
  const running = afterFirst.filter((pod) => podNames.includes(pod.metadata.name) && pod.status?.phase === 'Running');
  t.equal(evicted.length, 1, 'one pod ended Failed (Evicted)');
  t.equal(running.length, 1, 'the other still runs');
  t.match(blocked.stdout, new RegExp(`pod default/${running[0]?.metadata.name ?? 'none'}: blocked`), 'the pod named as left is the one still running');
  t.equal((await getJson<{ spec?: { unschedulable?: boolean } }>(socket, `/api/v1/nodes/${nodeName}`)).spec?.unschedulable, true, 'the node stays cordoned');

  // 2. Ctrl-C stops a drain that would wait for ever; the node stays cordoned.
  const child = spawn(process.execPath, [cliPath, 'drain', '--kubelet', url], { stdio: ['ignore', 'pipe', 'pipe'] });
  t.teardown(() => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
  const retrying = new Promise<void>((resolve) => {
    child.stderr.on('data', (chunk: Buffer) => {
      stderr += chunk.toString();
      if (stderr.includes('will retry after 5s')) resolve();
    });
  });
  const exited = once(child, 'exit') as Promise<[number | null, NodeJS.Signals | null]>;
  await Promise.race([retrying, exited, sleep(60_000)]);
  t.match(stderr, /will retry after 5s/, 'the drain reached the refused pod');
  const interruptedAt = Date.now();
  child.kill('SIGINT');
  const [code] = await Promise.race([exited, sleep(20_000).then(() => [null, null] as const)]);
  t.equal(code, 130, 'exit 130 on SIGINT', { stdout, stderr });
  t.ok(Date.now() - interruptedAt < 5000, `it stopped within ${Date.now() - interruptedAt} ms, not after a retry interval and more`);
  t.match(stdout, /interrupted: the nodes stay cordoned/);
  t.match(stdout, /blocked by PodDisruptionBudget default\/web-pdb when interrupted/);
  t.equal((await getJson<{ spec?: { unschedulable?: boolean } }>(socket, `/api/v1/nodes/${nodeName}`)).spec?.unschedulable, true, 'still cordoned after Ctrl-C');

  // 3. Without the budget a second drain evicts the last pod and succeeds.
  fs.rmSync(path.join(node.manifestsDir, budgetFile));
  await waitFor('the budget to go', 30_000, async () => ((await getJson<{ items: BudgetStatus[] }>(socket, '/poddisruptionbudgets')).items.length === 0 ? true : undefined), describe);
  const drained = await runCli(['drain', '--kubelet', url, '--timeout', '60s'], { timeoutMs: 120_000 });
  t.equal(drained.code, 0, 'exit 0 once the budget is gone', { stdout: drained.stdout, stderr: drained.stderr });
  t.match(drained.stdout, new RegExp(`^node/${nodeName} drained \\(1 pod evicted\\)$`, 'm'));
  t.match(drained.stderr, new RegExp(`node/${nodeName} already cordoned`));
  t.same(
    (await pods()).filter((pod) => podNames.includes(pod.metadata.name)).map((pod) => [pod.status?.phase, pod.status?.reason]),
    [
      ['Failed', 'Evicted'],
      ['Failed', 'Evicted'],
    ],
    'both pods evicted',
  );

  // 4. Uncordon.
  const uncordoned = await runCli(['uncordon', '--kubelet', url], { timeoutMs: 60_000 });
  t.equal(uncordoned.code, 0, 'uncordon exits 0', { stderr: uncordoned.stderr });
  t.equal(uncordoned.stdout, `node/${nodeName} uncordoned\n`);
  t.equal((await getJson<{ spec?: { unschedulable?: boolean } }>(socket, `/api/v1/nodes/${nodeName}`)).spec?.unschedulable, false, 'the node is schedulable again');

  t.same(await node.stop(), [], 'the node stops cleanly');
  t.same(node.leftovers(), { processes: [], mounts: [], cgroups: [], networkNamespace: false, folder: false }, 'nothing is left');
});
