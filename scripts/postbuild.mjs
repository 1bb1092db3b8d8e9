#!/usr/bin/env node
// After tsc: makes the CNI reference plugins runnable as CNI executables.
// dist/cni-bin/<type> links to the plugin's compiled entry, so CNI_PATH can
// point at dist/cni-bin (Node resolves the link to the .js file, so it loads
// as an ES module), and every entry gets its executable bit.
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

fs.mkdirSync(cniBin, { recursive: true });
for (const [type, entry] of Object.entries(plugins)) {
  const target = path.join(dist, entry);
  const link = path.join(cniBin, type);
  fs.rmSync(link, { force: true });
  if (!fs.existsSync(target)) continue; // not built yet (the plugin lands later)
  fs.chmodSync(target, 0o755);
  fs.symlinkSync(path.relative(cniBin, target), link);
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
for (const entry of ['runner/cli.js', 'conformance/fixtures/csi-identity/serve-fixture.js']) {
  const file = path.join(dist, entry);
  if (fs.existsSync(file)) fs.chmodSync(file, 0o755);
}
