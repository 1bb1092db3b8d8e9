import { execFile, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';
import { ImageStatusRequest, callUnary } from '../../specs/cri/index.js';
import { containerdConfig } from './containerd-config.js';
import type { CriNode, CriNodeOptions } from './cri-node.js';
import { findLoopbackPlugin, startIsolatedNode } from './isolated-node.js';
import { findOnPath, retryUntil } from './system-scan.js';

const execFileAsync = promisify(execFile);

/** Commands a containerd node runs; all ship in Debian's containerd, runc, iproute2, util-linux and tar. */
const requiredCommands = ['containerd', 'containerd-shim-runc-v2', 'runc', 'ctr', 'nsenter', 'unshare', 'mount', 'umount', 'ip', 'tar'] as const;

/** The containerd namespace the CRI plugin keeps its images and sandboxes in. */
const criNamespace = 'k8s.io';

/** What {@link startContainerdNode} sets up beyond what every node takes. */
export interface ContainerdNodeOptions extends CriNodeOptions {
  /**
   * The CRI plugin's sandbox_image: pulled at the first RunPodSandbox (push
   * it to one of `loopbackRegistries`), or imported beforehand with
   * {@link ContainerdNode.importImage}.
   */
  readonly sandboxImage: string;
}

/** Debian's containerd with its CRI plugin and runc, as a {@link CriNode}. */
export interface ContainerdNode extends CriNode {
  readonly kind: 'containerd';
  readonly snapshotter: 'overlayfs' | 'native';
  /** Imports an OCI archive into the CRI namespace and waits until the CRI plugin lists it. */
  importImage(archive: string, reference: string): Promise<void>;
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

/**
 * Starts Debian's containerd with its CRI plugin on an isolated node (see
 * {@link CriNode}); resolves once Version answers and the plugin reports
 * RuntimeReady and NetworkReady. Check {@link containerdNodeUnavailable} first.
 */
export function startContainerdNode(options: ContainerdNodeOptions): Promise<ContainerdNode> {
  return startIsolatedNode({ ...options, role: 'ctd' }, async (scaffold) => {
    const { dir } = scaffold;
    const snapshotter = overlayWorksIn(dir) ? 'overlayfs' : 'native';
    fs.mkdirSync(path.join(dir, 'temp'));
    const socketPath = path.join(dir, 'containerd.sock');
    const configPath = path.join(dir, 'config.toml');
    fs.writeFileSync(
      configPath,
      containerdConfig({
        dir,
        socketPath,
        sandboxImage: options.sandboxImage,
        snapshotter,
        cniBinDir: scaffold.cniBinDir,
        cniConfDir: scaffold.cniConfDir,
        plainHttpRegistries: options.loopbackRegistries ?? [],
      }),
    );
    const child = scaffold.startRuntime({ label: 'containerd', command: 'containerd', args: ['--config', configPath], graceMs: 10_000 });
    await scaffold.waitForSocket(child, socketPath, 15_000, 'containerd');
    const endpoint = `unix://${socketPath}`;
    const clients = await scaffold.connect(endpoint, "containerd's CRI plugin");
    const node = scaffold.nodeFor({ kind: 'containerd', endpoint, pid: child.pid, clients, shimPattern: /^\S*containerd-shim-runc-v2 / });
    return {
      ...node,
      kind: 'containerd',
      snapshotter,
      async importImage(archive, reference) {
        await execFileAsync('ctr', ['--address', socketPath, '--namespace', criNamespace, 'images', 'import', '--snapshotter', snapshotter, archive], { timeout: 60_000 });
        // The CRI plugin learns about imported images from events, a moment later.
        const listed = await retryUntil(10_000, async () => {
          const status = await callUnary(clients.images, clients.images.imageStatus, ImageStatusRequest.fromPartial({ image: { image: reference } }));
          return status.image !== undefined;
        });
        if (!listed) throw new Error(`the CRI plugin does not list ${reference} after ctr imported it`);
      },
    };
  });
}
