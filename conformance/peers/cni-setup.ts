import path from 'node:path';
import { packageRoot } from '../../specs/registry/index.js';
import type { NetworkConfigFor } from './cri-node.js';
import { firstExisting } from './system-scan.js';

/** Where Debian's containernetworking-plugins and upstream's release tarball put their executables. */
const upstreamBinDirs = ['/usr/lib/cni', '/opt/cni/bin'] as const;

/** kubeplug's own bridge and IPAM plugins as built in dist/cni-bin, by type. */
export function kubeplugCniPlugins(): Record<string, string> {
  const bin = path.join(packageRoot(), 'dist', 'cni-bin');
  return { 'kubeplug-bridge': path.join(bin, 'kubeplug-bridge'), 'kubeplug-host-local': path.join(bin, 'kubeplug-host-local') };
}

/** Upstream's bridge, host-local and portmap (containernetworking/plugins), by type, or undefined when they are not installed. */
export function upstreamCniPlugins(): Record<string, string> | undefined {
  const dir = firstExisting(upstreamBinDirs.filter((candidate) => firstExisting([path.join(candidate, 'bridge')]) !== undefined));
  if (dir === undefined) return undefined;
  return { bridge: path.join(dir, 'bridge'), 'host-local': path.join(dir, 'host-local'), portmap: path.join(dir, 'portmap') };
}

/** A bridge network for a node: which plugins, and the names and range inside the node. */
export interface BridgeNetwork {
  /** kubeplug's plugins (types kubeplug-bridge, kubeplug-host-local) or upstream's (bridge, host-local). */
  readonly plugins: 'kubeplug' | 'upstream';
  readonly name: string;
  /** The bridge's name inside the node's network namespace (at most 15 characters). */
  readonly bridge: string;
  /** An IPv4 CIDR, e.g. 10.88.0.0/16; nodes have namespaces of their own, so they may share one. */
  readonly subnet: string;
  /** Adds a portmap plugin to the chain (capability portMappings). */
  readonly portmap?: boolean;
  /** Destinations (CIDRs) pods route via their node's bridge, e.g. other nodes' pod ranges; none when unset. */
  readonly routes?: readonly string[];
}

/** The conflist for a {@link BridgeNetwork}; host-local keeps its reservations under the node's folder. */
export function bridgeNetworkConfig(network: BridgeNetwork): NetworkConfigFor {
  const [bridgeType, ipamType] = network.plugins === 'kubeplug' ? ['kubeplug-bridge', 'kubeplug-host-local'] : ['bridge', 'host-local'];
  return (nodeDir) => ({
    cniVersion: '1.0.0',
    name: network.name,
    plugins: [
      {
        type: bridgeType,
        bridge: network.bridge,
        isGateway: true,
        ipMasq: false,
        ipam: {
          type: ipamType,
          dataDir: path.join(nodeDir, 'ipam'),
          ranges: [[{ subnet: network.subnet }]],
          ...(network.routes === undefined ? {} : { routes: network.routes.map((dst) => ({ dst })) }),
        },
      },
      ...(network.portmap === true ? [{ type: 'portmap', capabilities: { portMappings: true } }] : []),
    ],
  });
}
