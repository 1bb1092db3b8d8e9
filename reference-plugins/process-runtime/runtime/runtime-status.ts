import fs from 'node:fs/promises';
import type { RuntimeCondition } from '../../../specs/cri/index.js';
import { findNetworkConfigFile } from './pod-network.js';
import type { RuntimeContext } from './runtime-context.js';

/**
 * The two conditions the kubelet requires. RuntimeReady while the state
 * folders can be written; NetworkReady while a CNI network configuration is
 * in the configuration folder (as containerd reports it).
 */
export async function runtimeConditions(ctx: RuntimeContext): Promise<RuntimeCondition[]> {
  const writable = await fs.access(ctx.layout.containersDir, fs.constants.W_OK).then(() => true, () => false);
  const runtimeReady: RuntimeCondition = writable
    ? { type: 'RuntimeReady', status: true, reason: '', message: '' }
    : { type: 'RuntimeReady', status: false, reason: 'StateNotWritable', message: `${ctx.layout.containersDir} cannot be written` };
  const confFile = await findNetworkConfigFile(ctx.cniConfDir);
  const networkReady: RuntimeCondition =
    confFile === undefined
      ? { type: 'NetworkReady', status: false, reason: 'NetworkPluginNotReady', message: `Network plugin returns error: cni config uninitialized: no network configuration (.conf, .conflist or .json) in ${ctx.cniConfDir}` }
      : { type: 'NetworkReady', status: true, reason: '', message: '' };
  return [runtimeReady, networkReady];
}
