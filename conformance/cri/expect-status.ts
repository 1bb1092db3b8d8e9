/**
 * Status checks for CRI calls. The same shape as the CSI suite's
 * expect-status.ts, typed to the CRI subject; a subject-generic version
 * belongs in conformance/framework (proposed to the lead, not done here).
 */
import type { GrpcStatusName } from '../../specs/cri/index.js';
import type { CaseContext } from '../framework/index.js';
import type { CallOutcome } from './cri-calls.js';
import type { CriSubject } from './cri-subject.js';

type Ctx = CaseContext<CriSubject>;
type Wanted = 'OK' | GrpcStatusName | readonly ('OK' | GrpcStatusName)[];

/** A call's status as evidence shows it: `OK` or the status name. */
export function statusOf(outcome: CallOutcome<unknown>): string {
  return outcome.ok ? 'OK' : outcome.error.code;
}

/** The status and message, for a check's `got`. */
export function describeOutcome(outcome: CallOutcome<unknown>): string {
  return outcome.ok ? 'OK' : `${outcome.error.code}: ${outcome.error.message}`;
}

/** Checks that a call ended with one of the wanted statuses and records the check. */
export function expectStatus(ctx: Ctx, outcome: CallOutcome<unknown>, wanted: Wanted, check: { ids?: readonly string[]; what: string }): boolean {
  const accepted: readonly string[] = typeof wanted === 'string' ? [wanted] : wanted;
  return ctx.check(accepted.includes(statusOf(outcome)), {
    ...(check.ids === undefined ? {} : { ids: check.ids }),
    what: check.what,
    expected: accepted.join(' | '),
    got: describeOutcome(outcome),
  });
}

/**
 * Like {@link expectStatus} for success, but stops the case when the call
 * failed (a step later checks build on) and narrows the outcome. Without
 * `ids` the check is a prerequisite: its success proves no rule, and its
 * failure counts against every rule the case cites.
 */
export function requireOk<Res>(
  ctx: Ctx,
  outcome: CallOutcome<Res>,
  check: { ids?: readonly string[]; what: string },
): asserts outcome is { readonly ok: true; readonly response: Res } {
  ctx.require(outcome.ok, {
    ids: check.ids ?? [],
    what: check.what,
    expected: 'OK',
    got: describeOutcome(outcome),
  });
}

/**
 * Checks that a request missing or botching `field` is refused: with
 * INVALID_ARGUMENT, or with another error whose message names the field (what
 * containerd and CRI-O do for most fields). An OK fails.
 */
export function expectRefusal(ctx: Ctx, outcome: CallOutcome<unknown>, check: { ids?: readonly string[]; what: string; field: string }): boolean {
  const names = (message: string): boolean => message.toLowerCase().includes(check.field.toLowerCase());
  const passed = !outcome.ok && (outcome.error.code === 'INVALID_ARGUMENT' || names(outcome.error.message));
  return ctx.check(passed, {
    ...(check.ids === undefined ? {} : { ids: check.ids }),
    what: check.what,
    expected: `INVALID_ARGUMENT, or an error naming "${check.field}"`,
    got: describeOutcome(outcome),
  });
}

/**
 * Ends the case as not applicable when the runtime answered UNIMPLEMENTED:
 * an optional RPC (streaming Exec, Attach, PortForward…) the runtime does not
 * offer leaves its rules not checked, never passed.
 */
export function notApplicableWhenUnimplemented(ctx: Ctx, outcome: CallOutcome<unknown>, rpc: string): void {
  if (!outcome.ok && outcome.error.code === 'UNIMPLEMENTED') {
    ctx.notApplicable(`the runtime answers UNIMPLEMENTED to ${rpc}: ${outcome.error.message}`);
  }
}
