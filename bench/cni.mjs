#!/usr/bin/env node
// CNI ADD and DEL latency of kubeplug-bridge + kubeplug-host-local against
// Debian's upstream bridge + host-local, measured in the same run, in network
// namespaces this benchmark creates and removes; upstream and our agent are
// interleaved call by call, our standalone plugins measured after. Needs root
// and a build.
// Prints medians, p99s, concurrent-ADD wall times and ratios ours/upstream.
import { execFileSync, spawn } from 'node:child_process';
import { once } from 'node:events';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const { CniInvoker } = await import(path.join(root, 'dist/specs/cni/index.js'));
const { createNetworkNamespace, uniqueNetnsName } = await import(path.join(root, 'dist/conformance/cni/network-namespaces.js'));

const sequentialRuns = Number(process.env.BENCH_RUNS ?? 30);
if (process.getuid?.() !== 0) {
  console.error('the CNI benchmark needs root (network namespaces)');
  process.exit(2);
}

const subjects = [
  { label: 'upstream bridge+host-local', cniPath: ['/usr/lib/cni'], main: 'bridge', ipam: 'host-local' },
  { label: 'kubeplug, standalone (no agent)', cniPath: [path.join(root, 'dist/cni-bin')], main: 'kubeplug-bridge', ipam: 'kubeplug-host-local' },
  { label: 'kubeplug, node agent', cniPath: [path.join(root, 'dist/cni-bin')], main: 'kubeplug-bridge', ipam: 'kubeplug-host-local', agent: true },
  // The same agent with its exec server off: what the exec server (netns-exec-server.c) saves.
  { label: 'kubeplug, node agent, no exec server', cniPath: [path.join(root, 'dist/cni-bin')], main: 'kubeplug-bridge', ipam: 'kubeplug-host-local', agent: true, agentArgs: ['--no-exec-server'] },
];
const agentEntry = path.join(root, 'dist/reference-plugins/host-local-bridge/node-agent/kubeplug-cni-agent.js');

/** Starts kubeplug-cni-agent in the node namespace; resolves once it serves. */
async function startAgent(nodePath, dir, extraArgs = []) {
  const child = spawn('nsenter', [`--net=${nodePath}`, process.execPath, agentEntry, '--dir', dir, ...extraArgs], { stdio: ['ignore', 'pipe', 'ignore'] });
  const [line] = await once(child.stdout, 'data');
  if (!String(line).includes('serving')) throw new Error(`agent did not start: ${line}`);
  return child;
}

const quantile = (values, q) => {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))];
};

/** A subject's node: its namespace, agent (if any), invoker, network and 100 pod namespaces. */
async function prepare(subject, scratchRoot) {
  const scratch = fs.mkdtempSync(path.join(scratchRoot, 's-'));
  const made = async (role) => {
    const ns = await createNetworkNamespace(uniqueNetnsName(role));
    namespaces.push(ns);
    return ns;
  };
  const node = await made('bnode');
  const agentDir = path.join(scratch, 'agent');
  if (subject.agent) agents.push(await startAgent(node.path, agentDir, subject.agentArgs));
  const exec = { wrapper: ['nsenter', `--net=${node.path}`], env: { KUBEPLUG_CNI_AGENT_DIR: agentDir } };
  const invoker = new CniInvoker({ cniPath: subject.cniPath, cacheDir: path.join(scratch, 'cache'), exec });
  const list = {
    cniVersion: '1.0.0',
    name: 'kp-bench',
    plugins: [{ type: subject.main, bridge: 'kpbench0', isGateway: true, ipam: { type: subject.ipam, dataDir: path.join(scratch, 'ipam'), ranges: [[{ subnet: '10.77.0.0/16' }]] } }],
  };
  const pods = [];
  for (let i = 0; i < 100; i += 1) pods.push(await made('bpod'));
  const rt = (i) => ({ containerId: `bench-${i}`, netns: pods[i].path, ifName: 'eth0' });
  // One warm-up so the bridge exists, as on a node that already runs pods.
  await invoker.addNetworkList(list, rt(99));
  await invoker.delNetworkList(list, rt(99));
  return { subject, invoker, list, rt, add: [], del: [], concurrent: {} };
}

const namespaces = [];
const agents = [];

/**
 * Every subject measured in the same run, interleaved call by call, so a
 * machine that speeds up or slows down during the run (a shared VM does)
 * moves every subject's figures alike and the ratios stay fair.
 */
async function measureAll(subjects) {
  const scratchRoot = fs.mkdtempSync(path.join(os.tmpdir(), 'kp-bench-'));
  try {
    const prepared = [];
    for (const subject of subjects) prepared.push(await prepare(subject, scratchRoot));
    for (let i = 0; i < sequentialRuns; i += 1) {
      for (const p of prepared) {
        let started = performance.now();
        await p.invoker.addNetworkList(p.list, p.rt(i % 99));
        p.add.push(performance.now() - started);
        started = performance.now();
        await p.invoker.delNetworkList(p.list, p.rt(i % 99));
        p.del.push(performance.now() - started);
      }
    }
    for (const n of [10, 100]) {
      for (const p of prepared) {
        const started = performance.now();
        await Promise.all(Array.from({ length: n }, (_, i) => p.invoker.addNetworkList(p.list, p.rt(i))));
        p.concurrent[n] = performance.now() - started;
        await Promise.all(Array.from({ length: n }, (_, i) => p.invoker.delNetworkList(p.list, p.rt(i))));
      }
    }
    return prepared;
  } finally {
    for (const agent of agents) {
      if (agent.exitCode !== null) continue;
      agent.kill('SIGTERM');
      await once(agent, 'exit');
    }
    for (const ns of namespaces.reverse()) await ns.remove().catch(() => {});
    fs.rmSync(scratchRoot, { recursive: true, force: true });
  }
}

const cpu = os.cpus()[0]?.model ?? 'unknown cpu';
console.log(`node ${process.version}, ${os.cpus().length} cores (${cpu}), kernel ${os.release()}, ${sequentialRuns} sequential runs, NODE_EXTRA_CA_CERTS ${process.env.NODE_EXTRA_CA_CERTS ? 'set (adds ~36 ms to every Node start)' : 'unset'}`);
const available = subjects.filter((subject) => {
  if (fs.existsSync(path.join(subject.cniPath[0], subject.main))) return true;
  console.log(`${subject.label}: not found, skipped`);
  return false;
});
// The standalone subject runs apart: a Node start per call is heavy enough that its exits spill into the next
// subject's calls, which would bias an interleaved comparison of the other two.
const apart = available.filter((subject) => subject.main !== 'bridge' && subject.agent !== true);
const together = available.filter((subject) => !apart.includes(subject));
const measured = [...(await measureAll(together))];
for (const subject of apart) measured.push(...(await measureAll([subject])));
const results = measured.map(({ subject, add, del, concurrent }) => ({ subject, r: { add, del, concurrent } }));
for (const { subject, r } of results) {
  console.log(
    `${subject.label.padEnd(38)} ADD median ${quantile(r.add, 0.5).toFixed(1)} ms p99 ${quantile(r.add, 0.99).toFixed(1)} ms | DEL median ${quantile(r.del, 0.5).toFixed(1)} ms p99 ${quantile(r.del, 0.99).toFixed(1)} ms | 10 concurrent ADDs ${r.concurrent[10].toFixed(0)} ms, 100 concurrent ADDs ${r.concurrent[100].toFixed(0)} ms`,
  );
}
const upstream = results.find((x) => x.subject.main === 'bridge')?.r;
for (const { subject, r: ours } of results) {
  if (upstream === undefined || subject.main === 'bridge') continue;
  const ratio = (a, b) => (a / b).toFixed(2);
  console.log(
    `ratio ${subject.label} / upstream: ADD median ${ratio(quantile(ours.add, 0.5), quantile(upstream.add, 0.5))}x, DEL median ${ratio(quantile(ours.del, 0.5), quantile(upstream.del, 0.5))}x, ` +
      `ADD p99 ${ratio(quantile(ours.add, 0.99), quantile(upstream.add, 0.99))}x, 10 concurrent ${ratio(ours.concurrent[10], upstream.concurrent[10])}x, 100 concurrent ${ratio(ours.concurrent[100], upstream.concurrent[100])}x (target: ADD and DEL medians at most 1.5x)`,
  );
}
execFileSync('true');
