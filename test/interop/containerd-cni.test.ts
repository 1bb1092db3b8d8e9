import { execFile } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { promisify } from 'node:util';
import t from 'tap';
import { PodSandboxConfig, PodSandboxState, callUnary } from '../../specs/cri/index.js';
import { packageRoot } from '../../specs/registry/index.js';
import { containerdNodeUnavailable, startContainerdNode, type ContainerdNode } from '../helpers/containerd-node.js';
import { busyboxImageUnavailable, debianBusybox, writeBusyboxImageArchive } from '../helpers/oci-image.js';

// An independent CNI client: Debian's containerd, whose CRI plugin calls
// upstream libcni through go-cni, runs a pod sandbox on our reference
// plugins and tears it down, on a node isolated from the machine's network.

const execFileAsync = promisify(execFile);

const cniBin = path.join(packageRoot(), 'dist', 'cni-bin');
const pluginTypes = ['kubeplug-bridge', 'kubeplug-host-local'] as const;
const networkName = 'kp-ctd';
const bridgeName = 'kpctd0';
const subnet = { cidr: '10.88.0.0/16', base: '10.88.0.0', prefixLength: 16, gateway: '10.88.0.1' } as const;
const sandboxImage = 'kubeplug.test/pause:1';

function pluginsUnbuilt(): string | undefined {
  const missing = pluginTypes.filter((type) => !fs.existsSync(path.join(cniBin, type)));
  return missing.length === 0 ? undefined : `${missing.join(', ')} not built in ${cniBin} (run npm run build)`;
}

const skip = containerdNodeUnavailable() ?? busyboxImageUnavailable() ?? pluginsUnbuilt();

function ipv4ToNumber(address: string): number {
  return address.split('.').reduce((value, octet) => value * 256 + Number(octet), 0);
}

function inSubnet(address: string): boolean {
  const size = 2 ** (32 - subnet.prefixLength);
  const base = ipv4ToNumber(subnet.base);
  return net.isIPv4(address) && ipv4ToNumber(address) >= base && ipv4ToNumber(address) < base + size;
}

interface IpAddressInfo {
  family: string;
  local: string;
  prefixlen: number;
}
interface IpLink {
  ifname: string;
  addr_info?: IpAddressInfo[];
}

function parseIpJson(stdout: string): IpLink[] {
  return stdout.trim() === '' ? [] : (JSON.parse(stdout) as IpLink[]);
}

function ipv4Addresses(links: readonly IpLink[]): string[] {
  return links.flatMap((link) => (link.addr_info ?? []).filter((info) => info.family === 'inet').map((info) => `${info.local}/${info.prefixlen}`));
}

/** What a test needs to know about the running sandbox. */
interface Sandbox {
  readonly id: string;
  /** The address containerd took from the CNI result. */
  readonly ip: string;
  /** The pod's network namespace as containerd mounted it (in its own mount namespace). */
  readonly netnsPath: string;
  /** The sandbox's (pause) process. */
  readonly pid: number;
}

/** containerd's verbose PodSandboxStatus info: `{"pid":…,"runtimeSpec":{"linux":{"namespaces":[{"type":"network","path":…}]}}}`. */
function sandboxProcess(raw: string | undefined): { pid: number; netnsPath: string } {
  const info = JSON.parse(raw ?? 'null') as { pid?: unknown; runtimeSpec?: { linux?: { namespaces?: { type?: unknown; path?: unknown }[] } } } | null;
  const pid = info?.pid;
  const netnsPath = info?.runtimeSpec?.linux?.namespaces?.find((namespace) => namespace.type === 'network')?.path;
  if (typeof pid !== 'number' || typeof netnsPath !== 'string') throw new Error(`containerd's sandbox info has no pid or network namespace path: ${raw}`);
  return { pid, netnsPath };
}

const inSeconds = (seconds: number): { deadline: Date } => ({ deadline: new Date(Date.now() + seconds * 1000) });

let nodeUnderTest: ContainerdNode | undefined;
let sandbox: Sandbox | undefined;
let sandboxRemoved = false;

function requireNode(): ContainerdNode {
  if (nodeUnderTest === undefined) throw new Error('no containerd node: its start-up failed above');
  return nodeUnderTest;
}

function requireSandbox(): Sandbox {
  if (sandbox === undefined) throw new Error('no sandbox: RunPodSandbox failed above');
  return sandbox;
}

function ipamDir(): string {
  return path.join(requireNode().dir, 'ipam');
}

/** The addresses kubeplug-host-local holds in dataDir: its files named by an address. */
function reservedAddresses(): string[] {
  const dir = path.join(ipamDir(), networkName);
  return fs.existsSync(dir) ? fs.readdirSync(dir).filter((entry) => net.isIP(entry) !== 0) : [];
}

async function nodeLinks(args: readonly string[]): Promise<IpLink[]> {
  return parseIpJson((await requireNode().netns.exec('ip', ['-j', ...args])).stdout);
}

/** Host-side veths: the links enslaved to the bridge. */
async function bridgePorts(): Promise<string[]> {
  return (await nodeLinks(['link', 'show', 'master', bridgeName])).map((link) => link.ifname);
}

if (skip === undefined) {
  t.before(async () => {
    const node = await startContainerdNode(t, {
      cniPlugins: Object.fromEntries(pluginTypes.map((type) => [type, path.join(cniBin, type)])),
      networkConfig: (dir) => ({
        cniVersion: '1.0.0',
        name: networkName,
        plugins: [
          {
            type: 'kubeplug-bridge',
            bridge: bridgeName,
            isGateway: true,
            ipam: { type: 'kubeplug-host-local', dataDir: path.join(dir, 'ipam'), ranges: [[{ subnet: subnet.cidr }]] },
          },
        ],
      }),
      sandboxImage,
    });
    t.comment(`containerd ${node.version.runtimeVersion} (CRI ${node.version.runtimeApiVersion}), snapshotter ${node.snapshotter}, network namespace ${node.netns.name}`);
    const archive = await writeBusyboxImageArchive({ dir: node.dir, reference: sandboxImage, entrypoint: [debianBusybox, 'sleep', '2147483647'] });
    await node.importImage(archive.path, sandboxImage);
    nodeUnderTest = node;
  });
}

t.test('RunPodSandbox runs CNI ADD: the pod gets eth0 with an address from the range, the one containerd reports', { skip: skip ?? false }, async (t) => {
  const node = requireNode();
  const { runtime } = node;
  const config = PodSandboxConfig.fromPartial({
    metadata: { name: 'kp-ctd-pod', uid: randomUUID(), namespace: 'kubeplug-interop', attempt: 0 },
    hostname: 'kp-ctd-pod',
    linux: { cgroupParent: node.cgroupParent },
  });
  let id: string | undefined;
  node.defer(async () => {
    if (id !== undefined && !sandboxRemoved) await callUnary(runtime, runtime.removePodSandbox, { podSandboxId: id }, inSeconds(30));
  }, 'remove the pod sandbox');
  ({ podSandboxId: id } = await callUnary(runtime, runtime.runPodSandbox, { config, runtimeHandler: '' }, inSeconds(60)));

  const status = await callUnary(runtime, runtime.podSandboxStatus, { podSandboxId: id, verbose: true }, inSeconds(10));
  sandbox = { id, ip: status.status?.network?.ip ?? '', ...sandboxProcess(status.info['info']) };
  t.equal(status.status?.state, PodSandboxState.SANDBOX_READY, 'the sandbox is ready');
  t.ok(inSubnet(sandbox.ip), `containerd reports ${sandbox.ip}, inside ${subnet.cidr}`);
  const eth0 = parseIpJson((await node.execInPodNetwork(sandbox.netnsPath, 'ip', ['-j', 'address', 'show', 'dev', 'eth0'])).stdout);
  t.same(ipv4Addresses(eth0), [`${sandbox.ip}/${subnet.prefixLength}`], 'eth0 in the pod carries that address with the range prefix');
});

t.test("the sandbox lives in the pod network namespace containerd gave CNI, mounted under its state folder", { skip: skip ?? false }, async (t) => {
  const node = requireNode();
  const { pid, netnsPath } = requireSandbox();
  t.ok(netnsPath.startsWith(`${node.dir}/`), `${netnsPath} is under the node's folder, not the machine's /var/run/netns`);
  t.equal(fs.statSync(`/proc/${pid}/ns/net`).ino, fs.statSync(node.pathSeenByRuntime(netnsPath)).ino, 'the pause process is in that namespace');
});

t.test("kubeplug-host-local reserves the address in dataDir for the sandbox's eth0", { skip: skip ?? false }, async (t) => {
  const { id, ip } = requireSandbox();
  t.same(reservedAddresses(), [ip], 'exactly one reservation, for the pod address');
  t.equal(fs.readFileSync(path.join(ipamDir(), networkName, ip), 'utf8'), `${id}\r\neth0`, 'held by the sandbox ID and eth0, as upstream host-local writes it');
});

t.test("the bridge and the host-side veth are in the node's network namespace and not the machine's", { skip: skip ?? false }, async (t) => {
  const bridge = await nodeLinks(['address', 'show', 'dev', bridgeName]);
  t.same(ipv4Addresses(bridge), [`${subnet.gateway}/${subnet.prefixLength}`], 'isGateway put the gateway address on the bridge');
  const ports = await bridgePorts();
  t.equal(ports.length, 1, `one host-side veth on ${bridgeName}: ${ports.join(', ')}`);
  const machineLinks = parseIpJson((await execFileAsync('ip', ['-j', 'link', 'show'])).stdout).map((link) => link.ifname);
  t.same(machineLinks.filter((name) => name === bridgeName || ports.includes(name)), [], "neither is in the machine's namespace");
});

t.test("the pod answers a ping from the node's namespace across the bridge", { skip: skip ?? false }, async (t) => {
  const { ip } = requireSandbox();
  const { stdout } = await requireNode().netns.exec(debianBusybox, ['ping', '-c', '1', '-w', '5', ip]);
  t.match(stdout, /1 packets received/, 'one echo reply came back');
});

t.test("StopPodSandbox runs CNI DEL: the reservation is released and the veth and the pod's network namespace are gone", { skip: skip ?? false }, async (t) => {
  const node = requireNode();
  const { id, netnsPath } = requireSandbox();
  t.equal((await bridgePorts()).length, 1, 'the veth is there before the stop');
  await callUnary(node.runtime, node.runtime.stopPodSandbox, { podSandboxId: id }, inSeconds(60));
  t.same(reservedAddresses(), [], 'no reservation is left in dataDir');
  t.same(await bridgePorts(), [], 'no veth is left on the bridge');
  t.notOk(fs.existsSync(node.pathSeenByRuntime(netnsPath)), 'containerd removed the pod network namespace');
  const status = await callUnary(node.runtime, node.runtime.podSandboxStatus, { podSandboxId: id, verbose: false }, inSeconds(10));
  t.equal(status.status?.state, PodSandboxState.SANDBOX_NOTREADY, 'the sandbox is not ready');
});

t.test('a second StopPodSandbox runs CNI DEL again and succeeds, changing nothing', { skip: skip ?? false }, async (t) => {
  const node = requireNode();
  const { id } = requireSandbox();
  await callUnary(node.runtime, node.runtime.stopPodSandbox, { podSandboxId: id }, inSeconds(60));
  t.same(reservedAddresses(), [], 'still no reservation');
  t.same(await bridgePorts(), [], 'still no veth');
});

t.test('RemovePodSandbox removes the stopped sandbox: its status is NOT_FOUND afterwards', { skip: skip ?? false }, async (t) => {
  const node = requireNode();
  const { id } = requireSandbox();
  await callUnary(node.runtime, node.runtime.removePodSandbox, { podSandboxId: id }, inSeconds(60));
  sandboxRemoved = true;
  await t.rejects(callUnary(node.runtime, node.runtime.podSandboxStatus, { podSandboxId: id, verbose: false }, inSeconds(10)), { code: 'NOT_FOUND' }, 'PodSandboxStatus fails with NOT_FOUND');
  t.same(reservedAddresses(), [], 'no reservation came back');
});

t.test('stopping the node leaves no process, mount, cgroup, namespace or folder behind', { skip: skip ?? false }, async (t) => {
  const node = requireNode();
  t.same(await node.stop(), [], 'every cleanup step succeeded');
  t.same(node.leftovers(), { processes: [], mounts: [], cgroups: [], networkNamespace: false, folder: false }, 'nothing of the node is left');
  const machineLinks = parseIpJson((await execFileAsync('ip', ['-j', 'link', 'show'])).stdout).map((link) => link.ifname);
  t.notOk(machineLinks.includes(bridgeName), `no ${bridgeName} in the machine's namespace`);
});
