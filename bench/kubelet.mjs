#!/usr/bin/env node
// The reference kubelet (`kubeplug kubelet`) on kubeplug's process runtime
// and on Debian's containerd 1.6 + runc, both isolated nodes from
// conformance/peers (own network and mount namespaces, temp root, the same
// CNI plugins, images from a registry on loopback), measured in the same run,
// phase by phase interleaved:
//   start-up: N static pods (one sleeping busybox container, image already
//     pulled) written into the manifest folder back to back; each pod's
//     latency is from its manifest's rename into the folder to the first
//     /pods answer showing it Running with Ready True (p50, p99);
//   probes: N pods with an exec readiness probe (`true`, periodSeconds 1),
//     then N pods serving `busybox httpd` with an httpGet readiness probe
//     (periodSeconds 1); once all are Ready the kubelet's CPU (utime + stime
//     of /proc/<pid>/stat, every thread) is read over a window, as % of one
//     core, with nothing polling it meanwhile.
// The kubelet runs in the node's network namespace and the runtime's mount
// namespace (as conformance/kubelet/kubelet-node.ts runs it, but without its
// spy proxies: they would add a gRPC hop in this process to every CRI call
// measured) and is reached through a unix-socket relay to its read-only port.
// Flags: --pods N (100), --window S (30), --peer none (ours only),
// --cni kubeplug|upstream, --poll-ms MS (50). Needs root and a build
// (`npm run bench -- kubelet` builds first).
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { setTimeout as sleep } from 'node:timers/promises';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const dist = (file) => import(path.join(root, 'dist', file));
const [cri, peers, registryModule, kubeletImages, readOnlyPort, runConfig, childExit, scan] = await Promise.all([
  dist('specs/cri/index.js'),
  dist('conformance/peers/index.js'),
  dist('conformance/cri/test-images/loopback-registry.js'),
  dist('conformance/kubelet/kubelet-images.js'),
  dist('conformance/kubelet/read-only-port.js'),
  dist('conformance/kubelet/run-config.js'),
  dist('conformance/peers/child-exit.js'),
  dist('conformance/peers/system-scan.js'),
]);

const args = process.argv.slice(2);
const podCount = Number(valueOf('--pods') ?? 100);
const windowSeconds = Number(valueOf('--window') ?? 30);
const pollMs = Number(valueOf('--poll-ms') ?? 50);
const peerChoice = valueOf('--peer') ?? 'containerd';
const cniChoice = valueOf('--cni') ?? (peers.upstreamCniPlugins() === undefined ? 'kubeplug' : 'upstream');
const targets = { startupP99Ms: 1000, probeCpuPercent: 10 };
const settleMs = 5000;
const nodeName = 'bench-node';
const kubeletPort = 10255;
const probePort = 8080;

function valueOf(flag) {
  const index = args.indexOf(flag);
  if (index >= 0) return args[index + 1];
  const joined = args.find((arg) => arg.startsWith(`${flag}=`));
  return joined?.slice(flag.length + 1);
}

if (process.getuid?.() !== 0) {
  console.error('the kubelet benchmark needs root (namespaces, mounts, cgroups)');
  process.exit(2);
}
for (const [flag, value, minimum] of [['--pods', podCount, 1], ['--window', windowSeconds, 1], ['--poll-ms', pollMs, 1]]) {
  if (!Number.isSafeInteger(value) || value < minimum) {
    console.error(`${flag} must be a whole number ≥ ${minimum}`);
    process.exit(2);
  }
}
if (peerChoice !== 'containerd' && peerChoice !== 'none') {
  console.error('--peer is containerd (default) or none');
  process.exit(2);
}
if (cniChoice !== 'kubeplug' && cniChoice !== 'upstream') {
  console.error('--cni is kubeplug or upstream');
  process.exit(2);
}

const quantile = (values, q) => {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))];
};
const ms = (value) => (value === undefined || !Number.isFinite(value) ? 'n/a' : `${value.toFixed(0)} ms`);
const percent = (value) => (value === undefined ? 'n/a' : `${value.toFixed(1)}%`);
const loadAverage = () => os.loadavg().map((value) => value.toFixed(2)).join(' ');
const call = (client, method, request, seconds = 60) => cri.callUnary(client, method, request, { deadline: new Date(Date.now() + seconds * 1000) });
const clockTicks = Number(process.env.BENCH_CLK_TCK ?? 100); // USER_HZ: 100 on every Linux ABI Node runs on

/** utime + stime of a process (all its threads), in seconds. */
function cpuSeconds(pid) {
  const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
  // Fields after the command name, which may hold spaces and parentheses: state is field 3, utime 14, stime 15.
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(fields[11]) + Number(fields[12])) / clockTicks;
}

/** Busy and total jiffies of the whole machine (every core) from /proc/stat. */
function machineJiffies() {
  const fields = fs.readFileSync('/proc/stat', 'utf8').split('\n')[0].trim().split(/\s+/).slice(1).map(Number);
  const total = fields.slice(0, 8).reduce((sum, value) => sum + value, 0); // user…steal; guest time is already in user
  const idle = (fields[3] ?? 0) + (fields[4] ?? 0);
  return { busy: total - idle, total };
}

/** % of the machine's CPU time that was busy (anyone's work) since `before`. */
const machineBusySince = (before) => {
  const now = machineJiffies();
  return ((now.busy - before.busy) / Math.max(1, now.total - before.total)) * 100;
};

// ---- cleanup: one stack, run newest first, on success, failure and Ctrl-C alike
const stops = [];
let cleaning;
/** Registers an undo step; once cleanup has begun (Ctrl-C mid-start) it runs at once instead of leaking. */
function defer(stop) {
  if (cleaning === undefined) stops.push(stop);
  else void Promise.resolve().then(stop).catch((error) => console.log(`cleanup failed: ${error?.message ?? error}`));
}
function cleanup() {
  cleaning ??= (async () => {
    for (const stop of stops.reverse()) {
      const failures = await Promise.resolve().then(stop).catch((error) => [{ label: 'stop', message: String(error?.message ?? error) }]);
      if (Array.isArray(failures) && failures.length > 0) console.log(`cleanup failed: ${JSON.stringify(failures)}`);
    }
  })();
  return cleaning;
}
const subjects = [];
/** Names what a stopped node left behind; true when nothing. */
function nothingLeft() {
  let clean = true;
  for (const subject of subjects) {
    const left = subject.node.leftovers();
    const named = [...left.processes, ...left.mounts, ...left.cgroups, ...(left.networkNamespace ? ['network namespace'] : []), ...(left.folder ? [subject.node.dir] : [])];
    if (named.length > 0) {
      console.log(`${subject.label}: left behind: ${named.join('; ')}`);
      clean = false;
    }
  }
  return clean;
}
let interrupted = false;
for (const signal of ['SIGINT', 'SIGTERM']) {
  process.on(signal, () => {
    if (interrupted) return;
    interrupted = true;
    console.log(`\n${signal}: stopping the kubelets and nodes, removing pods`);
    void cleanup()
      .then(() => console.log(nothingLeft() ? 'stopped; nothing left behind' : 'stopped'))
      .finally(() => process.exit(130));
  });
}

// ---- pods
const untilStopped = 'trap "exit 0" TERM; while true; do sleep 3600 & wait $!; done';
const httpServer = `mkdir -p /tmp/www && echo ok > /tmp/www/index.html && exec httpd -f -p ${probePort} -h /tmp/www`;

function podManifest(name, image, kind) {
  const container = { name: 'main', image, imagePullPolicy: 'IfNotPresent', command: ['sh', '-c', kind === 'http' ? httpServer : untilStopped] };
  if (kind === 'exec') container.readinessProbe = { exec: { command: ['true'] }, periodSeconds: 1 };
  if (kind === 'http') {
    container.ports = [{ containerPort: probePort }];
    container.readinessProbe = { httpGet: { path: '/', port: probePort }, periodSeconds: 1 };
  }
  return { apiVersion: 'v1', kind: 'Pod', metadata: { name, namespace: 'default' }, spec: { terminationGracePeriodSeconds: 2, containers: [container] } };
}

const isReady = (pod) => pod.status?.phase === 'Running' && (pod.status.conditions ?? []).some((condition) => condition.type === 'Ready' && condition.status === 'True');

// ---- a node with the kubelet on it
async function startNodeWithKubelet(label, start, registry) {
  const node = await start({
    cniPlugins: cniChoice === 'upstream' ? peers.upstreamCniPlugins() : peers.kubeplugCniPlugins(),
    networkConfig: peers.bridgeNetworkConfig({ plugins: cniChoice, name: 'kp-bench', bridge: 'kpbench0', subnet: '10.91.0.0/16' }),
    loopbackRegistries: [registry],
    registerStop: (stop) => defer(stop),
  });
  const dir = path.join(node.dir, 'kubelet');
  const manifests = path.join(dir, 'manifests');
  const rootDir = path.join(dir, 'root');
  for (const folder of [manifests, rootDir]) fs.mkdirSync(folder, { recursive: true });

  const relaySocket = path.join(dir, 'read-only-port.sock');
  const relay = await readOnlyPort.startPortRelay({ netnsPath: node.netns.path, socketPath: relaySocket, port: kubeletPort });
  defer(() => relay.stop());
  const get = async (urlPath, timeoutMs = 10_000) => {
    const answer = await readOnlyPort.httpGetOverSocket(relaySocket, urlPath, timeoutMs);
    if (answer.status !== 200) throw new Error(`${label}: GET ${urlPath} answered ${answer.status}: ${answer.body.slice(0, 200)}`);
    return answer.body;
  };

  // In the runtime's mount namespace and the node's network namespace, in a process group of its own (Ctrl-C reaches
  // this process, which stops it in order), with a parent-death signal so a benchmark killed outright leaves no kubelet.
  const logFile = path.join(dir, 'kubelet.log');
  const log = fs.openSync(logFile, 'a');
  const setpriv = scan.findOnPath('setpriv');
  const argv = [
    ...(setpriv === undefined ? [] : [setpriv, '--pdeathsig', 'SIGKILL', '--']),
    process.execPath, runConfig.kubeplugCliPath(), 'kubelet',
    '--pod-manifest-path', manifests,
    '--container-runtime-endpoint', node.endpoint,
    '--root-dir', rootDir,
    '--node-name', nodeName,
    '--read-only-port', String(kubeletPort),
    '--cgroup-parent', node.cgroupParent,
  ];
  const kubelet = spawn('nsenter', [`--mount=/proc/${node.pid}/ns/mnt`, `--net=${node.netns.path}`, '--', ...argv], { stdio: ['ignore', log, log], detached: true });
  fs.closeSync(log);
  kubelet.on('error', () => undefined); // seen through the exit and the log
  const logTail = (lines = 30) => {
    try {
      return fs.readFileSync(logFile, 'utf8').split('\n').slice(-lines - 1).join('\n');
    } catch {
      return '(no log)';
    }
  };
  defer(async () => {
    if (childExit.hasExited(kubelet)) return;
    const signalGroup = (signal) => {
      try {
        process.kill(-kubelet.pid, signal);
      } catch {
        kubelet.kill(signal);
      }
    };
    signalGroup('SIGTERM');
    if (!(await childExit.exitsWithin(kubelet, 10_000))) signalGroup('SIGKILL');
    if (!(await childExit.exitsWithin(kubelet, 5000))) throw new Error(`the kubelet (pid ${kubelet.pid}) survived SIGKILL`);
  });
  const until = Date.now() + 30_000;
  for (;;) {
    if (childExit.hasExited(kubelet)) throw new Error(`${label}: the kubelet exited (${kubelet.exitCode ?? kubelet.signalCode}):\n${logTail()}`);
    if ((await get('/healthz', 2000).catch(() => undefined)) === 'ok') break;
    if (Date.now() > until) throw new Error(`${label}: the kubelet did not answer /healthz within 30 s:\n${logTail()}`);
    await sleep(200);
  }
  // nsenter and setpriv exec what they run, so the child's pid is the kubelet's own node process.
  const cmdline = fs.readFileSync(`/proc/${kubelet.pid}/cmdline`, 'utf8');
  if (!cmdline.includes('kubelet')) throw new Error(`${label}: pid ${kubelet.pid} is not the kubelet (${cmdline.replace(/\0/g, ' ')})`);
  console.log(`${label}: ${node.version.runtimeName} ${node.version.runtimeVersion} (pid ${node.pid}), kubelet pid ${kubelet.pid}, ${node.dir}`);
  return { label, node, manifests, get, kubeletPid: kubelet.pid, logTail, results: {} };
}

/** Failed probes the kubelet has recorded so far (its Unhealthy events, repeats folded into count). */
async function unhealthyCount(subject) {
  const list = JSON.parse(await subject.get('/events', 30_000));
  return (list.items ?? []).filter((event) => event.reason === 'Unhealthy').reduce((sum, event) => sum + (event.count ?? 1), 0);
}

/** The pods /pods lists now, by name. */
async function podsByName(subject) {
  const list = JSON.parse(await subject.get('/pods', 30_000));
  return new Map((list.items ?? []).map((pod) => [pod.metadata?.name, pod]));
}

/** Writes the manifests back to back (temp file, rename); returns each pod's /pods name and the time its file appeared. */
function writeManifests(subject, image, kind, prefix) {
  const written = [];
  for (let index = 0; index < podCount; index += 1) {
    const name = `${prefix}-${index}`;
    const text = JSON.stringify(podManifest(name, image, kind));
    const temp = path.join(subject.manifests, `.${name}.json.tmp`);
    fs.writeFileSync(temp, text);
    fs.renameSync(temp, path.join(subject.manifests, `${name}.json`));
    written.push({ name: `${name}-${nodeName}`, file: `${name}.json`, writtenAt: performance.now() });
  }
  return written;
}

/** Polls /pods until every written pod is Ready; returns each one's latency (ms) and what the polls cost. */
async function waitUntilReady(subject, written, timeoutMs) {
  const latencies = new Map();
  const getTimes = [];
  const started = performance.now();
  while (latencies.size < written.length) {
    if (interrupted) throw new Error('interrupted');
    const asked = performance.now();
    const pods = await podsByName(subject);
    const answered = performance.now();
    getTimes.push(answered - asked);
    for (const { name, writtenAt } of written) {
      if (!latencies.has(name) && pods.has(name) && isReady(pods.get(name))) latencies.set(name, answered - writtenAt);
    }
    if (latencies.size === written.length) break;
    if (answered - started > timeoutMs) {
      const waiting = written.filter(({ name }) => !latencies.has(name)).map(({ name }) => {
        const status = pods.get(name)?.status;
        const reason = status?.containerStatuses?.[0]?.state?.waiting?.reason;
        return `${name}: ${status?.phase ?? 'not listed'}${reason === undefined ? '' : ` (${reason})`}`;
      });
      throw new Error(`${subject.label}: ${waiting.length} of ${written.length} pods not Ready after ${(timeoutMs / 1000).toFixed(0)} s: ${waiting.slice(0, 5).join('; ')}\n${subject.logTail(15)}`);
    }
    await sleep(Math.max(0, pollMs - (answered - asked)));
  }
  return { latencies: [...latencies.values()], getMedian: quantile(getTimes, 0.5), allReadyMs: performance.now() - written[0].writtenAt };
}

/** Removes the manifests and waits until the pods have left /pods and the runtime holds no sandbox. */
async function removePods(subject, written) {
  for (const { file } of written) fs.rmSync(path.join(subject.manifests, file), { force: true });
  const until = Date.now() + 120_000 + podCount * 1000;
  const runtime = subject.node.runtime;
  for (;;) {
    const pods = await podsByName(subject);
    const sandboxes = (await call(runtime, runtime.listPodSandbox, {})).items ?? [];
    if (written.every(({ name }) => !pods.has(name)) && sandboxes.length === 0) return;
    if (Date.now() > until) throw new Error(`${subject.label}: ${pods.size} pods and ${sandboxes.length} sandboxes still there after removing the manifests\n${subject.logTail(15)}`);
    await sleep(500);
  }
}

const readyTimeoutMs = 120_000 + podCount * 2000;

/** Start-up latency of podCount pods without probes. */
async function measureStartup(subject, image) {
  const machine = machineJiffies();
  const written = writeManifests(subject, image, 'plain', 'start');
  const writingMs = performance.now() - written[0].writtenAt;
  const { latencies, getMedian, allReadyMs } = await waitUntilReady(subject, written, readyTimeoutMs);
  const busy = machineBusySince(machine);
  subject.results.startup = { p50: quantile(latencies, 0.5), p99: quantile(latencies, 0.99), max: Math.max(...latencies), getMedian, writingMs, allReadyMs, busy, load: loadAverage() };
  // The same pods, unprobed, over the window: what the kubelet spends on podCount pods before any probe.
  subject.results.idle = await cpuOverWindow(subject, written);
  await removePods(subject, written);
}

/** After settling, the kubelet's and the runtime process's CPU over the window, failed probes, and the pods still Ready. */
async function cpuOverWindow(subject, written) {
  await sleep(settleMs);
  const pids = { kubelet: subject.kubeletPid, runtime: subject.node.pid };
  const failedBefore = await unhealthyCount(subject);
  const machine = machineJiffies();
  const before = Object.fromEntries(Object.entries(pids).map(([key, pid]) => [key, cpuSeconds(pid)]));
  const started = performance.now();
  await sleep(windowSeconds * 1000);
  const elapsed = (performance.now() - started) / 1000;
  const busy = machineBusySince(machine);
  const share = (key) => ((cpuSeconds(pids[key]) - before[key]) / elapsed) * 100;
  const kubelet = share('kubelet');
  const runtime = share('runtime');
  const pods = await podsByName(subject);
  const ready = written.filter(({ name }) => pods.has(name) && isReady(pods.get(name))).length;
  const failed = (await unhealthyCount(subject)) - failedBefore;
  return { kubelet, runtime, ready, failed, busy, load: loadAverage() };
}

/** The kubelet's (and the runtime process's) CPU over the window with podCount pods probed every second. */
async function measureProbes(subject, image, kind) {
  const written = writeManifests(subject, image, kind, kind);
  await waitUntilReady(subject, written, readyTimeoutMs);
  subject.results[kind] = await cpuOverWindow(subject, written);
  await removePods(subject, written);
}

// ---- the run
const cpu = os.cpus()[0]?.model ?? 'unknown cpu';
console.log(
  `node ${process.version}, ${os.cpus().length} cores (${cpu}), kernel ${os.release()}, load average ${loadAverage()} at start ` +
    `(the machine may be shared: the load average is printed with each figure), ${podCount} pods per phase, CPU window ${windowSeconds} s after ${settleMs / 1000} s settling, ` +
    `/pods polled every ${pollMs} ms, CNI ${cniChoice} bridge + host-local, containerd on runc, NODE_EXTRA_CA_CERTS ${process.env.NODE_EXTRA_CA_CERTS ? 'set' : 'unset'}`,
);

const scratch = fs.mkdtempSync(path.join(os.tmpdir(), 'kp-kubelet-bench-'));
defer(() => fs.rmSync(scratch, { recursive: true, force: true }));
let exitCode = 0;
try {
  const registry = await registryModule.startLoopbackRegistry({ dir: path.join(scratch, 'registry') });
  defer(() => registry.stop());
  const { busybox: image } = await kubeletImages.pushKubeletSuiteImages(registry.host);

  const oursUnavailable = peers.processRuntimeNodeUnavailable();
  if (oursUnavailable !== undefined) throw new Error(`ours cannot start: ${oursUnavailable}`);
  subjects.push(await startNodeWithKubelet('kubeplug process runtime', (options) => peers.startProcessRuntimeNode(options), registry.host));
  if (peerChoice === 'containerd') {
    const unavailable = peers.containerdNodeUnavailable();
    if (unavailable !== undefined) console.log(`peer: containerd not measured, ${unavailable}`);
    else {
      const sandboxImage = await peers.pushPauseImage(registry.host);
      try {
        subjects.push(await startNodeWithKubelet('containerd + runc', (options) => peers.startContainerdNode({ ...options, sandboxImage }), registry.host));
      } catch (error) {
        console.log(`peer: containerd not measured, it did not start: ${String(error?.message ?? error).split('\n').slice(0, 12).join('\n  ')}`);
      }
    }
  }

  // The image present (pulled through CRI), then one pod each as warm-up: the sandbox image, the first CNI ADD, the page cache.
  for (const subject of subjects) {
    const { images } = subject.node;
    await call(images, images.pullImage, { image: cri.ImageSpec.fromPartial({ image }), sandboxConfig: undefined });
    const warm = [{ name: `warm-${nodeName}`, file: 'warm.json', writtenAt: performance.now() }];
    fs.writeFileSync(path.join(subject.manifests, 'warm.json'), JSON.stringify(podManifest('warm', image, 'plain')));
    await waitUntilReady(subject, warm, 120_000);
    await removePods(subject, warm);
  }

  // Phase by phase, one runtime after the other, so a machine that speeds up or slows down moves both alike;
  // the other node idles meanwhile (its kubelet holds no pod).
  for (const phase of ['startup', 'exec', 'http']) {
    for (const subject of subjects) {
      console.log(`${subject.label}: ${phase}…`);
      if (phase === 'startup') await measureStartup(subject, image);
      else await measureProbes(subject, image, phase);
    }
  }

  const verdict = (met) => (met ? 'met' : 'NOT met');
  console.log(
    'what is measured: start-up = manifest renamed into the folder → first /pods answer with the pod Running and Ready True (includes up to one poll interval and the GET); ' +
      'CPU = utime+stime of the kubelet process over the window (none: the start-up pods, unprobed, once Ready) as % of one core (the runtime process beside it: containerd itself, or the node process serving CRI for ours; shims and pods not counted); ' +
      `failed probes = the kubelet's Unhealthy events in the window (of about ${podCount * windowSeconds} probes due); machine busy = every core's busy time over the phase, anyone's work, as % of the machine`,
  );
  const rows = [['runtime', 'start-up p50', 'p99', 'all Ready', 'kubelet CPU none/exec/http', 'runtime CPU none/exec/http', 'failed probes exec/http', 'Ready at end exec/http', 'machine busy start/none/exec/http']];
  for (const subject of subjects) {
    const { startup, idle, exec, http } = subject.results;
    rows.push([
      subject.label, ms(startup.p50), ms(startup.p99), ms(startup.allReadyMs),
      [idle, exec, http].map((phase) => percent(phase.kubelet)).join(' / '), [idle, exec, http].map((phase) => percent(phase.runtime)).join(' / '),
      `${exec.failed}/${http.failed}`, `${exec.ready}/${http.ready} of ${podCount}`, [startup, idle, exec, http].map((phase) => percent(phase.busy)).join('/'),
    ]);
  }
  const widths = rows[0].map((_, column) => Math.max(...rows.map((row) => row[column].length)));
  for (const row of rows) console.log(row.map((cell, column) => cell.padEnd(widths[column])).join('  '));
  for (const subject of subjects) {
    const { startup, exec, http } = subject.results;
    console.log(
      `${subject.label}: ${podCount} manifests written in ${ms(startup.writingMs)}, median GET /pods ${ms(startup.getMedian)} while starting; load average ${startup.load} after start-up, ${exec.load} after exec, ${http.load} after http; ` +
        `targets: p99 start-up ≤ ${targets.startupP99Ms} ms ${verdict(startup.p99 <= targets.startupP99Ms)}; ` +
        `probe CPU ≤ ${targets.probeCpuPercent}% of one core (the kubelet's whole CPU): exec ${verdict(exec.kubelet <= targets.probeCpuPercent)}, http ${verdict(http.kubelet <= targets.probeCpuPercent)}; ` +
        `above the unprobed ${podCount} pods (${percent(subject.results.idle.kubelet)}): exec ${percent(exec.kubelet - subject.results.idle.kubelet)}, http ${percent(http.kubelet - subject.results.idle.kubelet)}`,
    );
  }
  for (const subject of subjects) {
    for (const kind of ['exec', 'http']) {
      const { failed, ready } = subject.results[kind];
      if (failed > 0 || ready < podCount) {
        console.log(
          `${subject.label}: caution, ${failed} ${kind} probes failed in the window and ${ready} of ${podCount} pods were Ready at its end: ` +
            'probes were timing out, so the kubelet waited on the runtime and its CPU figure for that phase is held down by it, not a clean probe cost',
        );
      }
    }
  }
  if (subjects.length === 2) {
    const [mine, peer] = subjects.map((subject) => subject.results);
    const ratio = (a, b) => `${(a / b).toFixed(2)}x`;
    console.log(
      `ratio on ours/on containerd: start-up p50 ${ratio(mine.startup.p50, peer.startup.p50)}, p99 ${ratio(mine.startup.p99, peer.startup.p99)}; ` +
        `kubelet CPU unprobed ${ratio(mine.idle.kubelet, peer.idle.kubelet)}, exec ${ratio(mine.exec.kubelet, peer.exec.kubelet)}, http ${ratio(mine.http.kubelet, peer.http.kubelet)}; ` +
        `runtime CPU exec ${ratio(mine.exec.runtime, peer.exec.runtime)}, http ${ratio(mine.http.runtime, peer.http.runtime)} (no targets for ratios)`,
    );
  } else {
    console.log('only one runtime measured: no ratios');
  }
} catch (error) {
  if (!interrupted) {
    console.error(`the kubelet benchmark failed: ${error?.message ?? error}`);
    exitCode = 1;
  }
} finally {
  await cleanup();
  if (!interrupted && !nothingLeft()) exitCode = 1;
}
if (interrupted) await new Promise(() => undefined); // the signal handler exits once cleanup is done
process.exit(exitCode);
