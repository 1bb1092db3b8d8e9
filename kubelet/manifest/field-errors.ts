/**
 * FieldError builders worded as the API server words its field errors
 * ("Required value", "Invalid value: 0: …", "Duplicate value: \"x\"").
 * Source: kubernetes/apimachinery pkg/util/validation/field/errors.go.
 */
import { FieldError } from '../api/field-error.js';

function shown(value: unknown): string {
  return typeof value === 'string' ? JSON.stringify(value) : String(JSON.stringify(value) ?? value);
}

export const fieldErrors = {
  required: (field: string, detail = ''): FieldError =>
    new FieldError(field, detail === '' ? 'Required value' : `Required value: ${detail}`),
  invalid: (field: string, value: unknown, detail: string): FieldError =>
    new FieldError(field, `Invalid value: ${shown(value)}: ${detail}`),
  duplicate: (field: string, value: unknown): FieldError => new FieldError(field, `Duplicate value: ${shown(value)}`),
  notFound: (field: string, value: unknown): FieldError => new FieldError(field, `Not found: ${shown(value)}`),
  forbidden: (field: string, detail: string): FieldError => new FieldError(field, `Forbidden: ${detail}`),
  unsupported: (field: string, value: unknown, supported: readonly string[]): FieldError =>
    new FieldError(
      field,
      `Unsupported value: ${shown(value)}: supported values: ${supported.map((item) => JSON.stringify(item)).join(', ')}`,
    ),
} as const;
