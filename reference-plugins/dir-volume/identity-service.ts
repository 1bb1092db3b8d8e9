import {
  PluginCapability_Service_Type,
  type AsyncServiceImplementation,
  type IdentityService,
  type PluginCapability,
} from '../../specs/csi/index.js';

/** The name the dir-volume driver reports: vendor domain plus plugin name. */
export const dirVolumeDriverName = 'dir-volume.csi.kubeplug.io';

/** Options for {@link createIdentityService}. */
export interface IdentityServiceOptions {
  readonly name?: string;
  readonly vendorVersion: string;
  /** What the plugin as a whole offers; the same on every socket it serves. */
  readonly capabilities: readonly PluginCapability[];
  readonly manifest?: Readonly<Record<string, string>>;
  /** Reports readiness; throwing a GrpcStatusError(FAILED_PRECONDITION) reports ill health. */
  readonly checkReady?: () => Promise<boolean>;
}

/** The capability entry for a plugin service type. */
export function serviceCapability(type: PluginCapability_Service_Type): PluginCapability {
  return { type: { $case: 'service', value: { type } } };
}

/**
 * The Identity service of the dir-volume driver. Every answer is computed
 * from its options, so all instances of one version answer alike.
 *
 * @see CSI-IDENT-001 … CSI-IDENT-017
 */
export function createIdentityService(options: IdentityServiceOptions): AsyncServiceImplementation<IdentityService> {
  const name = options.name ?? dirVolumeDriverName;
  return {
    async getPluginInfo() {
      return { name, vendorVersion: options.vendorVersion, manifest: { ...options.manifest } };
    },
    async getPluginCapabilities() {
      return { capabilities: [...options.capabilities] };
    },
    async probe() {
      const ready = options.checkReady === undefined ? true : await options.checkReady();
      return { ready };
    },
  };
}
