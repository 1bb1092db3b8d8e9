/**
 * Undo steps of a multi-step operation. Each step that changes the system
 * pushes its undo right after it succeeds; on failure the undos run in
 * reverse order, each one's failure logged and the rest still run.
 */
export class RollbackStack {
  readonly #undos: { what: string; undo: () => Promise<void> }[] = [];

  constructor(private readonly log: (line: string) => void) {}

  /** Registers the undo of a step that just succeeded. */
  push(what: string, undo: () => Promise<void>): void {
    this.#undos.push({ what, undo });
  }

  /** Runs every undo, newest first. */
  async rollback(): Promise<void> {
    while (this.#undos.length > 0) {
      const step = this.#undos.pop()!;
      try {
        await step.undo();
      } catch (error) {
        this.log(`process-runtime: rollback of ${step.what} failed: ${error instanceof Error ? error.message : String(error)}`);
      }
    }
  }

  /** Runs `action`; if it throws, rolls back and rethrows. */
  async run<T>(action: (stack: RollbackStack) => Promise<T>): Promise<T> {
    try {
      return await action(this);
    } catch (error) {
      await this.rollback();
      throw error;
    }
  }
}
