import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { CriNode, CriNodeOptions } from './cri-node.js';
import { startIsolatedNode } from './isolated-node.js';
import { findOnPath } from './system-scan.js';

/** What {@link startProcessRuntimeNode} sets up beyond what every node takes. */
export interface ProcessRuntimeNodeOptions extends CriNodeOptions {
  /** The OCI runtime `kubeplug serve cri` drives (`--oci-runtime`); its default when unset. */
  readonly ociRuntime?: 'runc' | 'crun';
  /** The CLI to run; the package's dist/runner/cli.js when unset. */
  readonly cliPath?: string;
  /** More arguments for `kubeplug serve cri`. */
  readonly extraArgs?: readonly string[];
}

/** The package's built CLI, found from this file in dist or in the sources. */
function defaultCliPath(): string {
  const here = path.dirname(fileURLToPath(import.meta.url));
  const fromDist = path.join(here, '..', '..', 'runner', 'cli.js');
  return fs.existsSync(fromDist) ? fromDist : path.join(here, '..', '..', 'dist', 'runner', 'cli.js');
}

/** Why kubeplug's process runtime cannot run as a node here, or undefined when it can. */
export function processRuntimeNodeUnavailable(cliPath = defaultCliPath()): string | undefined {
  if (process.platform !== 'linux') return 'needs Linux';
  if (process.getuid?.() !== 0) return 'needs root (network and mount namespaces, cgroups)';
  if (!fs.existsSync(cliPath)) return `${cliPath} is not built (run npm run build)`;
  const missing = ['runc', 'nsenter', 'unshare', 'mount', 'ip'].filter((command) => findOnPath(command) === undefined);
  if (missing.length > 0) return `needs ${missing.join(', ')} on PATH`;
  return undefined;
}

/**
 * Starts `kubeplug serve cri` on an isolated node, exactly as
 * {@link startContainerdNode} starts containerd (same namespaces, folders,
 * CNI set-up and registry relays), so tests, certification and benchmarks
 * treat both alike; resolves once Version answers and Status reports
 * RuntimeReady and NetworkReady.
 */
export function startProcessRuntimeNode(options: ProcessRuntimeNodeOptions): Promise<CriNode> {
  return startIsolatedNode({ ...options, role: 'kpcri' }, async (scaffold) => {
    const socketPath = path.join(scaffold.dir, 'cri.sock');
    const endpoint = `unix://${socketPath}`;
    const args = [
      options.cliPath ?? defaultCliPath(),
      'serve',
      'cri',
      '--endpoint',
      endpoint,
      '--root',
      path.join(scaffold.dir, 'root'),
      '--cni-conf-dir',
      scaffold.cniConfDir,
      '--cni-path',
      scaffold.cniBinDir,
      ...(options.ociRuntime === undefined ? [] : ['--oci-runtime', options.ociRuntime]),
      ...(options.loopbackRegistries ?? []).flatMap((host) => ['--insecure-registry', host]),
      ...(options.extraArgs ?? []),
    ];
    const child = scaffold.startRuntime({ label: 'kubeplug serve cri', command: process.execPath, args, graceMs: 10_000 });
    await scaffold.waitForSocket(child, socketPath, 20_000, 'kubeplug serve cri');
    const clients = await scaffold.connect(endpoint, 'kubeplug serve cri');
    return scaffold.nodeFor({ kind: 'kubeplug', endpoint, pid: child.pid, clients, shimPattern: /(^|\/)kubeplug-shim( |$)/ });
  });
}
