#!/usr/bin/env node
// After tsc: makes the CNI reference plugins runnable as CNI executables.
// dist/cni-bin/<type> is the exec shim (node-agent/cni-exec-shim.c, our own
// C, compiled here when a C compiler is present): it hands calls to a
// kubeplug-cni-agent when one serves the caller's network namespace and
// otherwise execs the plugin's Node entry. Without a compiler it is a link
// to that entry (Node resolves the link to the .js file, so it loads as an
// ES module). Every entry gets its executable bit.
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const dist = path.join(root, 'dist');
const cniBin = path.join(dist, 'cni-bin');

/** CNI plugin type → compiled entry, relative to dist/. */
const plugins = {
  'kubeplug-bridge': 'reference-plugins/host-local-bridge/bridge/kubeplug-bridge.js',
  'kubeplug-host-local': 'reference-plugins/host-local-bridge/host-local/kubeplug-host-local.js',
};

const shimSource = path.join(root, 'reference-plugins/host-local-bridge/node-agent/cni-exec-shim.c');
const compiler = ['cc', 'gcc'].find((name) => spawnSync(name, ['--version'], { stdio: 'ignore' }).status === 0);

/** Compiles the exec shim for one plugin type; false (with the reason on stderr) when it cannot. */
function compileShim(type, target, output) {
  if (compiler === undefined || process.env.KUBEPLUG_CNI_SHIM === 'off') return false;
  const defines = [`-DKUBEPLUG_PLUGIN="${type}"`, `-DKUBEPLUG_FALLBACK="${path.relative(cniBin, target)}"`];
  const run = spawnSync(compiler, ['-O2', '-Wall', '-Wextra', '-Werror', ...defines, '-o', output, shimSource], { encoding: 'utf8' });
  if (run.status === 0) return true;
  process.stderr.write(`postbuild: cannot compile the CNI exec shim for ${type}, linking the Node entry instead:\n${run.stderr ?? run.error}\n`);
  fs.rmSync(output, { force: true });
  return false;
}

fs.mkdirSync(cniBin, { recursive: true });
for (const [type, entry] of Object.entries(plugins)) {
  const target = path.join(dist, entry);
  const executable = path.join(cniBin, type);
  fs.rmSync(executable, { force: true });
  if (!fs.existsSync(target)) continue; // not built yet (the plugin lands later)
  fs.chmodSync(target, 0o755);
  if (!compileShim(type, target, executable)) fs.symlinkSync(path.relative(cniBin, target), executable);
}
// Each broken CNI fixture is one name for the same executable, which reads its defect from that name.
const fixtureEntry = path.join(dist, 'conformance/fixtures/cni/broken-plugin.js');
const defectsModule = path.join(dist, 'conformance/fixtures/cni/cni-defects.js');
if (fs.existsSync(fixtureEntry) && fs.existsSync(defectsModule)) {
  const fixtureBin = path.join(dist, 'cni-fixtures');
  fs.rmSync(fixtureBin, { recursive: true, force: true });
  fs.mkdirSync(fixtureBin, { recursive: true });
  fs.chmodSync(fixtureEntry, 0o755);
  const { cniDefects } = await import(defectsModule);
  for (const defect of cniDefects) fs.symlinkSync(path.relative(fixtureBin, fixtureEntry), path.join(fixtureBin, defect.name));
}
// The node agent's exec server sits next to the agent's entry, which looks for it there.
const execServerSource = path.join(root, 'reference-plugins/host-local-bridge/node-agent/netns-exec-server.c');
const execServer = path.join(dist, 'reference-plugins/host-local-bridge/node-agent/kubeplug-netns-exec');
fs.rmSync(execServer, { force: true });
if (compiler !== undefined && process.env.KUBEPLUG_CNI_SHIM !== 'off' && fs.existsSync(path.dirname(execServer))) {
  const run = spawnSync(compiler, ['-O2', '-Wall', '-Wextra', '-Werror', '-o', execServer, execServerSource], { encoding: 'utf8' });
  if (run.status !== 0) {
    process.stderr.write(`postbuild: cannot compile the node agent's exec server; the agent will run commands as child processes:\n${run.stderr ?? run.error}\n`);
    fs.rmSync(execServer, { force: true });
  }
}
// The dir-volume driver's mount server sits next to the module that starts it; without it the driver runs mount(8) and losetup(8).
const mountServerSource = path.join(root, 'reference-plugins/dir-volume/mount-server/mount-server.c');
const mountServer = path.join(dist, 'reference-plugins/dir-volume/mount-server/kubeplug-mount-server');
fs.rmSync(mountServer, { force: true });
if (compiler !== undefined && process.env.KUBEPLUG_MOUNT_SERVER !== 'off' && fs.existsSync(path.dirname(mountServer))) {
  const run = spawnSync(compiler, ['-O2', '-Wall', '-Wextra', '-Werror', '-o', mountServer, mountServerSource], { encoding: 'utf8' });
  if (run.status !== 0) {
    process.stderr.write(`postbuild: cannot compile the dir-volume mount server; the driver will run mount(8) and losetup(8):\n${run.stderr ?? run.error}\n`);
    fs.rmSync(mountServer, { force: true });
  }
}
// The process runtime's shim and pause binaries sit next to the modules that name them. Both are static
// when the C library allows it: the pause binary runs inside an otherwise empty rootfs.
for (const [source, output] of [
  ['reference-plugins/process-runtime/oci/shim/kubeplug-shim.c', 'reference-plugins/process-runtime/oci/shim/kubeplug-shim'],
  ['reference-plugins/process-runtime/oci/pause/kubeplug-pause.c', 'reference-plugins/process-runtime/oci/pause/kubeplug-pause'],
]) {
  const binary = path.join(dist, output);
  fs.rmSync(binary, { force: true });
  if (compiler === undefined || !fs.existsSync(path.join(root, source))) continue;
  fs.mkdirSync(path.dirname(binary), { recursive: true });
  const flags = ['-O2', '-Wall', '-Wextra', '-Werror', '-o', binary, path.join(root, source)];
  let run = spawnSync(compiler, ['-static', ...flags], { encoding: 'utf8' });
  if (run.status !== 0) run = spawnSync(compiler, flags, { encoding: 'utf8' });
  if (run.status !== 0) {
    process.stderr.write(`postbuild: cannot compile ${source}; the process runtime cannot run containers:\n${run.stderr ?? run.error}\n`);
    fs.rmSync(binary, { force: true });
  }
}
for (const entry of ['runner/cli.js', 'conformance/fixtures/csi-identity/serve-fixture.js', 'reference-plugins/host-local-bridge/node-agent/kubeplug-cni-agent.js']) {
  const file = path.join(dist, entry);
  if (fs.existsSync(file)) fs.chmodSync(file, 0o755);
}
