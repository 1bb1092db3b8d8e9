import { VolumeCapability_AccessMode_Mode, type Volume, type VolumeCapability } from '../../specs/csi/index.js';
import type { CaseContext } from '../framework/index.js';
import { callController } from './csi-calls.js';
import type { CsiSubject } from './csi-subject.js';
import { blockCapability, mountCapability, secretsFor } from './test-volumes.js';

type Ctx = CaseContext<CsiSubject>;

/** Capabilities some volumes lack, tried in this order: another access type, wider access, an unknown filesystem. */
function candidates(): { label: string; capability: VolumeCapability }[] {
  return [
    { label: 'block access', capability: blockCapability() },
    { label: 'MULTI_NODE_MULTI_WRITER', capability: mountCapability(VolumeCapability_AccessMode_Mode.MULTI_NODE_MULTI_WRITER) },
    { label: 'fs_type kubeplug-no-such-fs', capability: mountCapability(undefined, 'kubeplug-no-such-fs') },
  ];
}

/**
 * A capability the volume does not support, as the plugin itself says: the
 * first candidate ValidateVolumeCapabilities answers without `confirmed`.
 * Ends the case as not applicable when the plugin has no controller to ask
 * or supports every candidate (the case then has nothing to judge).
 */
export async function unsupportedCapabilityOf(
  ctx: Ctx,
  volume: Volume,
): Promise<{ label: string; capability: VolumeCapability }> {
  if (!ctx.subject.capabilities.has('plugin.service.CONTROLLER_SERVICE')) {
    ctx.notApplicable('no Controller service to tell which capabilities a volume lacks (ValidateVolumeCapabilities)');
  }
  for (const candidate of candidates()) {
    const answer = await callController(ctx, 'validateVolumeCapabilities', {
      volumeId: volume.volumeId,
      volumeContext: { ...volume.volumeContext },
      volumeCapabilities: [candidate.capability],
      parameters: { ...ctx.subject.config.testVolumeParameters },
      secrets: secretsFor(ctx, 'ControllerValidateVolumeCapabilitiesSecret'),
      mutableParameters: {},
    });
    if (answer.ok && answer.response.confirmed === undefined) {
      ctx.note(`ValidateVolumeCapabilities does not confirm ${candidate.label} for ${volume.volumeId}`);
      return candidate;
    }
  }
  return ctx.notApplicable('the volume supports every capability the suite tries (block, MULTI_NODE_MULTI_WRITER, an unknown fs_type)');
}
