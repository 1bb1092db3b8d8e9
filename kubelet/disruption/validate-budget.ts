/**
 * The API server's checks of a PodDisruptionBudget, worded as its field
 * errors. Source: kubernetes/kubernetes master (rules unchanged since v1.27)
 * pkg/apis/policy/validation/validation.go (ValidatePodDisruptionBudget,
 * ValidatePodDisruptionBudgetSpec), pkg/apis/apps/validation/validation.go
 * (ValidatePositiveIntOrPercent, IsNotMoreThan100Percent) and
 * staging/src/k8s.io/api/policy/v1/types.go (the unhealthy pod eviction policies).
 */
import type { FieldError } from '../api/field-error.js';
import type { PodDisruptionBudget } from '../api/disruption-types.js';
import { fieldErrors } from '../manifest/field-errors.js';
import { dns1123LabelProblem, dns1123SubdomainProblem } from '../manifest/name-rules.js';
import { validateLabelSelector } from './label-selector.js';

export const unhealthyPodEvictionPolicies = ['IfHealthyBudget', 'AlwaysAllow'] as const;

const percentProblem = "a valid percent string must be a numeric string followed by an ending '%' (e.g. '1%',  or '93%', regex used for validation is '[0-9]+%')";

/** Errors of one minAvailable / maxUnavailable value. */
function intOrPercentErrors(value: unknown, field: string): FieldError[] {
  if (value === undefined || value === null) return [];
  if (typeof value === 'number') {
    if (!Number.isInteger(value)) return [fieldErrors.invalid(field, value, "must be an integer or percentage (e.g '5%')")];
    return value < 0 ? [fieldErrors.invalid(field, value, 'must be greater than or equal to 0')] : [];
  }
  if (typeof value === 'string') {
    const match = /^([0-9]+)%$/.exec(value);
    if (match === null) return [fieldErrors.invalid(field, value, percentProblem)];
    return Number(match[1]) > 100 ? [fieldErrors.invalid(field, value, 'must not be greater than 100%')] : [];
  }
  return [fieldErrors.invalid(field, value, "must be an integer or percentage (e.g '5%')")];
}

/**
 * Every field error of a budget (any JSON under its typed surface): name and
 * namespace, minAvailable and maxUnavailable (not both; whole numbers >= 0 or
 * "0%".."100%"), the selector, the unhealthy pod eviction policy.
 */
export function validateDisruptionBudget(budget: PodDisruptionBudget): FieldError[] {
  const errors: FieldError[] = [];
  const nameProblem = dns1123SubdomainProblem(budget.metadata.name);
  if (nameProblem !== undefined) errors.push(fieldErrors.invalid('metadata.name', budget.metadata.name, nameProblem));
  const namespaceProblem = dns1123LabelProblem(budget.metadata.namespace);
  if (namespaceProblem !== undefined) errors.push(fieldErrors.invalid('metadata.namespace', budget.metadata.namespace, namespaceProblem));
  const spec = budget.spec as Record<string, unknown>;
  const min = spec.minAvailable ?? undefined;
  const max = spec.maxUnavailable ?? undefined;
  if (min !== undefined && max !== undefined) errors.push(fieldErrors.invalid('spec', { minAvailable: min, maxUnavailable: max }, 'minAvailable and maxUnavailable cannot be both set'));
  errors.push(...intOrPercentErrors(min, 'spec.minAvailable'), ...intOrPercentErrors(max, 'spec.maxUnavailable'));
  errors.push(...validateLabelSelector(spec.selector, 'spec.selector'));
  const policy = spec.unhealthyPodEvictionPolicy;
  if (policy !== undefined && policy !== null && !(unhealthyPodEvictionPolicies as readonly unknown[]).includes(policy)) {
    errors.push(fieldErrors.unsupported('spec.unhealthyPodEvictionPolicy', policy, unhealthyPodEvictionPolicies));
  }
  return errors;
}
