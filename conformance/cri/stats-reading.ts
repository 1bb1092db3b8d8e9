/**
 * Reading stats for the stats cases: one ContainerStats call as a value,
 * label and annotation maps compared as sets of pairs, and the window a
 * "now" timestamp must fall in.
 */
import type { ContainerStats } from '../../specs/cri/index.js';
import type { CaseContext } from '../framework/index.js';
import { callRuntime } from './cri-calls.js';
import type { CriSubject } from './cri-subject.js';
import { requireOk } from './expect-status.js';

type Ctx = CaseContext<CriSubject>;

/** Slack for clock rounding between the suite's clock and the runtime's timestamps. */
export const clockSlackNs = 1_000_000_000n;

/** The suite's clock in nanoseconds since the epoch. */
export function nowNs(): bigint {
  return BigInt(Date.now()) * 1_000_000n;
}

/** Whether a stats timestamp is positive and was taken around the call made between `before` and `after`. */
export function takenDuring(timestamp: bigint | undefined, before: bigint, after: bigint): boolean {
  return timestamp !== undefined && timestamp > 0n && timestamp >= before - clockSlackNs && timestamp <= after + clockSlackNs;
}

/** A string map as sorted `key=value` pairs, for equality checks and evidence. */
export function pairsOf(map: Readonly<Record<string, string>> | undefined): string[] {
  return Object.entries(map ?? {})
    .map(([key, value]) => `${key}=${value}`)
    .sort();
}

/** Whether two string maps hold exactly the same pairs. */
export function samePairs(a: Readonly<Record<string, string>> | undefined, b: Readonly<Record<string, string>> | undefined): boolean {
  return JSON.stringify(pairsOf(a)) === JSON.stringify(pairsOf(b));
}

/** ContainerStats of one container with the time window of the call; stops the case unless it succeeds with stats. */
export async function readContainerStats(
  ctx: Ctx,
  containerId: string,
  ids?: readonly string[],
): Promise<{ stats: ContainerStats; before: bigint; after: bigint }> {
  const before = nowNs();
  const answer = await callRuntime(ctx, 'containerStats', { containerId });
  const after = nowNs();
  requireOk(ctx, answer, { ...(ids === undefined ? {} : { ids }), what: 'ContainerStats succeeds' });
  const { stats } = answer.response;
  ctx.require(stats !== undefined, { ...(ids === undefined ? {} : { ids }), what: 'ContainerStats carries stats', expected: 'stats', got: answer.response });
  return { stats, before, after };
}
