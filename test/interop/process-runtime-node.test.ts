import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import t from 'tap';
import { bridgeNetworkConfig, kubeplugCniPlugins, processRuntimeNodeUnavailable, startProcessRuntimeNode, type CriNode } from '../../conformance/peers/index.js';
import { packageRoot } from '../../specs/registry/index.js';

// startProcessRuntimeNode runs `serve cri` exactly as the containerd node runs
// containerd; a stand-in CLI (fixtures/fake-serve-cri.mjs) records the flags
// it gets, so this runs before the real runtime exists and checks the node's
// own mechanics: flags, namespaces, relay, memory, and cleanup.

const fakeCli = path.join(path.dirname(fileURLToPath(import.meta.url)), 'fixtures', 'fake-serve-cri.mjs');
const criBuilt = fs.existsSync(path.join(packageRoot(), 'dist', 'specs', 'cri', 'index.js')) ? undefined : 'dist/specs/cri is not built (run npm run build)';
const skip = processRuntimeNodeUnavailable(fakeCli) ?? criBuilt ?? (fs.existsSync('/bin/busybox') ? undefined : 'needs /bin/busybox');

interface RecordedArgs {
  readonly command: string[];
  readonly flags: Record<string, string[]>;
}

t.test('the node runs serve cri with its own socket, root, CNI folders and relayed registries, isolated, and leaves nothing after stop', { skip: skip ?? false }, async (t) => {
  let stop: (() => Promise<unknown>) | undefined;
  t.teardown(() => stop?.());
  const registryHost = '127.0.0.1:5999';
  const node: CriNode = await startProcessRuntimeNode({
    cliPath: fakeCli,
    cniPlugins: kubeplugCniPlugins(),
    networkConfig: bridgeNetworkConfig({ plugins: 'kubeplug', name: 'kp-fake', bridge: 'kpfake0', subnet: '10.91.0.0/16' }),
    loopbackRegistries: [registryHost],
    ociRuntime: 'crun',
    registerStop: (registered) => (stop = registered),
  });
  t.equal(node.kind, 'kubeplug');
  t.equal(node.version.runtimeName, 'fake-serve-cri', 'Version came from the started CLI');

  const recorded = JSON.parse(fs.readFileSync(path.join(node.dir, 'root', 'argv.json'), 'utf8')) as RecordedArgs;
  t.same(recorded.command, ['serve', 'cri'], 'the command is serve cri');
  t.same(recorded.flags['--endpoint'], [node.endpoint], '--endpoint is the node endpoint');
  t.same(recorded.flags['--insecure-registry'], [registryHost], 'each loopback registry is an --insecure-registry');
  t.same(recorded.flags['--oci-runtime'], ['crun'], '--oci-runtime as asked');
  const confDir = recorded.flags['--cni-conf-dir']?.[0] ?? '';
  t.same(fs.readdirSync(confDir), ['10-kp-fake.conflist'], 'the conf dir holds the network config list');
  const binDir = recorded.flags['--cni-path']?.[0] ?? '';
  t.same(fs.readdirSync(binDir).sort(), ['kubeplug-bridge', 'kubeplug-host-local', 'loopback'], 'the CNI path links the plugins and loopback');

  t.equal(fs.statSync(`/proc/${node.pid}/ns/net`).ino, fs.statSync(node.netns.path).ino, 'the runtime is in the node network namespace');
  t.not(fs.readlinkSync(`/proc/${node.pid}/ns/mnt`), fs.readlinkSync('/proc/self/ns/mnt'), 'and in a mount namespace of its own');
  const listening = await node.netns.exec('/bin/busybox', ['netstat', '-ltn']);
  t.match(listening.stdout, registryHost, 'the registry address is listened on inside the node');
  const memory = node.memory();
  t.ok(memory.runtimeKib > 0, `the runtime's resident memory is read (${memory.runtimeKib} KiB)`);
  t.equal(memory.shimCount, 0, 'no kubeplug-shim is running');

  t.same(await node.stop(), [], 'every cleanup step succeeded');
  t.same(node.leftovers(), { processes: [], mounts: [], cgroups: [], networkNamespace: false, folder: false }, 'nothing of the node is left, the detached process included');
});
