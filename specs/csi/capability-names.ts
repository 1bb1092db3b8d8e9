import {
  ControllerServiceCapability_RPC_Type,
  GroupControllerServiceCapability_RPC_Type,
  NodeServiceCapability_RPC_Type,
  PluginCapability_Service_Type,
  PluginCapability_VolumeExpansion_Type,
  type ControllerServiceCapability,
  type GroupControllerServiceCapability,
  type NodeServiceCapability,
  type PluginCapability,
} from '../../proto/gen/csi/v1/csi.js';

/**
 * Capabilities as flat strings (`plugin.service.CONTROLLER_SERVICE`,
 * `controller.CREATE_DELETE_VOLUME`, `node.STAGE_UNSTAGE_VOLUME`), the form
 * conformance cases declare in their needs. Values a plugin sends that the
 * contract does not define are returned as `…UNDEFINED(n)` so they stay visible.
 */
export function pluginCapabilityName(capability: PluginCapability): string {
  switch (capability.type?.$case) {
    case 'service':
      return `plugin.service.${enumName(PluginCapability_Service_Type, capability.type.value.type)}`;
    case 'volumeExpansion':
      return `plugin.volume-expansion.${enumName(PluginCapability_VolumeExpansion_Type, capability.type.value.type)}`;
    default:
      return 'plugin.UNSET';
  }
}

/** @see pluginCapabilityName */
export function controllerCapabilityName(capability: ControllerServiceCapability): string {
  return capability.type?.$case === 'rpc'
    ? `controller.${enumName(ControllerServiceCapability_RPC_Type, capability.type.value.type)}`
    : 'controller.UNSET';
}

/** @see pluginCapabilityName */
export function nodeCapabilityName(capability: NodeServiceCapability): string {
  return capability.type?.$case === 'rpc'
    ? `node.${enumName(NodeServiceCapability_RPC_Type, capability.type.value.type)}`
    : 'node.UNSET';
}

/** @see pluginCapabilityName */
export function groupControllerCapabilityName(capability: GroupControllerServiceCapability): string {
  return capability.type?.$case === 'rpc'
    ? `group-controller.${enumName(GroupControllerServiceCapability_RPC_Type, capability.type.value.type)}`
    : 'group-controller.UNSET';
}

function enumName(table: Record<number, string>, value: number): string {
  // ts-proto's decoder keeps numbers it does not know; -1 is its own UNRECOGNIZED marker.
  const name = value >= 0 ? table[value] : undefined;
  return name ?? `UNDEFINED(${value})`;
}
