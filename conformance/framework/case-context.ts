import { CleanupStack } from './cleanup-stack.js';
import { toJsonValue, type CallEvidence, type Evidence } from './evidence.js';
import type { Subject } from './subject.js';

/** Thrown by {@link CaseContext.skip}: the environment lacks something. */
export class CaseSkipped extends Error {
  constructor(readonly reason: string) {
    super(reason);
    this.name = 'CaseSkipped';
  }
}

/** Thrown by {@link CaseContext.notApplicable}: the subject does not offer what the case needs. */
export class CaseNotApplicable extends Error {
  constructor(readonly reason: string) {
    super(reason);
    this.name = 'CaseNotApplicable';
  }
}

/** Thrown by {@link CaseContext.require} after recording the failed check: the case cannot go on. */
export class CaseStopped extends Error {
  constructor(readonly what: string) {
    super(what);
    this.name = 'CaseStopped';
  }
}

/** A check as a case states it. */
export interface CheckInput {
  readonly what: string;
  readonly expected: unknown;
  readonly got: unknown;
  /** The requirement IDs this check decides; defaults to all of the case's IDs. */
  readonly ids?: readonly string[];
}

/** A call as a case reports it, before conversion to JSON. */
export interface CallInput {
  readonly target: string;
  readonly method: string;
  readonly request: unknown;
  readonly response?: unknown;
  readonly status?: { readonly code: string; readonly message: string };
  readonly durationMs: number;
}

/** Everything a running case may use. */
export class CaseContext<S extends Subject> {
  readonly subject: S;
  /** Aborted when the case's deadline passes; pass it to every call. */
  readonly signal: AbortSignal;
  readonly deadline: Date;
  readonly evidence: Evidence[] = [];
  readonly cleanup = new CleanupStack();
  readonly #caseIds: readonly string[];
  readonly #namePrefix: string;
  #nameCounter = 0;

  constructor(options: { subject: S; signal: AbortSignal; deadline: Date; caseIds: readonly string[]; runId: string }) {
    this.subject = options.subject;
    this.signal = options.signal;
    this.deadline = options.deadline;
    this.#caseIds = options.caseIds;
    this.#namePrefix = options.runId;
  }

  /** Registers an undo step; steps run newest first, after the case, whatever its outcome. */
  defer(undo: () => unknown, label?: string): void {
    this.cleanup.push(undo, label);
  }

  /** A name no other case of this run (or other run) uses: `<prefix>-<run>-<n>`. */
  uniqueName(prefix: string): string {
    this.#nameCounter += 1;
    return `${prefix}-${this.#namePrefix}-${this.#nameCounter}`;
  }

  /** Records a check and returns whether it held; the case goes on either way. */
  check(passed: boolean, input: CheckInput): boolean {
    this.evidence.push({
      kind: 'check',
      ids: input.ids ?? this.#caseIds,
      what: input.what,
      passed,
      expected: toJsonValue(input.expected),
      got: toJsonValue(input.got),
    });
    return passed;
  }

  /** Records a check; if it failed, stops the case (as a failure). */
  require(passed: boolean, input: CheckInput): asserts passed {
    if (!this.check(passed, input)) throw new CaseStopped(input.what);
  }

  /** Records a call to the subject. */
  recordCall(input: CallInput): void {
    const call: CallEvidence = {
      kind: 'call',
      target: input.target,
      method: input.method,
      request: toJsonValue(input.request),
      ...(input.response === undefined ? {} : { response: toJsonValue(input.response) }),
      ...(input.status === undefined ? {} : { status: input.status }),
      durationMs: input.durationMs,
    };
    this.evidence.push(call);
  }

  note(text: string): void {
    this.evidence.push({ kind: 'note', text });
  }

  /** Ends the case as skipped: the environment lacks something. */
  skip(reason: string): never {
    throw new CaseSkipped(reason);
  }

  /** Ends the case as not-applicable: the subject does not offer what it needs. */
  notApplicable(reason: string): never {
    throw new CaseNotApplicable(reason);
  }
}
