/** A --focus or --skip pattern that is not a valid regular expression. */
export class FilterPatternError extends Error {
  constructor(readonly flag: string, readonly pattern: string, reason: string) {
    super(`--${flag} ${JSON.stringify(pattern)} is not a valid regular expression: ${reason}`);
    this.name = 'FilterPatternError';
  }
}

/** Which cases a run takes, by regular expressions over requirement IDs and titles. */
export interface CaseFilter {
  readonly focus: readonly RegExp[];
  readonly skip: readonly RegExp[];
}

/** Compiles --focus and --skip patterns, naming the flag of a bad one. */
export function compileFilter(options: { focus?: readonly string[]; skip?: readonly string[] }): CaseFilter {
  const compile = (flag: string, patterns: readonly string[] = []): RegExp[] =>
    patterns.map((pattern) => {
      try {
        return new RegExp(pattern);
      } catch (error) {
        throw new FilterPatternError(flag, pattern, error instanceof Error ? error.message : String(error));
      }
    });
  return { focus: compile('focus', options.focus), skip: compile('skip', options.skip) };
}

/**
 * True when the case is in the run: some focus pattern (if any) matches one
 * of its IDs or its title, and no skip pattern does.
 */
export function isSelected(filter: CaseFilter, target: { ids: readonly string[]; title: string }): boolean {
  const texts = [...target.ids, target.title];
  const matches = (pattern: RegExp): boolean => texts.some((text) => pattern.test(text));
  if (filter.focus.length > 0 && !filter.focus.some(matches)) return false;
  return !filter.skip.some(matches);
}

/** True when the filter leaves every case in. */
export function isUnfiltered(filter: CaseFilter): boolean {
  return filter.focus.length === 0 && filter.skip.length === 0;
}
