#!/usr/bin/env node
// Start-up cost of the kubeplug CLI against a bare Node.js start measured in
// the same run: `node -e ''` is the floor no CLI written for Node can beat.
// Needs a build (npm run build). Prints medians and ratios; asserts nothing.
import { execFileSync } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const cli = path.join(root, 'dist', 'runner', 'cli.js');
const runs = Number(process.env.BENCH_RUNS ?? 15);

function median(command, args) {
  const times = [];
  for (let i = 0; i < runs; i += 1) {
    const started = process.hrtime.bigint();
    execFileSync(command, args, { stdio: 'ignore' });
    times.push(Number(process.hrtime.bigint() - started) / 1e6);
  }
  times.sort((a, b) => a - b);
  return times[Math.floor(times.length / 2)];
}

const peer = median(process.execPath, ['-e', '']);
const rows = [
  ['node -e ""  (peer)', peer],
  ['kubeplug --help', median(process.execPath, [cli, '--help'])],
  ['kubeplug list csi', median(process.execPath, [cli, 'list', 'csi'])],
];
console.log(`node ${process.version}, ${runs} runs each, NODE_EXTRA_CA_CERTS ${process.env.NODE_EXTRA_CA_CERTS ? 'set' : 'unset'}`);
for (const [name, ms] of rows) console.log(`${name.padEnd(22)} ${ms.toFixed(1).padStart(7)} ms  ${(ms / peer).toFixed(2)}x peer`);
