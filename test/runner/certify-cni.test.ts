/**
 * `kubeplug certify cni` as users run it: our plugins certify with their
 * node agent; Debian's upstream bridge + host-local fail exactly on their
 * recorded deviations and certify only with the known-deviations file.
 */
import fs from 'node:fs';
import path from 'node:path';
import t from 'tap';
import { packageRoot } from '../../specs/registry/index.js';
import { certifyCni, deviationIdsOf } from '../helpers/certify-cli.js';
import { tempDir } from '../helpers/temp-dir.js';

const root = packageRoot();
const deviationsFile = path.join(root, 'conformance/known-deviations/debian-containernetworking-plugins-1.1.1.txt');
const agentEntry = path.join(root, 'dist/reference-plugins/host-local-bridge/node-agent/kubeplug-cni-agent.js');
// Recorded as intermittent in the deviations file: they may pass in a run (then they are reported stale, not failed).
const intermittent = new Set(['CNI-PROTO-014', 'CNI-DEL-002']);

const skip =
  process.getuid?.() !== 0
    ? 'needs root (network namespaces)'
    : !fs.existsSync('/usr/lib/cni/bridge')
      ? "needs Debian's containernetworking-plugins"
      : !fs.existsSync(path.join(root, 'dist/cni-bin/kubeplug-bridge'))
        ? 'needs npm run build'
        : false;



function writeConf(dir: string, conf: object): string {
  const file = path.join(dir, 'net.conflist');
  fs.writeFileSync(file, JSON.stringify(conf));
  return file;
}

const deviationIds = deviationIdsOf(deviationsFile);

const upstreamConf = {
  cniVersion: '1.0.0',
  name: 'kpup',
  plugins: [{ type: 'bridge', bridge: 'kpbr0', isGateway: true, ipam: { type: 'host-local', ranges: [[{ subnet: '10.125.0.0/24' }]] } }],
};

t.setTimeout(1_800_000);
t.comment('timeout=1800000');

t.test('our plugins served by kubeplug-cni-agent certify: exit 0 and the agent named in the certificate', { skip, timeout: 900_000 }, async (t) => {
  const dir = tempDir(t);
  const conf = writeConf(dir, {
    cniVersion: '1.1.0',
    name: 'kpours',
    plugins: [{ type: 'kubeplug-bridge', bridge: 'kpbr0', isGateway: true, ipam: { type: 'kubeplug-host-local', ranges: [[{ subnet: '10.126.0.0/24' }]] } }],
  });
  const { code, certificate, stdout } = await certifyCni(['--cni-path', path.join(root, 'dist/cni-bin'), '--conf', conf, '--node-agent', agentEntry], dir);
  t.equal(code, 0, stdout.slice(-3000));
  t.equal(certificate.verdict.certified, true);
  t.equal(certificate.runs[0]?.subject['nodeAgent'], agentEntry);
});

t.test("upstream bridge + host-local fail exactly their recorded deviations without the file", { skip, timeout: 900_000 }, async (t) => {
  const dir = tempDir(t);
  const { code, certificate } = await certifyCni(['--cni-path', '/usr/lib/cni', '--conf', writeConf(dir, upstreamConf)], dir);
  t.equal(code, 1, 'not certified');
  const failed = (certificate.runs[0]?.requirements ?? []).filter((r) => r.status === 'fail' || r.status === 'error').map((r) => r.id);
  t.same(failed.filter((id) => !deviationIds.includes(id)), [], 'every failure is a recorded deviation');
  t.same(deviationIds.filter((id) => !intermittent.has(id) && !failed.includes(id)), [], 'every steady deviation still fails');
});

t.test('upstream bridge + host-local certify with the known-deviations file', { skip, timeout: 900_000 }, async (t) => {
  const dir = tempDir(t);
  const { code, certificate } = await certifyCni(['--cni-path', '/usr/lib/cni', '--conf', writeConf(dir, upstreamConf), '--known-deviations', deviationsFile], dir);
  t.equal(code, 0, 'certified with the deviations');
  const byId = new Map((certificate.runs[0]?.requirements ?? []).map((r) => [r.id, r.status]));
  for (const id of deviationIds) t.ok(['known', ...(intermittent.has(id) ? ['stale'] : [])].includes(byId.get(id) ?? ''), `${id} is reported as ${byId.get(id)}`);
});
