#!/usr/bin/env node
// `kubeplug certify all`, the README's main command, run once as a user runs
// it (the whole of every suite on kubeplug's own node): its wall time in all
// and per interface (each interface's part started, its suite run, its part
// stopped), against the target of 120 s for the whole. There is no peer to
// compare with: no other tool certifies a node's four interfaces in one run,
// so the figure is read against the target and the machine's load.
// Flags after `--` go to `certify all` (e.g. `--focus …`). Needs root and a
// build (`npm run bench -- all` builds first).
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const targetSeconds = 120;
const passed = process.argv.slice(2);

const cpu = os.cpus()[0]?.model ?? 'unknown cpu';
const loadAverage = () => os.loadavg().map((value) => value.toFixed(2)).join(' ');
console.log(
  `node ${process.version}, ${os.cpus().length} cores (${cpu}), kernel ${os.release()}, load average ${loadAverage()} at the start, NODE_EXTRA_CA_CERTS ${process.env.NODE_EXTRA_CA_CERTS ? 'set' : 'unset'}`,
);
if (process.getuid?.() !== 0) {
  console.log('certify all needs root: not measured');
  process.exit(2);
}

const reportDir = fs.mkdtempSync(path.join(os.tmpdir(), 'kp-bench-all-'));
const report = path.join(reportDir, 'node.json');
const started = performance.now();
const child = spawn(process.execPath, [path.join(root, 'dist', 'runner', 'cli.js'), 'certify', 'all', '--report', `json=${report}`, ...passed], {
  cwd: root,
  stdio: ['ignore', 'ignore', 'pipe'],
});
// Progress lines, shortened to the interface headers and the cases that did not pass.
child.stderr.setEncoding('utf8');
let pending = '';
child.stderr.on('data', (text) => {
  pending += text;
  const lines = pending.split('\n');
  pending = lines.pop() ?? '';
  for (const line of lines) if (/^(== |kubeplug certify all|FAIL|ERROR|SKIP)/.test(line)) console.log(`  ${line}`);
});
const stopOnSignal = (signal) => child.kill(signal);
process.on('SIGINT', stopOnSignal);
const code = await new Promise((resolve) => child.once('close', (exitCode) => resolve(exitCode)));
const wallSeconds = (performance.now() - started) / 1000;
console.log(`load average ${loadAverage()} at the end; certify all exited ${code}`);

let node;
try {
  node = JSON.parse(fs.readFileSync(report, 'utf8'));
} catch {
  console.log(`no certificate written: wall time ${wallSeconds.toFixed(1)} s (target ≤ ${targetSeconds} s)`);
  fs.rmSync(reportDir, { recursive: true, force: true });
  process.exit(1);
}
fs.rmSync(reportDir, { recursive: true, force: true });

const rows = node.interfaces.map((entry) => {
  const cases = entry.certificate?.runs?.[0]?.cases ?? [];
  const count = (outcome) => cases.filter((c) => c.outcome === outcome).length;
  return [
    entry.iface,
    entry.selected ? `${(entry.durationMs / 1000).toFixed(1)} s` : 'not run',
    entry.selected ? `${((entry.durationMs / 1000 / wallSeconds) * 100).toFixed(0)}%` : '',
    `${cases.length} cases (${count('pass')} pass, ${count('fail')} fail, ${count('error')} error, ${count('skipped')} skipped, ${count('not-applicable')} n/a)`,
    entry.verdict.certified ? 'certified' : `not certified (exit ${entry.verdict.exitCode})`,
  ];
});
rows.push(['total', `${wallSeconds.toFixed(1)} s`, '100%', `process start to exit, target ≤ ${targetSeconds} s`, node.verdict.certified ? 'certified' : `not certified (exit ${node.verdict.exitCode})`]);
const widths = rows[0].map((_, column) => Math.max(...rows.map((row) => row[column].length)));
for (const row of rows) console.log(`  ${row.map((cell, column) => (column === 1 || column === 2 ? cell.padStart(widths[column]) : cell.padEnd(widths[column]))).join('  ')}`);
const ratio = wallSeconds / targetSeconds;
console.log(`certify all: ${wallSeconds.toFixed(1)} s, ${ratio.toFixed(2)}× the ${targetSeconds} s target: ${ratio <= 1 ? 'met' : 'missed'}`);
process.exit(code === 0 ? 0 : 1);
