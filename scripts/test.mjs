#!/usr/bin/env node
// Runs the kit's own tap tests and ends with the plain line CI reads:
// "N passed, N failed, N skipped". A test is a subtest directly inside a test
// file; a file that crashes before any subtest counts as one failure.
import { spawn } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const tap = path.join(root, 'node_modules', '.bin', 'tap');
const child = spawn(tap, ['--reporter=tap', '--no-color', ...process.argv.slice(2)], {
  cwd: root,
  stdio: ['ignore', 'pipe', 'inherit'],
});

let passed = 0;
let failed = 0;
let skipped = 0;
let fileFailures = 0;
let buffered = '';
let failedInFile = false;

function take(line) {
  process.stdout.write(`${line}\n`);
  const inFile = /^ {4}(not ok|ok) \d+ - (.*)$/.exec(line);
  if (inFile !== null) {
    if (inFile[1] === 'not ok') {
      failed += 1;
      failedInFile = true;
    } else if (/# (SKIP|TODO)\b/.test(inFile[2])) skipped += 1;
    else passed += 1;
    return;
  }
  const file = /^(not ok|ok) \d+ - (.*)$/.exec(line);
  if (file !== null) {
    if (file[1] === 'not ok' && !failedInFile) fileFailures += 1;
    else if (/# SKIP\b/.test(file[2])) skipped += 1;
    failedInFile = false;
  }
}

child.stdout.on('data', (chunk) => {
  buffered += chunk.toString();
  const lines = buffered.split('\n');
  buffered = lines.pop() ?? '';
  lines.forEach(take);
});

child.on('close', (code) => {
  if (buffered !== '') take(buffered);
  failed += fileFailures;
  console.log(`${passed} passed, ${failed} failed, ${skipped} skipped`);
  process.exit(failed > 0 || code !== 0 ? 1 : 0);
});
