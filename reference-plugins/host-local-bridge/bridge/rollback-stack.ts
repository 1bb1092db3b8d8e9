/** An undo step that failed during a rollback. */
export interface RollbackFailure {
  readonly description: string;
  readonly error: unknown;
}

/**
 * The undo steps of an ADD in progress. Each step is pushed before the
 * action it undoes runs (the action may half-succeed), so every undo must be
 * idempotent and must tolerate the action never having happened. On failure
 * `unwind` runs them newest first and carries on past failing undos; on
 * success the stack is simply dropped.
 */
export class RollbackStack {
  readonly #steps: { description: string; undo: () => Promise<void> }[] = [];

  /** Registers the undo of an action about to run. */
  push(description: string, undo: () => Promise<void>): void {
    this.#steps.push({ description, undo });
  }

  /** Runs every undo, newest first, and returns the ones that failed. */
  async unwind(): Promise<RollbackFailure[]> {
    const failures: RollbackFailure[] = [];
    while (this.#steps.length > 0) {
      const step = this.#steps.pop()!;
      try {
        await step.undo();
      } catch (error) {
        failures.push({ description: step.description, error });
      }
    }
    return failures;
  }
}

/**
 * Awaits steps that run concurrently and, if any failed, throws the first
 * failure (in argument order) only once every step has finished, so a
 * rollback never races a step that is still making something.
 */
export async function allSettledOrThrow<T extends readonly unknown[]>(steps: T): Promise<{ -readonly [K in keyof T]: Awaited<T[K]> }> {
  const outcomes = await Promise.allSettled(steps);
  const failed = outcomes.find((outcome): outcome is PromiseRejectedResult => outcome.status === 'rejected');
  if (failed !== undefined) throw failed.reason;
  return outcomes.map((outcome) => (outcome as PromiseFulfilledResult<unknown>).value) as { -readonly [K in keyof T]: Awaited<T[K]> };
}
