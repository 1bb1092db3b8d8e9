#!/usr/bin/env node
// `npm run bench [-- NAME…]`: runs the named benchmarks (all when none is named).
// Each prints its environment and ratios against a peer measured in the same run.
import { spawnSync } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const here = path.dirname(fileURLToPath(import.meta.url));
const benchmarks = { 'cli-startup': 'cli-startup.mjs', cni: 'cni.mjs', csi: 'csi.mjs', cri: 'cri.mjs', kubelet: 'kubelet.mjs', all: 'all.mjs' };
// Names choose benchmarks; everything from the first flag on goes to each of them (`-- csi --peer-endpoint …`).
const firstFlag = process.argv.slice(2).findIndex((arg) => arg.startsWith('-'));
const names = firstFlag < 0 ? process.argv.slice(2) : process.argv.slice(2, 2 + firstFlag);
const passed = firstFlag < 0 ? [] : process.argv.slice(2 + firstFlag);
const chosen = names.length > 0 ? names : Object.keys(benchmarks);
let failed = false;
for (const name of chosen) {
  const file = benchmarks[name];
  if (file === undefined) {
    console.error(`unknown benchmark "${name}"; choose from ${Object.keys(benchmarks).join(', ')}`);
    process.exit(2);
  }
  console.log(`\n== ${name}`);
  const run = spawnSync(process.execPath, [path.join(here, file), ...passed], { stdio: 'inherit' });
  failed ||= run.status !== 0;
}
process.exit(failed ? 1 : 0);
