import { execFile, spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { promisify } from 'node:util';
import { createNetworkNamespace, uniqueNetnsName, type NetworkNamespace } from '../../conformance/cni/network-namespaces.js';
import { CleanupStack, type CleanupFailure } from '../../conformance/framework/index.js';
import {
  ImageServiceClient,
  ImageStatusRequest,
  RuntimeServiceClient,
  callUnary,
  createClient,
  waitForConnection,
  type VersionResponse,
} from '../../specs/cri/index.js';

const execFileAsync = promisify(execFile);

/** Commands a containerd node runs; all ship in Debian's containerd, runc, iproute2, util-linux and tar. */
const requiredCommands = ['containerd', 'containerd-shim-runc-v2', 'runc', 'ctr', 'nsenter', 'unshare', 'mount', 'umount', 'ip', 'tar'] as const;

/** Where Debian's containernetworking-plugins and upstream's release tarball put the loopback plugin. */
const loopbackCandidates = ['/usr/lib/cni/loopback', '/opt/cni/bin/loopback'] as const;

/** The containerd namespace the CRI plugin keeps its images and sandboxes in. */
const criNamespace = 'k8s.io';

const cgroupRoot = '/sys/fs/cgroup';

/** What {@link startContainerdNode} sets up. */
export interface ContainerdNodeOptions {
  /** Executables for the CNI bin_dir, by plugin type; upstream's loopback is added, since containerd attaches it to every pod. */
  readonly cniPlugins: Readonly<Record<string, string>>;
  /** The network configuration list for conf_dir, given the node's folder so plugin state can live under it. */
  readonly networkConfig: (nodeDir: string) => { readonly name: string } & Record<string, unknown>;
  /** The CRI plugin's sandbox_image; nothing can be pulled, so import it with {@link ContainerdNode.importImage}. */
  readonly sandboxImage: string;
}

/** What a test finds left over from a node: every list empty and both flags false after {@link ContainerdNode.stop}. */
export interface NodeLeftovers {
  /** `pid cmdline` of processes in the node's mount namespace, its cgroup parent, or naming its folder. */
  readonly processes: string[];
  /** Mount points under the node's folder in the test's own mount namespace. */
  readonly mounts: string[];
  readonly cgroups: string[];
  readonly networkNamespace: boolean;
  readonly folder: boolean;
}

/**
 * A containerd with the CRI plugin, isolated from the machine: it runs in a
 * network namespace of its own (so CNI puts bridges and host-side veths
 * there), in a private mount namespace (so snapshot and pod netns mounts
 * never reach the machine's mount table) with fresh tmpfs on /run and
 * /var/lib (so shim sockets, runc state and libcni's result cache never
 * reach the machine's disk), with root, state and socket in a temporary
 * folder and pod cgroups under one parent of its own.
 */
export interface ContainerdNode {
  readonly dir: string;
  readonly endpoint: string;
  readonly netns: NetworkNamespace;
  /** The cgroup parent to put in a PodSandboxConfig, so every pod cgroup is found and removed. */
  readonly cgroupParent: string;
  readonly snapshotter: 'overlayfs' | 'native';
  readonly pid: number;
  readonly version: VersionResponse;
  readonly runtime: RuntimeServiceClient;
  readonly images: ImageServiceClient;
  /** Registers an undo step that runs before containerd is stopped (e.g. removing a sandbox). */
  defer(undo: () => unknown, label: string): void;
  /** Imports an OCI archive into the CRI namespace and waits until the CRI plugin lists it. */
  importImage(archive: string, reference: string): Promise<void>;
  /** A path as containerd sees it, from the test's mount namespace (through /proc/<pid>/root). */
  pathSeenByContainerd(file: string): string;
  /** Runs a command in a network namespace that containerd mounted at `netnsPath` (in its mount namespace). */
  execInPodNetwork(netnsPath: string, command: string, args: readonly string[]): Promise<{ stdout: string; stderr: string }>;
  /** The end of containerd's log (kept after the folder is removed). */
  logTail(lines?: number): string;
  /** Stops everything and removes everything; later calls return the first call's result. */
  stop(): Promise<CleanupFailure[]>;
  leftovers(): NodeLeftovers;
}

/** The executable `command` resolves to on PATH, or undefined. */
function findOnPath(command: string): string | undefined {
  for (const dir of (process.env['PATH'] ?? '').split(':')) {
    if (dir === '') continue;
    const candidate = path.join(dir, command);
    try {
      fs.accessSync(candidate, fs.constants.X_OK);
      return candidate;
    } catch {
      // not in this folder
    }
  }
  return undefined;
}

function findLoopbackPlugin(): string | undefined {
  return loopbackCandidates.find((candidate) => fs.existsSync(candidate));
}

/** Why a containerd node cannot run here, or undefined when it can. */
export function containerdNodeUnavailable(): string | undefined {
  if (process.platform !== 'linux') return 'needs Linux';
  if (process.getuid?.() !== 0) return 'needs root (network and mount namespaces, cgroups)';
  const missing = requiredCommands.filter((command) => findOnPath(command) === undefined);
  if (missing.length > 0) return `needs ${missing.join(', ')} on PATH (Debian packages containerd, runc, iproute2, util-linux, tar)`;
  if (findLoopbackPlugin() === undefined) return 'needs the upstream loopback CNI plugin (Debian package containernetworking-plugins)';
  return undefined;
}

/**
 * Whether overlayfs can stack on `dir`'s file system (it cannot on another
 * overlay, as in many CI containers), probed in a throwaway mount namespace
 * so the machine's mount table never sees the probe.
 */
function overlayWorksIn(dir: string): boolean {
  const probe = fs.mkdtempSync(path.join(dir, 'overlay-probe-'));
  try {
    for (const part of ['lower', 'upper', 'work', 'merged']) fs.mkdirSync(path.join(probe, part));
    const options = `lowerdir=${probe}/lower,upperdir=${probe}/upper,workdir=${probe}/work`;
    const result = spawnSync('unshare', ['--mount', '--propagation', 'private', '--', 'mount', '-t', 'overlay', 'overlay', '-o', options, `${probe}/merged`], { stdio: 'ignore' });
    return result.status === 0;
  } finally {
    fs.rmSync(probe, { recursive: true, force: true });
  }
}

function tomlString(value: string): string {
  // A JSON string of printable text is a valid TOML basic string.
  return JSON.stringify(value);
}

function containerdConfig(options: { dir: string; sandboxImage: string; snapshotter: string; cniBinDir: string; cniConfDir: string }): string {
  const { dir } = options;
  return `version = 2
root = ${tomlString(path.join(dir, 'root'))}
state = ${tomlString(path.join(dir, 'state'))}
temp = ${tomlString(path.join(dir, 'temp'))}
# Exit instead of serving without CRI, so a broken set-up fails fast with the reason in the log.
required_plugins = ["io.containerd.grpc.v1.cri"]
# opt would create /opt/containerd on the machine; the other snapshotters and tracing are not used.
disabled_plugins = [
  "io.containerd.internal.v1.opt",
  "io.containerd.snapshotter.v1.aufs",
  "io.containerd.snapshotter.v1.btrfs",
  "io.containerd.snapshotter.v1.devmapper",
  "io.containerd.snapshotter.v1.zfs",
  "io.containerd.tracing.processor.v1.otlp",
  "io.containerd.internal.v1.tracing",
]

[grpc]
  address = ${tomlString(path.join(dir, 'containerd.sock'))}

[plugins."io.containerd.grpc.v1.cri"]
  sandbox_image = ${tomlString(options.sandboxImage)}
  # Loading a profile would change the machine's AppArmor state.
  disable_apparmor = true
  # Without it runc writes oom_score_adj -998 for the sandbox, which needs CAP_SYS_RESOURCE that CI containers often lack.
  restrict_oom_score_adj = true
  # Pod netns mounts go under state (in the node's private mount namespace), not the machine's /var/run/netns.
  netns_mounts_under_state_dir = true
  stream_server_address = "127.0.0.1"
  stream_server_port = "0"

[plugins."io.containerd.grpc.v1.cri".containerd]
  snapshotter = ${tomlString(options.snapshotter)}
  default_runtime_name = "runc"

[plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc]
  runtime_type = "io.containerd.runc.v2"

[plugins."io.containerd.grpc.v1.cri".cni]
  bin_dir = ${tomlString(options.cniBinDir)}
  conf_dir = ${tomlString(options.cniConfDir)}
  max_conf_num = 1
`;
}

function hasExited(child: ChildProcess): boolean {
  return child.exitCode !== null || child.signalCode !== null;
}

async function exitsWithin(child: ChildProcess, ms: number): Promise<boolean> {
  if (hasExited(child)) return true;
  // Cancelled once the race is decided: a pending timer would hold the test process open.
  const timer = new AbortController();
  const exited = once(child, 'exit', { signal: timer.signal }).then(() => true);
  const timedOut = sleep(ms, undefined, { signal: timer.signal }).then(() => hasExited(child));
  try {
    return await Promise.race([exited, timedOut]);
  } finally {
    timer.abort();
    await Promise.allSettled([exited, timedOut]);
  }
}

/** SIGTERM, then SIGKILL after `graceMs`, to the one process this helper started. */
async function stopChild(child: ChildProcess, graceMs: number): Promise<void> {
  if (hasExited(child)) return;
  child.kill('SIGTERM');
  if (await exitsWithin(child, graceMs)) return;
  child.kill('SIGKILL');
  if (!(await exitsWithin(child, 5000))) throw new Error(`containerd (pid ${child.pid}) survived SIGKILL`);
}

function readOr<T>(read: () => T, fallback: T): T {
  try {
    return read();
  } catch {
    return fallback;
  }
}

/** The cgroup folders named `name` directly under each hierarchy (v1 controllers, the v1 named ones, or v2's single root). */
function cgroupParents(name: string): string[] {
  const roots = [cgroupRoot, ...readOr(() => fs.readdirSync(cgroupRoot, { withFileTypes: true }), []).filter((entry) => entry.isDirectory()).map((entry) => path.join(cgroupRoot, entry.name))];
  return roots.map((root) => path.join(root, name)).filter((dir) => fs.existsSync(dir));
}

/** A cgroup folder and every cgroup below it, deepest first. */
function cgroupTree(dir: string): string[] {
  const children = readOr(() => fs.readdirSync(dir, { withFileTypes: true }), []).filter((entry) => entry.isDirectory());
  return [...children.flatMap((child) => cgroupTree(path.join(dir, child.name))), dir];
}

function pidsInCgroups(dirs: readonly string[]): number[] {
  return dirs.flatMap((dir) => readOr(() => fs.readFileSync(path.join(dir, 'cgroup.procs'), 'utf8'), '').split('\n').filter((line) => line !== '').map(Number));
}

function cmdlineOf(pid: number): string {
  return readOr(() => fs.readFileSync(`/proc/${pid}/cmdline`, 'utf8').replaceAll('\0', ' ').trim(), '');
}

function allPids(): number[] {
  return fs.readdirSync('/proc').filter((name) => /^\d+$/.test(name)).map(Number).filter((pid) => pid !== process.pid);
}

/** Mount points under `dir` in this process's mount namespace, deepest first. */
function mountsUnder(dir: string): string[] {
  const unescape = (field: string): string => field.replace(/\\([0-7]{3})/g, (_, octal: string) => String.fromCharCode(parseInt(octal, 8)));
  return fs
    .readFileSync('/proc/self/mountinfo', 'utf8')
    .split('\n')
    .map((line) => line.split(' ')[4])
    .filter((field): field is string => field !== undefined)
    .map(unescape)
    .filter((mountPoint) => mountPoint === dir || mountPoint.startsWith(`${dir}/`))
    .sort((a, b) => b.length - a.length);
}

async function retryUntil(deadlineMs: number, attempt: () => boolean | Promise<boolean>): Promise<boolean> {
  const deadline = Date.now() + deadlineMs;
  for (;;) {
    if (await attempt()) return true;
    if (Date.now() > deadline) return false;
    await sleep(100);
  }
}

/**
 * Starts a containerd node (see {@link ContainerdNode}) and registers its
 * stop in `t.teardown`, before anything is created, so a failure at any
 * step still releases what the earlier steps made. Skip first with
 * {@link containerdNodeUnavailable}.
 */
export async function startContainerdNode(
  t: { teardown(fn: () => unknown): void; passing(): boolean; comment(...message: unknown[]): void },
  options: ContainerdNodeOptions,
): Promise<ContainerdNode> {
  const cleanup = new CleanupStack();
  let stopping: Promise<CleanupFailure[]> | undefined;
  const stop = (): Promise<CleanupFailure[]> => (stopping ??= cleanup.unwind(20_000));
  t.teardown(async () => {
    const failures = await stop();
    if (failures.length > 0) t.comment(`containerd node cleanup failed: ${JSON.stringify(failures)}`);
  });

  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'kp-ctd-'));
  const logFile = path.join(dir, 'containerd.log');
  let savedLog = '';
  const logTail = (lines = 40): string => {
    const text = readOr(() => fs.readFileSync(logFile, 'utf8'), savedLog);
    return text.split('\n').slice(-lines - 1).join('\n');
  };
  cleanup.push(() => {
    savedLog = readOr(() => fs.readFileSync(logFile, 'utf8'), '');
    if (!t.passing()) t.comment(`containerd log (last lines):\n${logTail()}`);
    fs.rmSync(dir, { recursive: true, force: true });
  }, `remove ${dir}`);

  // One random name for the namespace and the cgroup parent, so both are attributable to this node.
  const name = uniqueNetnsName('ctd');
  const cgroupParent = `/${name}`;
  // Set while an open descriptor pins containerd's mount namespace, so its inode cannot be reused by another namespace meanwhile.
  let mountNamespace: string | undefined;
  let mountNamespaceFd: number | undefined;
  const belongsToNode = (pid: number, cgroupPids: ReadonlySet<number>): boolean =>
    cgroupPids.has(pid) ||
    cmdlineOf(pid).includes(`${dir}/`) ||
    (mountNamespace !== undefined && readOr(() => fs.readlinkSync(`/proc/${pid}/ns/mnt`), '') === mountNamespace);
  const nodeProcesses = (): number[] => {
    const inCgroups = new Set(pidsInCgroups(cgroupParents(name).flatMap(cgroupTree)));
    return allPids().filter((pid) => belongsToNode(pid, inCgroups));
  };

  const netns = await createNetworkNamespace(name);
  cleanup.push(() => netns.remove(), `delete network namespace ${name}`);
  cleanup.push(async () => {
    const removed = await retryUntil(5000, () => {
      const left = cgroupParents(name).flatMap(cgroupTree);
      for (const cgroup of left) {
        for (const pid of pidsInCgroups([cgroup])) readOr(() => process.kill(pid, 'SIGKILL'), true);
        readOr(() => fs.rmdirSync(cgroup), undefined);
      }
      return cgroupParents(name).length === 0;
    });
    if (!removed) throw new Error(`cgroups left: ${cgroupParents(name).join(', ')}`);
  }, `remove cgroups ${cgroupParent}`);
  cleanup.push(async () => {
    // containerd's mounts live in its own mount namespace; this catches any that reached ours.
    for (const mountPoint of mountsUnder(dir)) await execFileAsync('umount', ['--recursive', '--lazy', mountPoint]).catch(() => undefined);
    const left = mountsUnder(dir);
    if (left.length > 0) throw new Error(`mounts left: ${left.join(', ')}`);
  }, `unmount under ${dir}`);
  cleanup.push(async () => {
    // Shims outlive containerd by design, and the sandbox's processes outlive their shim.
    const gone = await retryUntil(5000, () => {
      const left = nodeProcesses();
      for (const pid of left) readOr(() => process.kill(pid, 'SIGKILL'), true);
      return left.length === 0;
    });
    const left = nodeProcesses();
    mountNamespace = undefined;
    if (mountNamespaceFd !== undefined) fs.closeSync(mountNamespaceFd);
    mountNamespaceFd = undefined;
    if (!gone) throw new Error(`processes left: ${left.map((pid) => `${pid} ${cmdlineOf(pid)}`).join('; ')}`);
  }, 'kill shims and pod processes');

  const snapshotter = overlayWorksIn(dir) ? 'overlayfs' : 'native';
  const cniBinDir = path.join(dir, 'cni-bin');
  const cniConfDir = path.join(dir, 'net.d');
  for (const folder of [cniBinDir, cniConfDir, path.join(dir, 'temp')]) fs.mkdirSync(folder, { recursive: true });
  // containerd 1.6 takes one bin_dir and always runs upstream's loopback from it, so the folder links our plugins and that one.
  const plugins: Record<string, string> = { ...options.cniPlugins, loopback: findLoopbackPlugin() ?? 'loopback' };
  for (const [type, executable] of Object.entries(plugins)) fs.symlinkSync(executable, path.join(cniBinDir, type));
  const networkConfig = options.networkConfig(dir);
  fs.writeFileSync(path.join(cniConfDir, `10-${networkConfig.name}.conflist`), JSON.stringify(networkConfig, null, 2));
  const configPath = path.join(dir, 'config.toml');
  fs.writeFileSync(configPath, containerdConfig({ dir, sandboxImage: options.sandboxImage, snapshotter, cniBinDir, cniConfDir }));

  const socketPath = path.join(dir, 'containerd.sock');
  const endpoint = `unix://${socketPath}`;
  const log = fs.openSync(logFile, 'a');
  // nsenter and unshare exec (no fork), so the pid spawned is containerd's own.
  const script = 'mount -t tmpfs -o mode=0755 kubeplug-run /run && mount -t tmpfs -o mode=0755 kubeplug-var-lib /var/lib && exec containerd --config "$1"';
  const child = spawn('nsenter', [`--net=${netns.path}`, '--', 'unshare', '--mount', '--propagation', 'private', '--', 'sh', '-c', script, 'sh', configPath], {
    stdio: ['ignore', log, log],
  });
  fs.closeSync(log);
  child.on('error', () => undefined); // reported by the wait below through the exit code and the log
  const pid = child.pid;
  if (pid === undefined) throw new Error('could not spawn nsenter');
  cleanup.push(() => stopChild(child, 10_000), `stop containerd (pid ${pid})`);

  const started = await retryUntil(15_000, () => hasExited(child) || readOr(() => fs.statSync(socketPath).isSocket(), false));
  if (hasExited(child) || !started) throw new Error(`containerd did not start (exit ${child.exitCode ?? child.signalCode}):\n${logTail()}`);
  // The guard the whole test rests on: containerd is in the node's namespaces, never the machine's.
  if (fs.statSync(`/proc/${pid}/ns/net`).ino !== fs.statSync(netns.path).ino) throw new Error(`containerd (pid ${pid}) is not in network namespace ${name}`);
  mountNamespaceFd = fs.openSync(`/proc/${pid}/ns/mnt`, 'r');
  mountNamespace = fs.readlinkSync(`/proc/self/fd/${mountNamespaceFd}`);
  if (mountNamespace === fs.readlinkSync('/proc/self/ns/mnt')) throw new Error(`containerd (pid ${pid}) shares the machine's mount namespace`);

  const runtime = createClient(RuntimeServiceClient, endpoint);
  const images = createClient(ImageServiceClient, endpoint);
  cleanup.push(() => {
    runtime.close();
    images.close();
  }, 'close CRI clients');
  await waitForConnection(runtime, endpoint, 10_000);
  const version = await callUnary(runtime, runtime.version, { version: 'v1' });
  let conditions = '';
  const ready = await retryUntil(15_000, async () => {
    const status = await callUnary(runtime, runtime.status, { verbose: false });
    const found = status.status?.conditions ?? [];
    conditions = JSON.stringify(found);
    return ['RuntimeReady', 'NetworkReady'].every((type) => found.some((condition) => condition.type === type && condition.status));
  });
  if (!ready) throw new Error(`containerd's CRI plugin is not ready: ${conditions}\n${logTail()}`);

  return {
    dir,
    endpoint,
    netns,
    cgroupParent,
    snapshotter,
    pid,
    version,
    runtime,
    images,
    defer: (undo, label) => cleanup.push(undo, label),
    async importImage(archive, reference) {
      await execFileAsync('ctr', ['--address', socketPath, '--namespace', criNamespace, 'images', 'import', '--snapshotter', snapshotter, archive], { timeout: 60_000 });
      // The CRI plugin learns about imported images from events, a moment later.
      const listed = await retryUntil(10_000, async () => {
        const status = await callUnary(images, images.imageStatus, ImageStatusRequest.fromPartial({ image: { image: reference } }));
        return status.image !== undefined;
      });
      if (!listed) throw new Error(`the CRI plugin does not list ${reference} after ctr imported it`);
    },
    pathSeenByContainerd: (file) => `/proc/${pid}/root${file}`,
    execInPodNetwork: (netnsPath, command, args) => execFileAsync('nsenter', [`--net=/proc/${pid}/root${netnsPath}`, '--', command, ...args], { timeout: 30_000 }),
    logTail,
    stop,
    leftovers: () => ({
      processes: nodeProcesses().map((leftover) => `${leftover} ${cmdlineOf(leftover)}`),
      mounts: mountsUnder(dir),
      cgroups: cgroupParents(name).flatMap(cgroupTree),
      networkNamespace: fs.existsSync(netns.path),
      folder: fs.existsSync(dir),
    }),
  };
}
