#!/usr/bin/env node
// Regenerates proto/gen/ from the wire contracts with buf and ts-proto
// (options in proto/buf.gen.yaml). With --check it generates into a
// temporary folder instead and fails if proto/gen/ differs: CI's drift check.
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const protoDir = path.join(root, 'proto');
const buf = path.join(root, 'node_modules', '.bin', 'buf');
const check = process.argv.includes('--check');

function generate(outputBase) {
  execFileSync(buf, ['generate', '--template', 'buf.gen.yaml', '--output', outputBase], { cwd: protoDir, stdio: 'inherit' });
}

function listFiles(dir, prefix = '') {
  if (!fs.existsSync(dir)) return [];
  return fs.readdirSync(dir, { withFileTypes: true }).flatMap((entry) =>
    entry.isDirectory() ? listFiles(path.join(dir, entry.name), path.join(prefix, entry.name)) : [path.join(prefix, entry.name)],
  );
}

if (!check) {
  // buf.gen.yaml has clean: true, so files no longer generated disappear.
  generate('.');
  console.log(`generated ${listFiles(path.join(protoDir, 'gen')).length} files into proto/gen/`);
  process.exit(0);
}

const scratch = fs.mkdtempSync(path.join(os.tmpdir(), 'kubeplug-gen-'));
try {
  generate(scratch);
  const fresh = path.join(scratch, 'gen');
  const committed = path.join(protoDir, 'gen');
  const names = new Set([...listFiles(fresh), ...listFiles(committed)]);
  const drift = [...names].sort().filter((name) => {
    const a = path.join(fresh, name);
    const b = path.join(committed, name);
    return !fs.existsSync(a) || !fs.existsSync(b) || !fs.readFileSync(a).equals(fs.readFileSync(b));
  });
  if (drift.length > 0) {
    console.error(`proto/gen/ is out of date with the wire contracts (${drift.length} file(s)): ${drift.join(', ')}`);
    console.error('run `npm run gen` and commit the result');
    process.exit(1);
  }
  console.log(`proto/gen/ matches the wire contracts (${names.size} files)`);
} finally {
  fs.rmSync(scratch, { recursive: true, force: true });
}
