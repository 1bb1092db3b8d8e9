/**
 * What the Controller cases share: judging a call's status, checking the size
 * limits of what the plugin returns, finding the node to publish at, and
 * requests for volumes that do not exist.
 */
import type { GrpcStatusName, Topology, Volume } from '../../specs/csi/index.js';
import type { CaseContext } from '../framework/index.js';
import { callController, callNode } from './csi-calls.js';
import type { CsiSubject } from './csi-subject.js';
import { describeOutcome, statusOf } from './expect-status.js';

export { unknownVolumeId } from './expect-status.js';
import type { CallOutcome } from './record-call.js';
import { secretsFor } from './test-volumes.js';

type Ctx = CaseContext<CsiSubject>;

/** CSI's general limit on a string, in UTF-8 bytes (spec.md, Size Limits). @see CSI-GEN-012 */
export const stringLimitBytes = 128;
/** CSI's general limit on a string map, keys plus values in UTF-8 bytes. @see CSI-GEN-012 */
export const mapLimitBytes = 4096;

/**
 * Checks that a call ended with one of the wanted codes (`OK` for success)
 * and returns whether it did; `ids` default to the case's, as in ctx.check.
 */
export function expectStatus(
  ctx: Ctx,
  outcome: CallOutcome<unknown>,
  check: { ids?: readonly string[]; what: string; codes: readonly (GrpcStatusName | 'OK')[] },
): boolean {
  return ctx.check(check.codes.includes(statusOf(outcome) as GrpcStatusName | 'OK'), {
    ...(check.ids === undefined ? {} : { ids: check.ids }),
    what: check.what,
    expected: check.codes.join(' or '),
    got: describeOutcome(outcome),
  });
}

/** Whether the subject advertises a capability (`controller.LIST_VOLUMES`). */
export function advertises(ctx: Ctx, capability: string): boolean {
  return ctx.subject.capabilities.has(capability);
}

/** The node ID NodeGetInfo reports, which the CO publishes to. A failure stops the case. */
export async function nodeIdOf(ctx: Ctx, ids: readonly string[]): Promise<{ nodeId: string; topology?: Topology; maxVolumes: number }> {
  const info = await callNode(ctx, 'nodeGetInfo', {});
  ctx.require(info.ok && info.response.nodeId !== '', {
    ids,
    what: 'NodeGetInfo names the node to publish at',
    expected: 'OK with a node_id',
    got: info.ok ? info.response : describeOutcome(info),
  });
  if (!info.ok) throw new Error('unreachable: required above');
  return {
    nodeId: info.response.nodeId,
    ...(info.response.accessibleTopology === undefined ? {} : { topology: info.response.accessibleTopology }),
    maxVolumes: Number(info.response.maxVolumesPerNode),
  };
}

/** DeleteVolume with the run's secrets. */
export function deleteVolume(ctx: Ctx, volumeId: string): ReturnType<typeof callController<'deleteVolume'>> {
  return callController(ctx, 'deleteVolume', { volumeId, secrets: secretsFor(ctx, 'DeleteVolumeSecret') });
}

/** Registers an unpublish of a volume from a node before the publish is attempted. */
export function deferControllerUnpublish(ctx: Ctx, volumeId: string, nodeId: string): void {
  ctx.defer(
    () => callController(ctx, 'controllerUnpublishVolume', { volumeId, nodeId, secrets: secretsFor(ctx, 'ControllerUnpublishVolumeSecret') }),
    `controller-unpublish ${volumeId} from ${nodeId}`,
  );
}

/** Registers a deletion of a volume made by a call the case judges itself (createTestVolume registers its own). */
export function deferDeleteVolume(ctx: Ctx, volume: Volume | undefined): void {
  if (volume === undefined || volume.volumeId === '') return;
  ctx.defer(() => deleteVolume(ctx, volume.volumeId), `delete volume ${volume.volumeId}`);
}

/** UTF-8 length of a string, the unit of CSI's size limits. */
export function byteLength(text: string): number {
  return Buffer.byteLength(text, 'utf8');
}

/** Problems of one string map against the 128-byte and 4 KiB limits. */
export function mapLimitProblems(name: string, map: Readonly<Record<string, string>>): string[] {
  const problems: string[] = [];
  let total = 0;
  for (const [key, value] of Object.entries(map)) {
    total += byteLength(key) + byteLength(value);
    if (byteLength(key) > stringLimitBytes) problems.push(`${name} key "${key.slice(0, 20)}…" is ${byteLength(key)} bytes`);
    if (byteLength(value) > stringLimitBytes) problems.push(`${name}["${key}"] is ${byteLength(value)} bytes`);
  }
  if (total > mapLimitBytes) problems.push(`${name} is ${total} bytes in all`);
  return problems;
}

/** Checks a volume the plugin returned against CSI's size limits. @see CSI-GEN-012 */
export function checkVolumeLimits(ctx: Ctx, volume: Volume, where: string): boolean {
  const problems = [
    ...(byteLength(volume.volumeId) > stringLimitBytes ? [`volume_id is ${byteLength(volume.volumeId)} bytes`] : []),
    ...mapLimitProblems('volume_context', volume.volumeContext),
    ...volume.accessibleTopology.flatMap((topology, index) => mapLimitProblems(`accessible_topology[${index}]`, topology.segments)),
  ];
  return ctx.check(problems.length === 0, {
    ids: ['CSI-GEN-012'],
    what: `the volume ${where} stays within 128 bytes per string and 4 KiB per map`,
    expected: 'no field over its limit',
    got: problems.length === 0 ? 'within limits' : problems,
  });
}

/** The same map, compared by entries regardless of key order. */
export function sameMap(a: Readonly<Record<string, string>>, b: Readonly<Record<string, string>>): boolean {
  const keys = Object.keys(a);
  return keys.length === Object.keys(b).length && keys.every((key) => b[key] === a[key]);
}

/** Runs calls at the same moment and waits for all of them. */
export function atOnce<T>(count: number, call: (index: number) => Promise<T>): Promise<T[]> {
  return Promise.all(Array.from({ length: count }, (_, index) => call(index)));
}
