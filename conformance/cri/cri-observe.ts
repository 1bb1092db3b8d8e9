import { randomBytes } from 'node:crypto';
import {
  ContainerState,
  PodSandboxState,
  type Container,
  type ContainerFilter,
  type PodSandbox,
  type PodSandboxFilter,
  type PodSandboxStatus,
} from '../../specs/cri/index.js';
import type { CaseContext } from '../framework/index.js';
import { callRuntime } from './cri-calls.js';
import type { CriSubject } from './cri-subject.js';
import { requireOk } from './expect-status.js';

type Ctx = CaseContext<CriSubject>;

/** An ID no runtime issued: 64 hex digits, shaped like the IDs containerd and kubeplug hand out. */
export function unknownId(): string {
  return randomBytes(32).toString('hex');
}

/** Now, in nanoseconds since the epoch, as CRI timestamps count. */
export function nowNs(): bigint {
  return BigInt(Date.now()) * 1_000_000n;
}

/** One second in nanoseconds: the slack allowed for clock rounding between the suite and the runtime. */
export const secondNs = 1_000_000_000n;

/** Whether a timestamp lies in [from - 1 s, to + 1 s]. */
export function withinWindow(timestamp: bigint, window: { from: bigint; to: bigint }): boolean {
  return timestamp > 0n && timestamp >= window.from - secondNs && timestamp <= window.to + secondNs;
}

/** A timestamp for evidence: the raw nanoseconds and the ISO time they mean. */
export function showTimestamp(timestamp: bigint): string {
  const ms = Number(timestamp / 1_000_000n);
  return `${timestamp} (${Number.isFinite(ms) && ms > 0 ? new Date(ms).toISOString() : 'not a time'})`;
}

/** Whether two string maps hold exactly the same pairs. */
export function sameMap(a: Readonly<Record<string, string>>, b: Readonly<Record<string, string>>): boolean {
  const keys = Object.keys(a);
  return keys.length === Object.keys(b).length && keys.every((key) => Object.hasOwn(b, key) && a[key] === b[key]);
}

/** PodSandboxStatus of a sandbox; stops the case when the call fails or carries no status. */
export async function sandboxStatus(ctx: Ctx, podSandboxId: string, check: { ids?: readonly string[] } = {}): Promise<PodSandboxStatus> {
  const answer = await callRuntime(ctx, 'podSandboxStatus', { podSandboxId, verbose: false });
  requireOk(ctx, answer, { ...check, what: 'PodSandboxStatus succeeds' });
  ctx.require(answer.response.status !== undefined, { ids: check.ids ?? [], what: 'PodSandboxStatus carries a status', expected: 'status', got: answer.response });
  return answer.response.status;
}

/** ListPodSandbox with a filter (fields not given are empty); stops the case when the call fails. */
export async function listSandboxes(
  ctx: Ctx,
  filter: Partial<PodSandboxFilter> | undefined,
  check: { ids?: readonly string[] } = {},
): Promise<PodSandbox[]> {
  const answer = await callRuntime(ctx, 'listPodSandbox', filter === undefined ? {} : { filter: { id: '', labelSelector: {}, ...filter } });
  requireOk(ctx, answer, { ...check, what: 'ListPodSandbox succeeds' });
  return answer.response.items;
}

/** ListContainers with a filter (fields not given are empty); stops the case when the call fails. */
export async function listContainers(
  ctx: Ctx,
  filter: Partial<ContainerFilter> | undefined,
  check: { ids?: readonly string[] } = {},
): Promise<Container[]> {
  const answer = await callRuntime(ctx, 'listContainers', filter === undefined ? {} : { filter: { id: '', podSandboxId: '', labelSelector: {}, ...filter } });
  requireOk(ctx, answer, { ...check, what: 'ListContainers succeeds' });
  return answer.response.containers;
}

/** A sandbox state by name, for evidence. */
export function sandboxStateName(state: PodSandboxState | undefined): string {
  return state === undefined ? 'absent' : (PodSandboxState[state] ?? String(state));
}

/** A container state by name, for evidence. */
export function containerStateName(state: ContainerState | undefined): string {
  return state === undefined ? 'absent' : (ContainerState[state] ?? String(state));
}

/** Which of `wanted` IDs a listing holds, and which others: for filter checks. */
export function listedIds(items: readonly { id: string }[], among: readonly string[]): { listed: string[]; strangers: number } {
  const ids = items.map((item) => item.id);
  return { listed: among.filter((id) => ids.includes(id)), strangers: ids.filter((id) => !among.includes(id)).length };
}
