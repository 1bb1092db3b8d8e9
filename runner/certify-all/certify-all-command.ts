/**
 * The `kubeplug certify all` command line: the flags every `certify`
 * command shares, plus one flag per part a user may bring instead of ours
 * (a mixed node). Each brought part replaces ours for its own interface
 * only: the kubelet is always certified on a process-runtime node with the
 * dir-volume driver, because its harness must isolate, restart and observe
 * the runtime and driver it runs on.
 */
import fs from 'node:fs';
import type { Argv } from 'yargs';
import { KubeletRunConfigError, loadKubeletRunSettings } from '../../conformance/kubelet/run-config.js';
import { commonFlags, commonOptions, type CommandIo } from '../commands/certify.js';
import { UsageError } from '../usage-error.js';
import type { NodeParts } from './node-parts.js';

/** The flags of `certify all` beyond the common ones. */
interface MixedNodeFlags {
  readonly 'cri-endpoint'?: string | undefined;
  readonly 'cni-path'?: string[] | undefined;
  readonly conf?: string | undefined;
  readonly 'node-agent'?: string | undefined;
  readonly 'csi-endpoint'?: string | undefined;
  readonly 'kubelet-cmd'?: string | undefined;
}

/** Throws a UsageError naming `flag` unless `endpoint` is a unix socket that exists. */
function checkEndpoint(flag: string, endpoint: string): string {
  const socketPath = endpoint.startsWith('unix://') ? endpoint.slice('unix://'.length) : endpoint.startsWith('/') ? endpoint : undefined;
  if (socketPath === undefined) throw new UsageError(`${flag}: ${JSON.stringify(endpoint)} is not a unix socket (unix:///path.sock)`);
  let isSocket = false;
  try {
    isSocket = fs.statSync(socketPath).isSocket();
  } catch {
    isSocket = false;
  }
  if (!isSocket) throw new UsageError(`${flag}: cannot reach ${endpoint}: no socket at ${socketPath}`);
  return `unix://${socketPath}`;
}

/** Which part serves each interface, from the mixed-node flags; throws a UsageError naming a bad flag. */
export function partsFromFlags(argv: MixedNodeFlags): NodeParts {
  const cniPath = (argv['cni-path'] ?? []).flatMap((entry) => entry.split(':')).filter((dir) => dir !== '');
  if ((cniPath.length > 0) !== (argv.conf !== undefined)) {
    throw new UsageError(cniPath.length > 0 ? '--cni-path needs --conf: the network configuration to certify your plugins with' : '--conf needs --cni-path: the folder(s) of your plugins');
  }
  const nodeAgent = argv['node-agent']?.split(/\s+/).filter((word) => word !== '');
  if (nodeAgent !== undefined && cniPath.length === 0) throw new UsageError('--node-agent goes with --cni-path and --conf (our plugins bring their own agent)');
  if (nodeAgent !== undefined && nodeAgent.length === 0) throw new UsageError('--node-agent: the command is empty');
  for (const dir of cniPath) {
    if (!fs.existsSync(dir) || !fs.statSync(dir).isDirectory()) throw new UsageError(`--cni-path: ${dir} is not an existing folder`);
  }
  if (argv.conf !== undefined && !fs.existsSync(argv.conf)) throw new UsageError(`--conf: ${argv.conf} does not exist`);
  const kubeletCmd = argv['kubelet-cmd'];
  if (kubeletCmd !== undefined) {
    try {
      loadKubeletRunSettings({ kubeletCmd });
    } catch (error) {
      if (error instanceof KubeletRunConfigError) throw new UsageError(error.message);
      throw error;
    }
  }
  return {
    cni: argv.conf === undefined ? { kind: 'ours' } : { kind: 'user', cniPath, conf: argv.conf, ...(nodeAgent === undefined ? {} : { nodeAgent }) },
    csi: argv['csi-endpoint'] === undefined ? { kind: 'ours' } : { kind: 'user', endpoint: checkEndpoint('--csi-endpoint', argv['csi-endpoint']) },
    cri: argv['cri-endpoint'] === undefined ? { kind: 'ours' } : { kind: 'user', endpoint: checkEndpoint('--cri-endpoint', argv['cri-endpoint']) },
    kubelet: kubeletCmd === undefined ? { kind: 'ours' } : { kind: 'user', command: kubeletCmd },
  };
}

/** `kubeplug certify all`. */
export function certifyAllCommand(io: CommandIo) {
  return {
    command: 'all',
    describe: 'Certify a whole node: starts our runtime, CNI plugins, CSI driver and kubelet (or yours) in a private root and certifies CNI, CSI, CRI and the kubelet (needs root)',
    builder: (sub: Argv) =>
      commonOptions(sub)
        .option('cri-endpoint', {
          type: 'string',
          describe: 'Certify your CRI runtime at this unix socket instead of ours (the suite runs in this machine\'s namespaces; the kubelet is still certified on ours)',
        })
        .option('cni-path', { type: 'string', array: true, describe: 'Certify your CNI plugins from these folders (with --conf) instead of ours' })
        .option('conf', { type: 'string', describe: 'The network configuration (.conflist or .conf) to certify your CNI plugins with' })
        .option('node-agent', { type: 'string', describe: 'Command of a resident per-node process your CNI plugins need (as certify cni --node-agent)' })
        .option('csi-endpoint', { type: 'string', describe: 'Certify your CSI plugin at this unix socket instead of ours (the kubelet is still certified with ours)' })
        .option('kubelet-cmd', {
          type: 'string',
          describe: 'Certify your kubelet instead of ours: a command template as certify kubelet --kubelet-cmd takes, run on a process-runtime node with the dir-volume driver',
        }),
    handler: async (argv: MixedNodeFlags & Parameters<typeof commonFlags>[0]) => {
      const { certifyAll } = await import('./certify-all.js');
      await certifyAll({ flags: commonFlags(argv), parts: partsFromFlags(argv) }, io);
    },
  };
}
