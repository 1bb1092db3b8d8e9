import type { PluginDefinition, PluginHandlers } from '../../../specs/cni/skeleton.js';
import { cniSupportedVersions } from '../../../specs/cni/versions.js';

/**
 * kubeplug-bridge's verbs, one handler each. Each handler's modules load
 * only when its verb runs: start-up is most of a plugin call's cost, and
 * a DEL has no use for ADD's code.
 */
export const bridgeHandlers: PluginHandlers = {
  add: async (request) => (await import('./add-attachment.js')).addAttachment(request),
  del: async (request) => (await import('./delete-attachment.js')).deleteAttachment(request),
  check: async (request) => (await import('./check-attachment.js')).checkAttachment(request),
  gc: async (request) => (await import('./collect-garbage.js')).collectGarbage(request),
  status: async (request) => (await import('./report-status.js')).reportStatus(request),
};

/**
 * kubeplug-bridge: a CNI main plugin equivalent to containernetworking/plugins'
 * bridge (v1.9.1). It runs in the node's network namespace, connects each
 * container to a Linux bridge through a veth pair, delegates addresses to the
 * IPAM plugin named by `ipam.type`, and optionally makes the bridge the
 * gateway and masquerades the container's traffic.
 */
export const bridgePlugin: PluginDefinition = {
  about: 'kubeplug-bridge: CNI bridge plugin (kubeplug reference plugin, equivalent to containernetworking/plugins bridge v1.9.1)',
  supportedVersions: [...cniSupportedVersions],
  handlers: bridgeHandlers,
};
