import type { GrpcStatusName } from '../../specs/csi/index.js';
import type { CaseContext } from '../framework/index.js';
import type { CsiSubject } from './csi-subject.js';
import type { CallOutcome } from './record-call.js';

type Ctx = CaseContext<CsiSubject>;

/** A call's status as evidence shows it: `OK` or the status name. */
export function statusOf(outcome: CallOutcome<unknown>): string {
  return outcome.ok ? 'OK' : outcome.error.code;
}

/** The status and message, for a check's `got`. */
export function describeOutcome(outcome: CallOutcome<unknown>): string {
  return outcome.ok ? 'OK' : `${outcome.error.code}: ${outcome.error.message}`;
}

/**
 * Checks that a call ended with one of the wanted statuses (`'OK'` for
 * success) and records the check against the IDs given.
 */
export function expectStatus(
  ctx: Ctx,
  outcome: CallOutcome<unknown>,
  wanted: 'OK' | GrpcStatusName | readonly ('OK' | GrpcStatusName)[],
  check: { ids: readonly string[]; what: string },
): boolean {
  const { passed, input } = statusCheck(outcome, wanted, check);
  return ctx.check(passed, input);
}

/** Like {@link expectStatus}, but stops the case when the status is not the wanted one. */
export function requireStatus(
  ctx: Ctx,
  outcome: CallOutcome<unknown>,
  wanted: 'OK' | GrpcStatusName | readonly ('OK' | GrpcStatusName)[],
  check: { ids: readonly string[]; what: string },
): void {
  const { passed, input } = statusCheck(outcome, wanted, check);
  ctx.require(passed, input);
}

/** The check both of the above record: whether the status is one of the wanted ones, with its evidence. */
function statusCheck(
  outcome: CallOutcome<unknown>,
  wanted: 'OK' | GrpcStatusName | readonly ('OK' | GrpcStatusName)[],
  check: { ids: readonly string[]; what: string },
): { passed: boolean; input: { ids: readonly string[]; what: string; expected: string; got: string } } {
  const accepted: readonly string[] = typeof wanted === 'string' ? [wanted] : wanted;
  return {
    passed: accepted.includes(statusOf(outcome)),
    input: { ids: check.ids, what: check.what, expected: accepted.join(' | '), got: describeOutcome(outcome) },
  };
}

/** A volume ID that no plugin hands out: unique per case, shaped like an ordinary ID. */
export function unknownVolumeId(ctx: Ctx): string {
  return ctx.uniqueName('kubeplug-no-such-volume');
}
