import type { Requirement } from '../../specs/registry/index.js';

/**
 * How a requirement is covered, independent of any run:
 * - case: at least one case cites it;
 * - not-checked: no case, and the spec says why none can exist;
 * - uncovered: no case and no reason (a gap; for a MUST the kit's tests fail).
 */
export type CoverageKind = 'case' | 'not-checked' | 'uncovered';

/** A requirement with the cases that cite it. */
export interface RequirementCoverage {
  readonly requirement: Requirement;
  readonly kind: CoverageKind;
  readonly cases: readonly string[];
}

/** Maps each requirement to the declared cases citing it. */
export function coverageOf(
  requirements: readonly Requirement[],
  cases: readonly { readonly ids: readonly string[]; readonly title: string }[],
): RequirementCoverage[] {
  const byId = new Map<string, string[]>();
  for (const testCase of cases) {
    for (const id of testCase.ids) byId.set(id, [...(byId.get(id) ?? []), testCase.title]);
  }
  return requirements.map((requirement) => {
    const citing = byId.get(requirement.id) ?? [];
    const kind: CoverageKind =
      citing.length > 0 ? 'case' : requirement.notChecked !== undefined ? 'not-checked' : 'uncovered';
    return { requirement, kind, cases: citing };
  });
}
