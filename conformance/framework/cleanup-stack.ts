/** One undo step and a label to report it by. */
interface CleanupStep {
  readonly label: string;
  readonly run: () => unknown;
}

/** A cleanup step that threw or timed out. */
export interface CleanupFailure {
  readonly label: string;
  readonly message: string;
}

/**
 * Undo steps registered before the action they undo, run newest first. Every
 * step runs even when an earlier one fails, so one stuck resource does not
 * leak the others.
 */
export class CleanupStack {
  readonly #steps: CleanupStep[] = [];
  #unwound = false;
  readonly #late: Promise<unknown>[] = [];

  /**
   * Registers an undo step. A step registered after the stack has unwound
   * (work that outlived its case's deadline) runs at once instead of leaking.
   */
  push(run: () => unknown, label = 'cleanup'): void {
    if (this.#unwound) {
      this.#late.push(Promise.resolve().then(run).catch(() => {}));
      return;
    }
    this.#steps.push({ label, run });
  }

  get size(): number {
    return this.#steps.length;
  }

  /** Runs and empties the stack; each step gets `stepTimeoutMs`. */
  async unwind(stepTimeoutMs: number): Promise<CleanupFailure[]> {
    this.#unwound = true;
    const failures: CleanupFailure[] = [];
    for (let step = this.#steps.pop(); step !== undefined; step = this.#steps.pop()) {
      try {
        await withTimeout(Promise.resolve().then(step.run), stepTimeoutMs, `did not finish within ${stepTimeoutMs} ms`);
      } catch (error) {
        failures.push({ label: step.label, message: error instanceof Error ? error.message : String(error) });
      }
    }
    return failures;
  }
}

/** Rejects with `message` if `promise` has not settled after `ms`. */
export function withTimeout<T>(promise: Promise<T>, ms: number, message: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(message)), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}
