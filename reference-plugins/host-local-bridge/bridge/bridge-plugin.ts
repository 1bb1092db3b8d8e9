import type { PluginDefinition, PluginHandlers } from '../../../specs/cni/skeleton.js';
import { cniSupportedVersions } from '../../../specs/cni/versions.js';
import type { FileLocker } from '../host-local/file-lock.js';
import type { CommandLauncher } from './command-launcher.js';

/** What a host process gives the plugin; a standalone plugin process gives nothing. */
export interface BridgePluginOptions {
  /** Starts the helper commands (iproute2, nft, iptables); plain child processes when absent. */
  readonly launcher?: CommandLauncher;
  /** Takes the IPAM data directory's lock when our own host-local runs in process. */
  readonly locker?: FileLocker;
}

/**
 * kubeplug-bridge's verbs, one handler each. Each handler's modules load
 * only when its verb runs: start-up is most of a plugin call's cost, and
 * a DEL has no use for ADD's code.
 */
function bridgeHandlers(options: BridgePluginOptions = {}): PluginHandlers {
  return {
    add: async (request) => (await import('./add-attachment.js')).addAttachment(request, options),
    del: async (request) => (await import('./delete-attachment.js')).deleteAttachment(request, options),
    check: async (request) => (await import('./check-attachment.js')).checkAttachment(request, options),
    gc: async (request) => (await import('./collect-garbage.js')).collectGarbage(request, options),
    status: async (request) => (await import('./report-status.js')).reportStatus(request, options),
  };
}

/**
 * kubeplug-bridge: a CNI main plugin equivalent to containernetworking/plugins'
 * bridge (v1.9.1). It runs in the node's network namespace, connects each
 * container to a Linux bridge through a veth pair, delegates addresses to the
 * IPAM plugin named by `ipam.type`, and optionally makes the bridge the
 * gateway and masquerades the container's traffic. The node agent builds
 * its own with its exec server as launcher.
 */
export function createBridgePlugin(options: BridgePluginOptions = {}): PluginDefinition {
  return {
    about: 'kubeplug-bridge: CNI bridge plugin (kubeplug reference plugin, equivalent to containernetworking/plugins bridge v1.9.1)',
    supportedVersions: [...cniSupportedVersions],
    handlers: bridgeHandlers(options),
  };
}

/** The plugin as a standalone process runs it. */
export const bridgePlugin: PluginDefinition = createBridgePlugin();
