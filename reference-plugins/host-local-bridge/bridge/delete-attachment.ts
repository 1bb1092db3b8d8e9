import { toResult100 } from '../../../specs/cni/result-conversion.js';
import type { PluginRequest } from '../../../specs/cni/skeleton.js';
import { parseBridgeConfig } from './bridge-config.js';
import { hostCommandFailed } from './bridge-errors.js';
import type { BridgePluginOptions } from './bridge-plugin.js';
import { reportTraceIfAsked, runnerForInvocation } from './command-runner.js';
import { familyOfText, type IpFamily } from './ip-address.js';
import type { IpAddressInfo } from './ip-json.js';
import { teardownIpMasquerade } from './ip-masquerade.js';
import { IpamDelegate } from './ipam-delegation.js';
import { removeContainerInterface } from './link-operations.js';
import { spoofCheckId, teardownSpoofCheck } from './mac-spoof-check.js';
import { netnsState } from './netns-path.js';
import { allSettledOrThrow } from './rollback-stack.js';

/**
 * DEL: idempotent, and fine without CNI_NETNS or after the namespace is
 * gone. Order as upstream's cmdDel: the container interface first (deleted
 * from inside, which removes the host end too), then the IPAM release, so an
 * address is never released while still configured; the MAC spoof check and
 * the masquerade chain go alongside the release. Unlike upstream, the chain is removed even
 * when the namespace is already gone, since it is found by name, not by
 * address.
 */
export async function deleteAttachment(request: PluginRequest, services: BridgePluginOptions = {}): Promise<void> {
  const config = parseBridgeConfig(request);
  const runner = runnerForInvocation(request.env, services.launcher);
  try {
    let removed: readonly IpAddressInfo[] | undefined;
    if (request.netns !== '' && (await netnsState(request.netns)) === 'present') {
      try {
        removed = await removeContainerInterface(runner, request.netns, request.ifName);
      } catch (error) {
        throw hostCommandFailed(`failed to delete "${request.ifName}" in ${request.netns}`, error);
      }
    }
    // Once the interface is gone, the release and the rule removals are independent: run them together.
    const families = config.ipamType !== undefined && config.ipMasq ? masqueradeFamilies(removed, request) : [];
    await allSettledOrThrow([
      config.ipamType === undefined ? undefined : new IpamDelegate({ type: config.ipamType, request, runner, services }).del(),
      families.length === 0 ? undefined : teardownIpMasquerade(runner, { network: config.network, containerId: request.containerId, families }),
      config.macSpoofCheck
        ? teardownSpoofCheck(runner, { id: spoofCheckId(request.containerId, request.ifName) }).catch((error: unknown) => {
            // Upstream logs a failed spoof-check teardown and carries on; so do we.
            process.stderr.write(`kubeplug-bridge: ${error instanceof Error ? error.message : String(error)}\n`);
          })
        : undefined,
    ] as const);
  } finally {
    reportTraceIfAsked(request.env, runner);
  }
}

/**
 * Which iptables families may hold the container's chain: those of the
 * global addresses the interface had, else those of prevResult, else both.
 */
function masqueradeFamilies(removed: readonly IpAddressInfo[] | undefined, request: PluginRequest): IpFamily[] {
  if (removed !== undefined) {
    return [...new Set(removed.filter((info) => info.scope === 'global').map((info) => familyOfText(info.local)))];
  }
  const previous = request.conf.prevResult === undefined ? undefined : toResult100(request.conf.prevResult).ips;
  if (previous !== undefined && previous.length > 0) return [...new Set(previous.map((ip) => familyOfText(ip.address)))];
  return ['4', '6'];
}
