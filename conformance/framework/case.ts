import type { CaseContext } from './case-context.js';
import type { Subject } from './subject.js';

/** What a case requires before it can run. */
export interface CaseNeeds {
  /** Every one of these must be advertised, or the case is not-applicable. */
  readonly capabilities?: readonly string[];
  /** At least one of these spec versions must be supported, or the case is not-applicable. */
  readonly specVersions?: readonly string[];
  /** Needs uid 0, or the case is skipped. */
  readonly root?: boolean;
  /** Needs to create network namespaces, or the case is skipped. */
  readonly netns?: boolean;
}

/** A conformance case as its author declares it. */
export interface CaseDeclaration<S extends Subject> {
  /** Requirement IDs the case decides; each must exist in the registry. */
  readonly ids: readonly string[];
  /** A sentence saying what the subject does when it conforms. */
  readonly title: string;
  readonly needs?: CaseNeeds;
  /** The least deadline the case needs; the run's --case-timeout applies when longer. */
  readonly timeoutMs?: number;
  run(ctx: CaseContext<S>): Promise<void>;
}

/** A declared case, with the suite-wide position it was declared at. */
export interface ConformanceCase<S extends Subject> extends CaseDeclaration<S> {
  readonly index: number;
}

/**
 * The cases of one interface. Declaring a case registers it here; the runner
 * filters and runs what was registered. One Suite per run, no global state.
 */
export class Suite<S extends Subject> {
  readonly name: string;
  readonly #cases: ConformanceCase<S>[] = [];

  constructor(name: string) {
    this.name = name;
  }

  declare(declaration: CaseDeclaration<S>): void {
    if (declaration.ids.length === 0) throw new Error(`case "${declaration.title}" cites no requirement`);
    if (this.#cases.some((existing) => existing.title === declaration.title)) {
      throw new Error(`case "${declaration.title}" is declared twice in suite ${this.name}`);
    }
    this.#cases.push({ ...declaration, index: this.#cases.length });
  }

  get cases(): readonly ConformanceCase<S>[] {
    return this.#cases;
  }
}
