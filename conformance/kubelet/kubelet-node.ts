/**
 * The node a kubelet under test runs on: a CRI runtime isolated in network
 * and mount namespaces of its own (conformance/peers), a loopback registry
 * holding the suite's image, the dir-volume CSI driver in the runtime's
 * namespaces, spy proxies recording every CRI and CSI call, and the kubelet
 * itself, started from the `--kubelet-cmd` template inside the node's
 * network namespace and the runtime's mount namespace (so probes reach pod
 * IPs and volume mounts are seen by the runtime). Its read-only port is
 * reached through a unix-socket relay into that namespace.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { startLoopbackRegistry } from '../cri/test-images/loopback-registry.js';
import { CleanupStack, type CleanupFailure } from '../framework/index.js';
import { exitsWithin, hasExited } from '../peers/child-exit.js';
import {
  bridgeNetworkConfig,
  kubeplugCniPlugins,
  pushPauseImage,
  startContainerdNode,
  startProcessRuntimeNode,
  upstreamCniPlugins,
  type CriNode,
  type NodeLeftovers,
} from '../peers/index.js';
import { findOnPath } from '../peers/system-scan.js';
import { pushKubeletSuiteImages, type KubeletSuiteImages } from './kubelet-images.js';
import { httpGetOverSocket, httpRequestOverSocket, startPortRelay, type HttpAnswer, type SocketRequest } from './read-only-port.js';
import { expandKubeletCommand, kubeplugCliPath, quoteWord, type ExpandedCommand, type KubeletRunSettings, type PlaceholderValues } from './run-config.js';
import { CallRecorder, startCriSpy, startCsiSpy } from './spy-proxies.js';

/** The dir-volume driver's name, as pods' inline CSI volumes name it. */
export const csiDriverName = 'dir-volume.csi.kubeplug.io';

/** The read-only port the kubelet listens on inside the node's network namespace (free there: the namespace is the node's own). */
const readOnlyPort = 10255;

/** A kubelet on its node, with everything the suite drives it through. */
export interface KubeletNode {
  readonly runtime: CriNode;
  readonly settings: KubeletRunSettings;
  readonly nodeName: string;
  readonly images: KubeletSuiteImages;
  readonly registry: string;
  readonly manifestsDir: string;
  readonly rootDir: string;
  /** A folder for pods' hostPath volumes, the same path in the harness's and the runtime's mount namespaces. */
  readonly hostPathDir: string;
  readonly csiDriver: string;
  /** The kubelet command as run (argv after placeholder expansion). */
  readonly command: ExpandedCommand;
  readonly recorder: CallRecorder;
  /** The kubelet's current pid. */
  kubeletPid(): number;
  /** GET on the kubelet's read-only port. */
  get(urlPath: string, timeoutMs?: number): Promise<HttpAnswer>;
  /** Any request on the kubelet's read-only port (evictions, the Node's cordon). */
  request(request: SocketRequest): Promise<HttpAnswer>;
  /** The unix socket that reaches the read-only port from outside the node's network namespace (a client's `unix://` URL). */
  readonly readOnlySocket: string;
  /** Kills the kubelet (by pid, with `signal`) and starts the same command again; resolves once /healthz answers 200. */
  restartKubelet(signal: 'SIGKILL' | 'SIGTERM'): Promise<void>;
  /** The end of the kubelet's output. */
  kubeletLogTail(lines?: number): string;
  /** Stops the kubelet, the driver, the proxies, the registry and the node, and removes their folders; idempotent. */
  stop(): Promise<CleanupFailure[]>;
  /** What is left after {@link stop}: the node's leftovers plus any process of the harness still running. */
  leftovers(): NodeLeftovers;
}

/** Options beyond the run settings. */
export interface KubeletNodeOptions {
  /** Called with the node's stop before anything is made, so a caller's teardown releases a half-started node. */
  readonly registerStop?: (stop: () => Promise<CleanupFailure[]>) => void;
  /** Where the kubelet's and driver's output goes besides their log files (e.g. the progress stream when debugging). */
  readonly onLog?: (line: string) => void;
  /** The node name; `kubelet-suite` when unset. */
  readonly nodeName?: string;
  /** How long the kubelet may take to answer /healthz after it is started. */
  readonly startTimeoutMs?: number;
  /** The pods' range on this node and the destinations they route via the node; 10.97.0.0/16 and none when unset. */
  readonly podNetwork?: { readonly subnet: string; readonly routes?: readonly string[] };
  /** Arguments appended to the kubelet command (each quoted as one word), e.g. `--read-only-socket PATH`. */
  readonly extraKubeletArgs?: readonly string[];
}

/** Why a kubelet node cannot be started here, or undefined. */
export function kubeletNodeUnavailable(settings: KubeletRunSettings): string | undefined {
  if (process.platform !== 'linux') return 'needs Linux';
  if (process.getuid?.() !== 0) return 'needs root (network and mount namespaces, cgroups, mounts)';
  if (!fs.existsSync(kubeplugCliPath())) return `${kubeplugCliPath()} is not built (run npm run build)`;
  const missing = ['nsenter', 'unshare', 'mount', 'ip', 'runc'].filter((command) => findOnPath(command) === undefined);
  if (missing.length > 0) return `needs ${missing.join(', ')} on PATH`;
  if (settings.runtime === 'containerd' && upstreamCniPlugins() === undefined) return "--runtime containerd needs upstream's CNI plugins (Debian package containernetworking-plugins)";
  return undefined;
}

/** A process the harness started and stops: a child with its output kept in a file and a tail in memory. */
interface OwnedProcess {
  readonly child: ChildProcess & { pid: number };
  readonly label: string;
}

/** util-linux's setpriv: gives a child a parent-death signal, so a harness killed outright leaves no kubelet behind. */
const setpriv = findOnPath('setpriv');

/**
 * Starts `argv` inside the runtime's mount namespace and the node's network
 * namespace, in a process group of its own (so a terminal's Ctrl-C reaches
 * the harness, which stops it in order), with its output appended to `logFile`.
 */
function spawnInNode(node: CriNode, argv: readonly string[], logFile: string, label: string): OwnedProcess {
  const log = fs.openSync(logFile, 'a');
  const deathSignal = setpriv === undefined ? [] : [setpriv, '--pdeathsig', 'SIGKILL', '--'];
  const child = spawn('nsenter', [`--mount=/proc/${node.pid}/ns/mnt`, `--net=${node.netns.path}`, '--', ...deathSignal, ...argv], {
    stdio: ['ignore', log, log],
    detached: true,
  });
  fs.closeSync(log);
  child.on('error', () => undefined); // seen through the exit and the log
  if (child.pid === undefined) throw new Error(`could not spawn nsenter for ${label}`);
  return { child: child as ChildProcess & { pid: number }, label };
}

/** SIGTERM, then SIGKILL after `graceMs`, to one process group the harness started (its leader's pid). */
async function stopGroup(owned: OwnedProcess, graceMs: number): Promise<void> {
  const { child, label } = owned;
  if (hasExited(child)) return;
  const signalGroup = (signal: NodeJS.Signals): void => {
    try {
      process.kill(-child.pid, signal);
    } catch {
      child.kill(signal);
    }
  };
  signalGroup('SIGTERM');
  if (await exitsWithin(child, graceMs)) {
    signalGroup('SIGKILL'); // anything the leader left in its group
    return;
  }
  signalGroup('SIGKILL');
  if (!(await exitsWithin(child, 5000))) throw new Error(`${label} (pid ${child.pid}) survived SIGKILL`);
}

function tailOf(file: string, lines: number): string {
  try {
    return fs.readFileSync(file, 'utf8').split('\n').slice(-lines - 1).join('\n');
  } catch {
    return '';
  }
}

/** Waits for a line starting with `ready` in a log file while the process runs. */
async function waitForReadyLine(owned: OwnedProcess, logFile: string, timeoutMs: number): Promise<void> {
  const until = Date.now() + timeoutMs;
  while (Date.now() < until) {
    if (/^ready /m.test(tailOf(logFile, 200))) return;
    if (hasExited(owned.child)) break;
    await sleep(100);
  }
  throw new Error(`${owned.label} did not start (exit ${owned.child.exitCode ?? owned.child.signalCode ?? 'none yet'}):\n${tailOf(logFile, 30)}`);
}

/**
 * Starts the whole node. Every step registers its undo before it acts, and
 * a failure part-way stops what was started before the error is rethrown.
 */
export async function startKubeletNode(settings: KubeletRunSettings, options: KubeletNodeOptions = {}): Promise<KubeletNode> {
  const cleanup = new CleanupStack();
  let stopping: Promise<CleanupFailure[]> | undefined;
  let savedKubeletLog = '';
  let kubeletLogFile = '';
  const ownedPids = new Set<number>();
  const stop = (): Promise<CleanupFailure[]> => (stopping ??= cleanup.unwind(30_000));
  options.registerStop?.(stop);
  try {
    const nodeName = options.nodeName ?? 'kubelet-suite';
    // The registry lives in its own folder: it must outlive nothing but the run, and the node's folder exists only once the node does.
    const registryDir = fs.mkdtempSync(path.join(process.env.TMPDIR ?? '/tmp', 'kp-kubelet-registry-'));
    cleanup.push(() => fs.rmSync(registryDir, { recursive: true, force: true }), `remove ${registryDir}`);
    let registry = settings.registry;
    if (registry === undefined) {
      const started = await startLoopbackRegistry({ dir: registryDir });
      cleanup.push(() => started.stop(), 'stop the loopback registry');
      registry = started.host;
    }
    const images = await pushKubeletSuiteImages(registry);

    let stopNode: (() => Promise<CleanupFailure[]>) | undefined;
    cleanup.push(async () => {
      const failures = (await stopNode?.()) ?? [];
      if (failures.length > 0) throw new Error(`the node's cleanup failed: ${JSON.stringify(failures)}`);
    }, 'stop the node');
    const registerStop = (registered: () => Promise<CleanupFailure[]>): void => void (stopNode = registered);
    const podNetwork = { subnet: options.podNetwork?.subnet ?? '10.97.0.0/16', ...(options.podNetwork?.routes === undefined ? {} : { routes: options.podNetwork.routes }) };
    const node: CriNode =
      settings.runtime === 'containerd'
        ? await startContainerdNode({
            cniPlugins: upstreamCniPlugins() ?? {},
            networkConfig: bridgeNetworkConfig({ plugins: 'upstream', name: 'kp-kubelet', bridge: 'kpklt0', ...podNetwork }),
            loopbackRegistries: [registry],
            registerStop,
            sandboxImage: await pushPauseImage(registry),
          })
        : await startProcessRuntimeNode({
            cniPlugins: kubeplugCniPlugins(),
            networkConfig: bridgeNetworkConfig({ plugins: 'kubeplug', name: 'kp-kubelet', bridge: 'kpklt0', ...podNetwork }),
            loopbackRegistries: [registry],
            registerStop,
          });

    const kubeletDir = path.join(node.dir, 'kubelet');
    const manifestsDir = path.join(kubeletDir, 'manifests');
    const rootDir = path.join(kubeletDir, 'root');
    const driverRoot = path.join(kubeletDir, 'csi-driver');
    const hostPathDir = path.join(kubeletDir, 'host-paths');
    for (const dir of [manifestsDir, rootDir, driverRoot, hostPathDir]) fs.mkdirSync(dir, { recursive: true });

    // The driver serves in the runtime's mount namespace, so what it publishes is what the runtime mounts into containers.
    const driverSocket = path.join(kubeletDir, 'csi-driver.sock');
    const driverLog = path.join(kubeletDir, 'csi-driver.log');
    const driver = spawnInNode(
      node,
      [process.execPath, kubeplugCliPath(), 'serve', 'csi', '--endpoint', `unix://${driverSocket}`, '--root', driverRoot, '--node-id', nodeName],
      driverLog,
      'kubeplug serve csi',
    );
    ownedPids.add(driver.child.pid);
    cleanup.push(() => stopGroup(driver, 10_000), `stop the CSI driver (pid ${driver.child.pid})`);
    await waitForReadyLine(driver, driverLog, 20_000);

    const recorder = new CallRecorder();
    const criSpy = await startCriSpy({ endpoint: `unix://${path.join(kubeletDir, 'cri-spy.sock')}`, upstream: node.endpoint, recorder });
    cleanup.push(() => criSpy.close(), 'close the CRI spy proxy');
    const csiSpy = await startCsiSpy({ endpoint: `unix://${path.join(kubeletDir, 'csi-spy.sock')}`, upstream: `unix://${driverSocket}`, recorder });
    cleanup.push(() => csiSpy.close(), 'close the CSI spy proxy');

    const relaySocket = path.join(kubeletDir, 'read-only-port.sock');
    const relay = await startPortRelay({ netnsPath: node.netns.path, socketPath: relaySocket, port: readOnlyPort });
    ownedPids.add(relay.pid);
    cleanup.push(() => relay.stop(), 'stop the read-only port relay');
    const get = (urlPath: string, timeoutMs?: number): Promise<HttpAnswer> => httpGetOverSocket(relaySocket, urlPath, timeoutMs);

    const values: PlaceholderValues = {
      manifests: manifestsDir,
      cri: criSpy.endpoint,
      csi: csiSpy.endpoint,
      'csi-driver': csiDriverName,
      port: String(readOnlyPort),
      root: rootDir,
      'node-name': nodeName,
      'max-restart-period': String(settings.maxRestartPeriodSeconds),
      'cgroup-parent': node.cgroupParent,
    };
    const extraArgs = (options.extraKubeletArgs ?? []).map(quoteWord).join(' ');
    const command = expandKubeletCommand(extraArgs === '' ? settings.kubeletCmd : `${settings.kubeletCmd} ${extraArgs}`, values);
    kubeletLogFile = path.join(kubeletDir, 'kubelet.log');
    // Read before the node's folder goes, so a failure report can still show it.
    cleanup.push(() => void (savedKubeletLog = tailOf(kubeletLogFile, 400)), 'keep the kubelet log');
    let kubelet: OwnedProcess | undefined;
    const startKubelet = async (): Promise<void> => {
      const started = spawnInNode(node, command.argv, kubeletLogFile, 'the kubelet');
      kubelet = started;
      ownedPids.add(started.child.pid);
      const until = Date.now() + (options.startTimeoutMs ?? 30_000);
      let last = 'no answer';
      while (Date.now() < until) {
        if (hasExited(started.child)) break;
        try {
          const answer = await get('/healthz', 2000);
          if (answer.status === 200) return;
          last = `${answer.status} ${answer.body.slice(0, 200)}`;
        } catch (error) {
          last = (error as Error).message;
        }
        await sleep(200);
      }
      throw new Error(
        `the kubelet did not answer /healthz (${last}; exit ${started.child.exitCode ?? started.child.signalCode ?? 'none yet'}); command: ${command.argv.join(' ')}\n${tailOf(kubeletLogFile, 40)}`,
      );
    };
    cleanup.push(async () => {
      if (kubelet !== undefined) await stopGroup(kubelet, 10_000);
    }, 'stop the kubelet');
    await startKubelet();

    const nodeFacing: KubeletNode = {
      runtime: node,
      settings,
      nodeName,
      images,
      registry,
      manifestsDir,
      rootDir,
      hostPathDir,
      csiDriver: csiDriverName,
      command,
      recorder,
      kubeletPid: () => kubelet?.child.pid ?? 0,
      get,
      request: (request) => httpRequestOverSocket(relaySocket, request),
      readOnlySocket: relaySocket,
      async restartKubelet(signal) {
        const running = kubelet;
        if (running !== undefined && !hasExited(running.child)) {
          process.kill(running.child.pid, signal);
          if (!(await exitsWithin(running.child, signal === 'SIGKILL' ? 5000 : 30_000))) await stopGroup(running, 1000);
          // What the kubelet itself started in its group goes with it, as a crash would take it.
          try {
            process.kill(-running.child.pid, 'SIGKILL');
          } catch {
            // the group is empty
          }
        }
        await startKubelet();
      },
      kubeletLogTail: (lines = 40) => (fs.existsSync(kubeletLogFile) ? tailOf(kubeletLogFile, lines) : savedKubeletLog.split('\n').slice(-lines - 1).join('\n')),
      stop,
      leftovers() {
        const nodeLeft = node.leftovers();
        const ours = [...ownedPids].filter((pid) => fs.existsSync(`/proc/${pid}`)).map((pid) => `${pid} (started by the kubelet harness)`);
        return { ...nodeLeft, processes: [...nodeLeft.processes, ...ours] };
      },
    };
    return nodeFacing;
  } catch (error) {
    const failures = await stop();
    if (failures.length > 0 && error instanceof Error) error.message += `\n(and the cleanup failed: ${JSON.stringify(failures)})`;
    throw error;
  }
}
