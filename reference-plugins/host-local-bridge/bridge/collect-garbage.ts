import { CniError } from '../../../specs/cni/cni-error.js';
import type { GcRequest } from '../../../specs/cni/skeleton.js';
import { parseBridgeConfig } from './bridge-config.js';
import type { BridgePluginOptions } from './bridge-plugin.js';
import { reportTraceIfAsked, runnerForInvocation } from './command-runner.js';
import { collectStaleMasquerade } from './ip-masquerade.js';
import { IpamDelegate } from './ipam-delegation.js';

/**
 * GC: forwards to the IPAM plugin, which releases the addresses of
 * attachments not in `cni.dev/valid-attachments` (SPEC.md § GC: delegating
 * plugins MUST forward GC), and removes this network's masquerade chains of
 * containers with no valid attachment. Upstream's bridge has no GC yet (a
 * FIXME in plugins/main/bridge/bridge.go), so this follows the spec. Both
 * parts run even when one fails; the errors are reported together.
 */
export async function collectGarbage(request: GcRequest, services: BridgePluginOptions = {}): Promise<void> {
  const config = parseBridgeConfig(request);
  const runner = runnerForInvocation(request.env, services.launcher);
  const errors: CniError[] = [];
  try {
    if (config.ipamType !== undefined) {
      await new IpamDelegate({ type: config.ipamType, request, runner, services }).gc().catch((error: unknown) => errors.push(CniError.from(error)));
      if (config.ipMasq) {
        const keepContainerIds = new Set(request.validAttachments.map((attachment) => attachment.containerID));
        await collectStaleMasquerade(runner, { network: config.network, keepContainerIds }).catch((error: unknown) => errors.push(CniError.from(error)));
      }
    }
  } finally {
    reportTraceIfAsked(request.env, runner);
  }
  const [first, ...rest] = errors;
  if (first === undefined) return;
  if (rest.length === 0) throw first;
  throw new CniError({ code: first.code, msg: first.msg, details: errors.map((error) => error.message).join('; ') });
}
