/**
 * A PodDisruptionBudget read from a manifest file: the document checks
 * (apiVersion policy/v1, a name, objects where objects belong), then the
 * defaults the API server would give it (namespace "default", generation 1,
 * no status), then validation. Pure; errors name the field.
 */
import type { FieldError } from '../api/field-error.js';
import type { PodDisruptionBudget } from '../api/disruption-types.js';
import { fieldErrors } from '../manifest/field-errors.js';
import { validateDisruptionBudget } from './validate-budget.js';

export const budgetApiVersion = 'policy/v1';
export const budgetKind = 'PodDisruptionBudget';

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** The budget a parsed document holds (undefined when it is not a policy/v1 budget with a name), and its field errors. */
export function budgetFromDocument(document: Record<string, unknown>): { budget?: PodDisruptionBudget; errors: FieldError[] } {
  const errors: FieldError[] = [];
  if (document.apiVersion === undefined) errors.push(fieldErrors.required('apiVersion'));
  else if (document.apiVersion !== budgetApiVersion) errors.push(fieldErrors.unsupported('apiVersion', document.apiVersion, [budgetApiVersion]));
  const metadata = document.metadata;
  if (!isObject(metadata)) return { errors: [...errors, fieldErrors.required('metadata')] };
  if (typeof metadata.name !== 'string' || metadata.name === '') return { errors: [...errors, fieldErrors.required('metadata.name')] };
  if (metadata.namespace !== undefined && typeof metadata.namespace !== 'string') errors.push(fieldErrors.invalid('metadata.namespace', metadata.namespace, 'must be a string'));
  const spec = document.spec ?? {};
  if (!isObject(spec)) return { errors: [...errors, fieldErrors.invalid('spec', spec, 'must be an object')] };
  // Without the right apiVersion the document is not a budget at all: errors only.
  if (errors.length > 0) return { errors };
  const { status: _ignoredStatus, ...withoutStatus } = document;
  void _ignoredStatus;
  const budget: PodDisruptionBudget = {
    ...(withoutStatus as unknown as PodDisruptionBudget),
    apiVersion: budgetApiVersion,
    kind: budgetKind,
    metadata: {
      ...(metadata as PodDisruptionBudget['metadata']),
      name: metadata.name,
      namespace: typeof metadata.namespace === 'string' && metadata.namespace !== '' ? metadata.namespace : 'default',
      generation: 1,
    },
    spec: spec as PodDisruptionBudget['spec'],
  };
  return { budget, errors: validateDisruptionBudget(budget) };
}
