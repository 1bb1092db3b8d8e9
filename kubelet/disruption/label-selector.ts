/**
 * meta/v1 label selectors: matching a pod's labels, and the API server's
 * checks of a selector's fields. Source: kubernetes/apimachinery master
 * pkg/apis/meta/v1/helpers.go (LabelSelectorAsSelector),
 * pkg/labels/selector.go (Requirement.Matches) and
 * pkg/apis/meta/v1/validation/validation.go (ValidateLabelSelector).
 */
import type { FieldError } from '../api/field-error.js';
import type { LabelSelector } from '../api/disruption-types.js';
import { fieldErrors } from '../manifest/field-errors.js';

export const selectorOperators = ['In', 'NotIn', 'Exists', 'DoesNotExist'] as const;

/**
 * Whether `labels` satisfy `selector`: every matchLabels pair is present and
 * every expression holds. An empty selector matches every set of labels;
 * null or undefined matches none (LabelSelectorAsSelector gives
 * labels.Nothing() for nil and labels.Everything() for an empty one).
 */
export function selectorMatches(selector: LabelSelector | null | undefined, labels: Readonly<Record<string, string>> = {}): boolean {
  if (selector === null || selector === undefined) return false;
  for (const [key, value] of Object.entries(selector.matchLabels ?? {})) {
    if (labels[key] !== value) return false;
  }
  for (const requirement of selector.matchExpressions ?? []) {
    const present = Object.hasOwn(labels, requirement.key);
    const values = requirement.values ?? [];
    const holds =
      requirement.operator === 'In'
        ? present && values.includes(labels[requirement.key]!)
        : requirement.operator === 'NotIn'
          ? !present || !values.includes(labels[requirement.key]!)
          : requirement.operator === 'Exists'
            ? present
            : !present;
    if (!holds) return false;
  }
  return true;
}

const namePartPattern = /^[A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?$/;
const prefixPattern = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;

/** Why a label key is not a qualified name (`[prefix/]name`), or undefined. */
export function labelKeyProblem(key: string): string | undefined {
  const slash = key.indexOf('/');
  const prefix = slash < 0 ? undefined : key.slice(0, slash);
  const name = slash < 0 ? key : key.slice(slash + 1);
  if (prefix !== undefined && (prefix.length === 0 || prefix.length > 253 || !prefixPattern.test(prefix))) return 'prefix part must be a lowercase RFC 1123 subdomain';
  if (name.length === 0) return 'name part must be non-empty';
  if (name.length > 63) return 'name part must be no more than 63 characters';
  if (!namePartPattern.test(name)) return "name part must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character";
  return undefined;
}

/** Why a label value is not valid, or undefined. */
export function labelValueProblem(value: string): string | undefined {
  if (value.length > 63) return 'must be no more than 63 characters';
  if (value !== '' && !namePartPattern.test(value)) return "a valid label must be an empty string or consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character";
  return undefined;
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** Field errors of a selector as read from a file (any JSON), named under `field`. */
export function validateLabelSelector(selector: unknown, field: string): FieldError[] {
  if (selector === null || selector === undefined) return [];
  if (!isObject(selector)) return [fieldErrors.invalid(field, selector, 'must be an object with matchLabels and/or matchExpressions')];
  const errors: FieldError[] = [];
  const { matchLabels, matchExpressions } = selector;
  if (matchLabels !== undefined && matchLabels !== null) {
    if (!isObject(matchLabels)) errors.push(fieldErrors.invalid(`${field}.matchLabels`, matchLabels, 'must be a map of label keys to values'));
    else {
      for (const [key, value] of Object.entries(matchLabels)) {
        const keyProblem = labelKeyProblem(key);
        if (keyProblem !== undefined) errors.push(fieldErrors.invalid(`${field}.matchLabels`, key, keyProblem));
        if (typeof value !== 'string') errors.push(fieldErrors.invalid(`${field}.matchLabels`, value, 'a label value must be a string'));
        else {
          const valueProblem = labelValueProblem(value);
          if (valueProblem !== undefined) errors.push(fieldErrors.invalid(`${field}.matchLabels`, value, valueProblem));
        }
      }
    }
  }
  if (matchExpressions !== undefined && matchExpressions !== null) {
    if (!Array.isArray(matchExpressions)) return [...errors, fieldErrors.invalid(`${field}.matchExpressions`, matchExpressions, 'must be a list')];
    matchExpressions.forEach((requirement: unknown, index) => {
      const at = `${field}.matchExpressions[${index}]`;
      if (!isObject(requirement)) {
        errors.push(fieldErrors.invalid(at, requirement, 'must be an object with key, operator and values'));
        return;
      }
      if (typeof requirement.key !== 'string') errors.push(fieldErrors.required(`${at}.key`));
      else {
        const keyProblem = labelKeyProblem(requirement.key);
        if (keyProblem !== undefined) errors.push(fieldErrors.invalid(`${at}.key`, requirement.key, keyProblem));
      }
      const values = requirement.values;
      if (values !== undefined && values !== null && (!Array.isArray(values) || values.some((value) => typeof value !== 'string'))) {
        errors.push(fieldErrors.invalid(`${at}.values`, values, 'must be a list of strings'));
        return;
      }
      const count = Array.isArray(values) ? values.length : 0;
      if (requirement.operator === 'In' || requirement.operator === 'NotIn') {
        if (count === 0) errors.push(fieldErrors.required(`${at}.values`, "must be specified when `operator` is 'In' or 'NotIn'"));
      } else if (requirement.operator === 'Exists' || requirement.operator === 'DoesNotExist') {
        if (count > 0) errors.push(fieldErrors.forbidden(`${at}.values`, "may not be specified when `operator` is 'Exists' or 'DoesNotExist'"));
      } else if (requirement.operator === undefined) {
        errors.push(fieldErrors.required(`${at}.operator`));
      } else {
        errors.push(fieldErrors.unsupported(`${at}.operator`, requirement.operator, selectorOperators));
      }
    });
  }
  return errors;
}
