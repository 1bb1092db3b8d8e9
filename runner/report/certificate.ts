import type {
  CaseResult,
  Environment,
  JsonValue,
  RequirementResult,
  Verdict,
} from '../../conformance/framework/index.js';
import type { InterfaceName, RequirementLevel } from '../../specs/registry/index.js';

/** One interface certified against one subject. */
export interface InterfaceRun {
  readonly iface: InterfaceName;
  /** The upstream spec version the suite restates. */
  readonly specVersion: string;
  /** The subject as it reports itself. */
  readonly subject: { readonly [key: string]: JsonValue };
  readonly cases: readonly CaseResult[];
  readonly requirements: readonly RequirementResult[];
  /** Wall time of this interface's part (start, run, stop) when one certificate holds several (`certify all`). */
  readonly durationMs?: number;
}

/** How the run was configured, so a reader can judge what was certified. */
export interface RunProfile {
  readonly focus: readonly string[];
  readonly skip: readonly string[];
  /** True when --focus/--skip left cases out: the certificate covers only part of the spec. */
  readonly partial: boolean;
  readonly strict: boolean;
  readonly caseTimeoutMs: number;
  readonly knownDeviations: readonly { readonly id: string; readonly reason: string }[];
}

/**
 * The JSON certificate: everything a CI gate or an auditor needs to trust or
 * question a run, every result with its evidence.
 */
export interface Certificate {
  readonly kind: 'kubeplug-certificate';
  readonly schemaVersion: 1;
  readonly kit: { readonly name: 'kubeplug'; readonly version: string };
  readonly startedAt: string;
  readonly finishedAt: string;
  readonly durationMs: number;
  readonly environment: Environment;
  readonly profile: RunProfile;
  readonly verdict: Verdict & { readonly certified: boolean };
  readonly summary: CertificateSummary;
  readonly runs: readonly InterfaceRun[];
}

/** Counts, by case outcome and by requirement level and status. */
export interface CertificateSummary {
  readonly cases: Readonly<Record<string, number>>;
  readonly requirements: Readonly<Record<RequirementLevel, Readonly<Record<string, number>>>>;
}

/** Counts outcomes and statuses over every run. */
export function summarize(runs: readonly InterfaceRun[]): CertificateSummary {
  const cases: Record<string, number> = {};
  const requirements: Record<RequirementLevel, Record<string, number>> = { MUST: {}, SHOULD: {}, MAY: {} };
  for (const run of runs) {
    for (const result of run.cases) cases[result.outcome] = (cases[result.outcome] ?? 0) + 1;
    for (const requirement of run.requirements) {
      const byStatus = requirements[requirement.level];
      byStatus[requirement.status] = (byStatus[requirement.status] ?? 0) + 1;
    }
  }
  return { cases, requirements };
}
