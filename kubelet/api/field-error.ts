/**
 * One problem with one field of a manifest, named by its JSON path as the
 * API server's field errors name it (`spec.containers[1].name`).
 */
export class FieldError extends Error {
  readonly field: string;
  readonly detail: string;

  constructor(field: string, detail: string) {
    super(`${field}: ${detail}`);
    this.name = 'FieldError';
    this.field = field;
    this.detail = detail;
  }
}
