/**
 * The node `kubeplug certify all` stands up, part by part, in a private
 * temporary root: kubeplug's CNI plugins (kubeplug-bridge +
 * kubeplug-host-local, served by their node agent), the dir-volume CSI
 * driver, the process runtime in a network and mount namespace of its own
 * (conformance/peers) networked by those plugins with upstream's portmap
 * chained for host ports, and, through the kubelet harness, the reference
 * kubelet on a runtime node of its own. A part the user brings (a mixed
 * node) replaces ours for its interface. Every part registers its undo on
 * one stack before it starts, so a teardown (end, failure or Ctrl-C)
 * releases whatever was started, and the root goes last.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { CleanupStack, type CleanupFailure } from '../../conformance/framework/index.js';
import { stopChild } from '../../conformance/peers/child-exit.js';
import { bridgeNetworkConfig, kubeplugCniPlugins, startProcessRuntimeNode, upstreamCniPlugins, type CriNode } from '../../conformance/peers/index.js';
import { findOnPath, mountsUnder } from '../../conformance/peers/system-scan.js';
import { packageRoot } from '../../specs/registry/index.js';

/** The interfaces `certify all` certifies, in the order it certifies them. */
export const nodeInterfaces = ['cni', 'csi', 'cri', 'kubelet'] as const;

export type NodeInterface = (typeof nodeInterfaces)[number];

/** Which part serves each interface: kubeplug's own, or one the user names. */
export interface NodeParts {
  readonly cni: { readonly kind: 'ours' } | { readonly kind: 'user'; readonly cniPath: readonly string[]; readonly conf: string; readonly nodeAgent?: readonly string[] };
  readonly csi: { readonly kind: 'ours' } | { readonly kind: 'user'; readonly endpoint: string };
  readonly cri: { readonly kind: 'ours' } | { readonly kind: 'user'; readonly endpoint: string };
  readonly kubelet: { readonly kind: 'ours' } | { readonly kind: 'user'; readonly command: string };
}

/** One line per part, for the progress display and the certificate. */
export function describePart(iface: NodeInterface, parts: NodeParts): string {
  switch (iface) {
    case 'cni':
      return parts.cni.kind === 'ours'
        ? 'kubeplug-bridge + kubeplug-host-local with kubeplug-cni-agent (ours)'
        : `${parts.cni.conf} with plugins from ${parts.cni.cniPath.join(':')} (yours)`;
    case 'csi':
      return parts.csi.kind === 'ours' ? 'the dir-volume driver, kubeplug serve csi (ours)' : `${parts.csi.endpoint} (yours)`;
    case 'cri':
      return parts.cri.kind === 'ours' ? 'the process runtime, kubeplug serve cri, in a node network and mount namespace (ours)' : `${parts.cri.endpoint} (yours)`;
    case 'kubelet':
      return parts.kubelet.kind === 'ours'
        ? 'the reference kubelet, kubeplug kubelet, on a process-runtime node with the dir-volume driver (ours)'
        : `${parts.kubelet.command} on a process-runtime node with the dir-volume driver (yours)`;
  }
}

/** A running CSI driver of ours. */
export interface RunningCsiDriver {
  readonly endpoint: string;
  readonly pid: number;
  stop(): Promise<void>;
}

/** The node's root and the parts started in it. */
export interface CertifyAllNode {
  /** The private temporary root: every folder of the run (parts, suites, reports of the CRI child) lives under it. */
  readonly root: string;
  /** The CNI plugins, configuration and node agent to certify. */
  cniSubject(): { cniPath: readonly string[]; confFile: string; nodeAgent?: readonly string[] };
  /** Starts the dir-volume driver (ours) on a socket under the root; stopped by {@link RunningCsiDriver.stop} or the teardown. */
  startCsiDriver(): Promise<RunningCsiDriver>;
  /** Starts the process runtime (ours) on an isolated node; stopped by its `stop` or the teardown. */
  startRuntime(): Promise<CriNode>;
  /** Registers an undo step that runs at teardown (before the parts registered earlier are stopped). */
  defer(undo: () => unknown, label: string): void;
  /** Stops every part still running and removes the root; later calls return the first call's result. */
  teardown(): Promise<CleanupFailure[]>;
}

/** The pod range of the node (CNI suite and runtime alike): outside kubeadm's Service range 10.96.0.0/12. */
const podSubnet = '10.88.0.0/24';

/** The node name the driver reports (NodeGetInfo). */
const nodeId = 'kubeplug-all-node';

/** Where the built agent that serves our CNI plugins lives. */
function cniAgentEntry(): string {
  return path.join(packageRoot(), 'dist', 'reference-plugins', 'host-local-bridge', 'node-agent', 'kubeplug-cni-agent.js');
}

function cliPath(): string {
  return path.join(packageRoot(), 'dist', 'runner', 'cli.js');
}

/** util-linux's setpriv, so a part dies with the harness even when the harness is killed outright. */
function withParentDeathSignal(argv: readonly string[]): string[] {
  const setpriv = findOnPath('setpriv');
  return setpriv === undefined ? [...argv] : [setpriv, '--pdeathsig', 'KILL', '--', ...argv];
}

/** Waits for a child's first stdout line to start with `ready `; throws with its output otherwise. */
async function waitForReady(child: ChildProcess, label: string, timeoutMs: number): Promise<void> {
  let output = '';
  const ready = new Promise<void>((resolve, reject) => {
    child.stdout?.on('data', (chunk: Buffer) => {
      output += chunk.toString();
      if (/^ready /m.test(output)) resolve();
    });
    child.once('exit', (code, signal) => reject(new Error(`${label} exited (${code ?? signal}) before it was ready: ${output.trim().slice(-500)}`)));
  });
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${label} was not ready within ${timeoutMs} ms: ${output.trim().slice(-500)}`)), timeoutMs);
  });
  try {
    await Promise.race([ready, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

/**
 * Unmounts whatever is mounted under `dir` in this mount namespace, then
 * removes it; refuses to remove it while a mount remains, since a recursive
 * removal would reach through the mount into what it shows.
 */
async function removeRoot(dir: string): Promise<void> {
  for (const mountPoint of mountsUnder(dir).reverse()) {
    const umount = spawn('umount', ['--recursive', '--lazy', mountPoint], { stdio: 'ignore' });
    await once(umount, 'exit').catch(() => undefined);
  }
  const left = mountsUnder(dir);
  if (left.length > 0) throw new Error(`mounts left under ${dir}: ${left.join(', ')}; the folder was kept`);
  fs.rmSync(dir, { recursive: true, force: true });
}

/** Makes the private root (mode 0700) and returns the node that starts parts in it. */
export function createCertifyAllNode(parts: NodeParts): CertifyAllNode {
  const root = fs.mkdtempSync(path.join(os.tmpdir(), 'kubeplug-all-'));
  fs.chmodSync(root, 0o700);
  const cleanup = new CleanupStack();
  cleanup.push(() => removeRoot(root), `remove ${root}`);
  let tearingDown: Promise<CleanupFailure[]> | undefined;

  return {
    root,
    cniSubject() {
      if (parts.cni.kind === 'user') {
        return { cniPath: parts.cni.cniPath, confFile: parts.cni.conf, ...(parts.cni.nodeAgent === undefined ? {} : { nodeAgent: parts.cni.nodeAgent }) };
      }
      const plugins = kubeplugCniPlugins();
      const confFile = path.join(root, 'cni', 'kubeplug.conflist');
      fs.mkdirSync(path.dirname(confFile), { recursive: true });
      // The bridge network of the process runtime's node, at the newest CNI version our plugins speak; the range lies outside
      // kubeadm's Service range 10.96.0.0/12, which the Kubernetes network-model cases keep pods out of (KUBE-NET-003).
      const conf = {
        cniVersion: '1.1.0',
        name: 'kp-all',
        plugins: [{ type: 'kubeplug-bridge', bridge: 'kpall0', isGateway: true, ipMasq: false, ipam: { type: 'kubeplug-host-local', ranges: [[{ subnet: podSubnet }]] } }],
      };
      fs.writeFileSync(confFile, `${JSON.stringify(conf, null, 2)}\n`);
      return { cniPath: [path.dirname(plugins['kubeplug-bridge'] ?? '')], confFile, nodeAgent: [process.execPath, cniAgentEntry()] };
    },
    async startCsiDriver() {
      const dir = path.join(root, 'csi-driver');
      fs.mkdirSync(path.join(dir, 'state'), { recursive: true });
      const endpoint = `unix://${path.join(dir, 'csi.sock')}`;
      const [command, ...args] = withParentDeathSignal([process.execPath, cliPath(), 'serve', 'csi', '--endpoint', endpoint, '--root', path.join(dir, 'state'), '--node-id', nodeId]);
      const log = fs.openSync(path.join(dir, 'driver.log'), 'a');
      const child = spawn(command as string, args, { stdio: ['ignore', 'pipe', log] });
      fs.closeSync(log);
      child.on('error', () => undefined); // seen as an exit before ready
      const pid = child.pid ?? 0;
      let stopping: Promise<void> | undefined;
      const stop = (): Promise<void> => (stopping ??= stopChild(child, 15_000, `kubeplug serve csi (pid ${pid})`));
      cleanup.push(stop, `stop the dir-volume driver (pid ${pid})`);
      await waitForReady(child, 'kubeplug serve csi', 30_000);
      return { endpoint, pid, stop };
    },
    async startRuntime() {
      let stopNode: (() => Promise<CleanupFailure[]>) | undefined;
      cleanup.push(async () => {
        const failures = (await stopNode?.()) ?? [];
        if (failures.length > 0) throw new Error(`the runtime's node did not stop cleanly: ${failures.map((failure) => `${failure.label}: ${failure.message}`).join('; ')}`);
      }, 'stop the process runtime\'s node');
      // kubeplug has no port-mapping plugin of its own: host ports (CRI-SANDBOX-024) go through upstream's portmap, chained after our bridge.
      const portmap = upstreamCniPlugins()?.portmap;
      if (portmap === undefined) throw new Error("upstream's portmap CNI plugin is not installed (Debian package containernetworking-plugins)");
      return startProcessRuntimeNode({
        cniPlugins: { ...kubeplugCniPlugins(), portmap },
        networkConfig: bridgeNetworkConfig({ plugins: 'kubeplug', name: 'kp-all', bridge: 'kpall0', subnet: podSubnet, portmap: true }),
        registerStop: (stop) => void (stopNode = stop),
      });
    },
    defer(undo, label) {
      cleanup.push(undo, label);
    },
    teardown() {
      return (tearingDown ??= cleanup.unwind(60_000));
    },
  };
}
