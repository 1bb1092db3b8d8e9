import { randomBytes } from 'node:crypto';
import type { CaseContext } from '../framework/index.js';
import type { CsiSubject } from './csi-subject.js';
import { describeOutcome } from './expect-status.js';
import type { CallOutcome } from './record-call.js';
import type { SecretKey } from './run-config.js';

type Ctx = CaseContext<CsiSubject>;

/** The general secrets rule (CSI-GEN) every check here decides. */
const id = 'CSI-GEN-014';
/** Secret values shorter than this are too common to be told apart from ordinary text in a message. */
const shortestTellableSecret = 6;

/**
 * The secrets to send for one RPC: the run's own when it has some (the
 * plugin may need them), otherwise a random canary the plugin cannot know.
 */
export function secretsWithCanary(ctx: Ctx, key: SecretKey): Record<string, string> {
  const configured = ctx.subject.config.secrets[key];
  if (configured !== undefined && Object.keys(configured).length > 0) return { ...configured };
  return { 'kubeplug-canary': `canary-${randomBytes(12).toString('hex')}` };
}

/** Checks that no secret value appears in a call's response or status message. */
export function checkNoSecretReflected(ctx: Ctx, what: string, outcome: CallOutcome<unknown>, secrets: Record<string, string>, ids: readonly string[] = [id]): void {
  const text = outcome.ok ? JSON.stringify(outcome.response, (_, value: unknown) => (typeof value === 'bigint' ? value.toString() : value)) : outcome.error.message;
  const leaked = Object.entries(secrets).filter(([, value]) => value.length >= shortestTellableSecret && text.includes(value));
  ctx.check(leaked.length === 0, {
    ids,
    what: `${what}: no secret value in the ${outcome.ok ? 'response' : 'status message'}`,
    expected: 'no secret values',
    got: leaked.length === 0 ? describeOutcome(outcome) : `leaked the value of ${leaked.map(([key]) => key).join(', ')}`,
  });
}
