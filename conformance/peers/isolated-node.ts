import { execFile, spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { createNetworkNamespace, uniqueNetnsName, type NetworkNamespace } from '../cni/network-namespaces.js';
import { CleanupStack, type CleanupFailure } from '../framework/index.js';
import { ImageServiceClient, RuntimeServiceClient, callUnary, createClient, waitForConnection, type VersionResponse } from '../../specs/cri/index.js';
import { hasExited, stopChild } from './child-exit.js';
import type { CriNode, CriNodeOptions, NodeLeftovers, NodeMemory } from './cri-node.js';
import { startLoopbackRelay } from './loopback-relay.js';
import { allPids, cgroupParents, cgroupTree, cmdlineOf, firstExisting, mountsUnder, pidsInCgroups, readOr, residentKib, retryUntil } from './system-scan.js';

const execFileAsync = promisify(execFile);

/** Where Debian's containernetworking-plugins and upstream's release tarball put the loopback plugin. */
const loopbackCandidates = ['/usr/lib/cni/loopback', '/opt/cni/bin/loopback'] as const;

/** Upstream's loopback CNI plugin, or undefined when it is not installed. */
export function findLoopbackPlugin(): string | undefined {
  return firstExisting(loopbackCandidates);
}

/**
 * The part of a node both runtimes share: folder, namespaces, cgroup parent,
 * CNI folders, relays, and a cleanup stack that removes them; the starters
 * add the runtime process and its clients.
 */
export interface NodeScaffold {
  readonly dir: string;
  readonly netns: NetworkNamespace;
  readonly cgroupParent: string;
  readonly cniBinDir: string;
  readonly cniConfDir: string;
  readonly cleanup: CleanupStack;
  stop(): Promise<CleanupFailure[]>;
  logTail(lines?: number): string;
  /**
   * Starts `command` as the node's runtime: in the node's network namespace
   * and a new mount namespace (slave propagation) with tmpfs on /run and
   * /var/lib; its output goes to the node's log. The pid is the runtime's own
   * (nsenter, unshare and sh exec). Stopping it is registered.
   */
  startRuntime(o: { label: string; command: string; args: readonly string[]; env?: NodeJS.ProcessEnv; graceMs: number }): ChildProcess & { pid: number };
  /** Waits for `socketPath` while the runtime runs; throws with the log when it exits or the time passes. */
  waitForSocket(child: ChildProcess, socketPath: string, timeoutMs: number, label: string): Promise<void>;
  /** Connects CRI clients, calls Version and waits for RuntimeReady and NetworkReady. */
  connect(endpoint: string, label: string): Promise<{ runtime: RuntimeServiceClient; images: ImageServiceClient; version: VersionResponse }>;
  /** Assembles the node's common face around a started runtime. */
  nodeFor(o: { kind: CriNode['kind']; endpoint: string; pid: number; clients: { runtime: RuntimeServiceClient; images: ImageServiceClient; version: VersionResponse }; shimPattern: RegExp }): CriNode;
}

/**
 * Makes a node's folder, network namespace, cgroup parent name, CNI folders
 * and registry relays, each undo registered before the thing is made, then
 * lets `launch` start the runtime in it. On any failure the node is stopped
 * before the error is rethrown.
 */
export async function startIsolatedNode<N extends CriNode>(options: CriNodeOptions & { role: string }, launch: (scaffold: NodeScaffold) => Promise<N>): Promise<N> {
  const cleanup = new CleanupStack();
  let stopping: Promise<CleanupFailure[]> | undefined;
  const stop = (): Promise<CleanupFailure[]> => (stopping ??= cleanup.unwind(20_000));
  options.registerStop?.(stop);
  try {
    return await launch(await buildScaffold(options, cleanup, stop));
  } catch (error) {
    const failures = await stop();
    if (failures.length > 0 && error instanceof Error) error.message += `\n(and the node's cleanup failed: ${JSON.stringify(failures)})`;
    throw error;
  }
}

async function buildScaffold(options: CriNodeOptions & { role: string }, cleanup: CleanupStack, stop: () => Promise<CleanupFailure[]>): Promise<NodeScaffold> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), `kp-${options.role}-`));
  const logFile = path.join(dir, 'runtime.log');
  let savedLog = '';
  const logTail = (lines = 40): string => {
    const text = readOr(() => fs.readFileSync(logFile, 'utf8'), savedLog);
    return text.split('\n').slice(-lines - 1).join('\n');
  };
  cleanup.push(() => {
    savedLog = readOr(() => fs.readFileSync(logFile, 'utf8'), '');
    fs.rmSync(dir, { recursive: true, force: true });
  }, `remove ${dir}`);

  // One random name for the namespace and the cgroup parent, so both are attributable to this node.
  const name = uniqueNetnsName(options.role);
  const cgroupParent = `/${name}`;
  // Set while an open descriptor pins the runtime's mount namespace, so its inode cannot be reused by another namespace meanwhile.
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
      for (const cgroup of cgroupParents(name).flatMap(cgroupTree)) {
        for (const pid of pidsInCgroups([cgroup])) readOr(() => process.kill(pid, 'SIGKILL'), true);
        readOr(() => fs.rmdirSync(cgroup), undefined);
      }
      return cgroupParents(name).length === 0;
    });
    if (!removed) throw new Error(`cgroups left: ${cgroupParents(name).join(', ')}`);
  }, `remove cgroups ${cgroupParent}`);
  cleanup.push(async () => {
    // The runtime's mounts live in its own mount namespace; this catches any that reached the caller's.
    for (const mountPoint of mountsUnder(dir)) await execFileAsync('umount', ['--recursive', '--lazy', mountPoint]).catch(() => undefined);
    const left = mountsUnder(dir);
    if (left.length > 0) throw new Error(`mounts left: ${left.join(', ')}`);
  }, `unmount under ${dir}`);
  cleanup.push(async () => {
    // Shims outlive their runtime by design, and a sandbox's processes outlive their shim.
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

  const cniBinDir = path.join(dir, 'cni-bin');
  const cniConfDir = path.join(dir, 'net.d');
  for (const folder of [cniBinDir, cniConfDir]) fs.mkdirSync(folder, { recursive: true });
  // containerd 1.6 takes one bin_dir and always runs upstream's loopback from it, so the folder links the chosen plugins and that one.
  const loopback = findLoopbackPlugin();
  const plugins: Record<string, string> = { ...(loopback === undefined ? {} : { loopback }), ...options.cniPlugins };
  for (const [type, executable] of Object.entries(plugins)) fs.symlinkSync(executable, path.join(cniBinDir, type));
  const networkConfig = options.networkConfig(dir);
  fs.writeFileSync(path.join(cniConfDir, `10-${networkConfig.name}.conflist`), JSON.stringify(networkConfig, null, 2));

  for (const address of options.loopbackRegistries ?? []) {
    const socketPath = path.join(dir, `relay-${address.replace(/[^0-9A-Za-z.]/g, '_')}.sock`);
    const relay = await startLoopbackRelay({ address, netnsPath: netns.path, socketPath });
    cleanup.push(() => relay.stop(), `stop the loopback relay for ${address}`);
  }

  const scaffold: NodeScaffold = {
    dir,
    netns,
    cgroupParent,
    cniBinDir,
    cniConfDir,
    cleanup,
    stop,
    logTail,
    startRuntime({ label, command, args, env, graceMs }) {
      const log = fs.openSync(logFile, 'a');
      const script = 'mount -t tmpfs -o mode=0755 kubeplug-run /run && mount -t tmpfs -o mode=0755 kubeplug-var-lib /var/lib && exec "$@"';
      const child = spawn('nsenter', [`--net=${netns.path}`, '--', 'unshare', '--mount', '--propagation', 'slave', '--', 'sh', '-c', script, 'sh', command, ...args], {
        stdio: ['ignore', log, log],
        env: env ?? process.env,
      });
      fs.closeSync(log);
      child.on('error', () => undefined); // reported by the caller's wait through the exit code and the log
      const pid = child.pid;
      if (pid === undefined) throw new Error(`could not spawn nsenter for ${label}`);
      cleanup.push(() => stopChild(child, graceMs, label), `stop ${label} (pid ${pid})`);
      return Object.assign(child, { pid });
    },
    async waitForSocket(child, socketPath, timeoutMs, label) {
      const started = await retryUntil(timeoutMs, () => hasExited(child) || readOr(() => fs.statSync(socketPath).isSocket(), false));
      if (hasExited(child) || !started) throw new Error(`${label} did not start (exit ${child.exitCode ?? child.signalCode ?? 'none yet'}):\n${logTail()}`);
      const pid = child.pid ?? 0;
      // The guard everything rests on: the runtime is in the node's namespaces, never the machine's.
      if (fs.statSync(`/proc/${pid}/ns/net`).ino !== fs.statSync(netns.path).ino) throw new Error(`${label} (pid ${pid}) is not in network namespace ${name}`);
      mountNamespaceFd = fs.openSync(`/proc/${pid}/ns/mnt`, 'r');
      mountNamespace = fs.readlinkSync(`/proc/self/fd/${mountNamespaceFd}`);
      if (mountNamespace === fs.readlinkSync('/proc/self/ns/mnt')) throw new Error(`${label} (pid ${pid}) shares the machine's mount namespace`);
    },
    async connect(endpoint, label) {
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
      if (!ready) throw new Error(`${label} is not ready: ${conditions}\n${logTail()}`);
      return { runtime, images, version };
    },
    nodeFor({ kind, endpoint, pid, clients, shimPattern }) {
      const memory = (): NodeMemory => {
        const shims = nodeProcesses().filter((candidate) => candidate !== pid && shimPattern.test(cmdlineOf(candidate)));
        return { runtimeKib: residentKib(pid), shimsKib: shims.reduce((sum, shim) => sum + residentKib(shim), 0), shimCount: shims.length };
      };
      const leftovers = (): NodeLeftovers => ({
        processes: nodeProcesses().map((leftover) => `${leftover} ${cmdlineOf(leftover)}`),
        mounts: mountsUnder(dir),
        cgroups: cgroupParents(name).flatMap(cgroupTree),
        networkNamespace: fs.existsSync(netns.path),
        folder: fs.existsSync(dir),
      });
      return {
        kind,
        dir,
        endpoint,
        netns,
        cgroupParent,
        pid,
        ...clients,
        defer: (undo, label) => cleanup.push(undo, label),
        pathSeenByRuntime: (file) => `/proc/${pid}/root${file}`,
        execInPodNetwork: (netnsPath, command, args) => execFileAsync('nsenter', [`--net=/proc/${pid}/root${netnsPath}`, '--', command, ...args], { timeout: 30_000 }),
        memory,
        logTail,
        stop,
        leftovers,
      };
    },
  };
  return scaffold;
}
