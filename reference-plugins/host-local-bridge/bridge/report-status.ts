import type { PluginRequest } from '../../../specs/cni/skeleton.js';
import { parseBridgeConfig } from './bridge-config.js';
import type { BridgePluginOptions } from './bridge-plugin.js';
import { reportTraceIfAsked, runnerForInvocation } from './command-runner.js';
import { IpamDelegate } from './ipam-delegation.js';

/**
 * STATUS: the bridge needs nothing but its IPAM plugin to serve ADD, so it
 * reports what the IPAM plugin reports, as upstream's cmdStatus does.
 */
export async function reportStatus(request: PluginRequest, services: BridgePluginOptions = {}): Promise<void> {
  const config = parseBridgeConfig(request);
  if (config.ipamType === undefined) return;
  const runner = runnerForInvocation(request.env, services.launcher);
  try {
    await new IpamDelegate({ type: config.ipamType, request, runner, services }).status();
  } finally {
    reportTraceIfAsked(request.env, runner);
  }
}
