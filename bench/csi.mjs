#!/usr/bin/env node
// CSI volume lifecycle (CreateVolume -> NodeStageVolume -> NodePublishVolume
// -> NodeUnpublishVolume -> NodeUnstageVolume -> DeleteVolume), driven over
// the unix socket as a CO would: latency of one lifecycle (median, p99) and
// throughput at 1, 4 and 16 lifecycles in flight. The reference dir-volume
// driver is started by the benchmark (`kubeplug serve csi`) in a temp root;
// with `--peer-endpoint unix:///…` a running peer (e.g. csi-driver-host-path)
// is measured in the same run, sequential lifecycles interleaved with ours,
// and ratios ours/peer are printed. Needs root (real mounts) and a build.
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const csi = await import(path.join(root, 'dist/specs/csi/index.js'));

const args = process.argv.slice(2);
const peerEndpoint = valueOf('--peer-endpoint');
const sequentialRuns = Number(process.env.BENCH_RUNS ?? 40);
const throughputSeconds = Number(process.env.BENCH_THROUGHPUT_SECONDS ?? 5);
const volumeBytes = 16n * 1024n * 1024n;

function valueOf(flag) {
  const index = args.indexOf(flag);
  if (index >= 0) return args[index + 1];
  const joined = args.find((arg) => arg.startsWith(`${flag}=`));
  return joined?.slice(flag.length + 1);
}

if (process.getuid?.() !== 0) {
  console.error('the CSI benchmark needs root (real mounts)');
  process.exit(2);
}

const quantile = (values, q) => {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))];
};

/** Starts `kubeplug serve csi` in a fresh root; resolves once it prints ready. */
async function startReferenceDriver(scratch) {
  const endpoint = `unix://${path.join(scratch, 'csi.sock')}`;
  const child = spawn(
    process.execPath,
    [path.join(root, 'dist/runner/cli.js'), 'serve', 'csi', '--endpoint', endpoint, '--root', path.join(scratch, 'root'), '--node-id', 'bench-node', '--capacity', String(64n * 1024n * 1024n * 1024n)],
    { stdio: ['ignore', 'pipe', 'inherit'] },
  );
  const [line] = await once(child.stdout, 'data');
  if (!String(line).startsWith('ready ')) throw new Error(`driver did not start: ${line}`);
  return { endpoint, child };
}

function clientsFor(endpoint) {
  return { controller: csi.createClient(csi.ControllerClient, endpoint), node: csi.createClient(csi.NodeClient, endpoint), endpoint };
}

const mountCapability = { accessType: { $case: 'mount', value: { fsType: '', mountFlags: [], volumeMountGroup: '' } }, accessMode: { mode: 1 } };
let serial = 0;

/** One whole lifecycle; resolves to its wall time in ms. */
async function lifecycle(subject, scratch) {
  serial += 1;
  const name = `bench-${process.pid}-${serial}`;
  const staging = path.join(scratch, 'staging', name);
  const target = path.join(scratch, 'pods', name, 'volume');
  fs.mkdirSync(staging, { recursive: true });
  fs.mkdirSync(path.dirname(target), { recursive: true });
  const call = (client, method, request) => csi.callUnary(client, method, request);
  const { controller, node } = subject.clients;
  const started = performance.now();
  const { volume } = await call(controller, controller.createVolume, {
    name, capacityRange: { requiredBytes: volumeBytes, limitBytes: 0n }, volumeCapabilities: [mountCapability], parameters: {}, secrets: {}, mutableParameters: {},
  });
  const volumeId = volume.volumeId;
  const volumeContext = volume.volumeContext;
  await call(node, node.nodeStageVolume, { volumeId, publishContext: {}, stagingTargetPath: staging, volumeCapability: mountCapability, secrets: {}, volumeContext });
  await call(node, node.nodePublishVolume, { volumeId, publishContext: {}, stagingTargetPath: staging, targetPath: target, volumeCapability: mountCapability, readonly: false, secrets: {}, volumeContext });
  await call(node, node.nodeUnpublishVolume, { volumeId, targetPath: target });
  await call(node, node.nodeUnstageVolume, { volumeId, stagingTargetPath: staging });
  await call(controller, controller.deleteVolume, { volumeId, secrets: {} });
  const elapsed = performance.now() - started;
  removeEmpty(staging);
  removeEmpty(path.dirname(target));
  return elapsed;
}

function removeEmpty(dir) {
  try {
    fs.rmdirSync(dir);
  } catch {
    // a leftover mount or file stays for the summary to report
  }
}

/** Lifecycles completed per second with `width` in flight for `seconds`. */
async function throughput(subject, scratch, width, seconds) {
  const until = performance.now() + seconds * 1000;
  let done = 0;
  const started = performance.now();
  await Promise.all(
    Array.from({ length: width }, async () => {
      while (performance.now() < until) {
        await lifecycle(subject, scratch);
        done += 1;
      }
    }),
  );
  return done / ((performance.now() - started) / 1000);
}

const scratchRoot = fs.mkdtempSync(path.join(os.tmpdir(), 'kubeplug-csi-bench-'));
const subjects = [];
let driver;
try {
  driver = await startReferenceDriver(fs.mkdtempSync(path.join(scratchRoot, 'ours-')));
  subjects.push({ label: 'kubeplug dir-volume', clients: clientsFor(driver.endpoint), scratch: fs.mkdtempSync(path.join(scratchRoot, 'ours-work-')), latency: [], rate: {} });
  if (peerEndpoint !== undefined) {
    subjects.push({ label: `peer ${peerEndpoint}`, clients: clientsFor(peerEndpoint), scratch: fs.mkdtempSync(path.join(scratchRoot, 'peer-work-')), latency: [], rate: {} });
  }
  for (const subject of subjects) {
    await csi.waitForConnection(subject.clients.controller, subject.clients.endpoint, 5000);
    for (const dir of ['staging', 'pods']) fs.mkdirSync(path.join(subject.scratch, dir));
    await lifecycle(subject, subject.scratch); // warm-up: first mkfs, first loop device
  }
  // Interleaved call by call, so a VM that speeds up or slows down moves every subject alike.
  for (let run = 0; run < sequentialRuns; run += 1) {
    for (const subject of subjects) subject.latency.push(await lifecycle(subject, subject.scratch));
  }
  for (const width of [1, 4, 16]) {
    for (const subject of subjects) subject.rate[width] = await throughput(subject, subject.scratch, width, throughputSeconds);
  }

  const cpu = os.cpus()[0]?.model ?? 'unknown cpu';
  console.log(`node ${process.version}, ${os.cpus().length} cores (${cpu}), kernel ${os.release()}, ${sequentialRuns} sequential lifecycles, ${throughputSeconds} s per throughput width, ${volumeBytes / 1024n / 1024n} MiB volumes, NODE_EXTRA_CA_CERTS ${process.env.NODE_EXTRA_CA_CERTS ? 'set' : 'unset'}`);
  for (const subject of subjects) {
    console.log(
      `${subject.label}: lifecycle median ${quantile(subject.latency, 0.5).toFixed(1)} ms, p99 ${quantile(subject.latency, 0.99).toFixed(1)} ms; ` +
        `throughput ${[1, 4, 16].map((width) => `${width}-way ${subject.rate[width].toFixed(1)}/s`).join(', ')}`,
    );
  }
  if (subjects.length === 2) {
    const [ours, peer] = subjects;
    const ratio = (a, b) => (a / b).toFixed(2);
    console.log(
      `ratio ours/peer: lifecycle median ${ratio(quantile(ours.latency, 0.5), quantile(peer.latency, 0.5))}x, p99 ${ratio(quantile(ours.latency, 0.99), quantile(peer.latency, 0.99))}x; ` +
        `throughput ${[1, 4, 16].map((width) => `${width}-way ${ratio(ours.rate[width], peer.rate[width])}x`).join(', ')} (targets: latency at most 1.0x, 16-way throughput at least 2x)`,
    );
  } else {
    console.log('no --peer-endpoint given: no ratios (start csi-driver-host-path and pass its socket to compare)');
  }
} finally {
  for (const subject of subjects) {
    subject.clients.controller.close();
    subject.clients.node.close();
  }
  if (driver !== undefined && driver.child.exitCode === null) {
    driver.child.kill('SIGTERM');
    await once(driver.child, 'exit');
  }
  const leftovers = fs.readFileSync('/proc/self/mountinfo', 'utf8').split('\n').filter((line) => line.includes(scratchRoot));
  if (leftovers.length > 0) console.log(`left mounted (not removed): ${leftovers.length} mount(s) under ${scratchRoot}`);
  else fs.rmSync(scratchRoot, { recursive: true, force: true });
}
