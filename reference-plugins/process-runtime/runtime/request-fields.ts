import { GrpcStatusError } from '../../../specs/cri/index.js';

/** INVALID_ARGUMENT naming the field. */
export function invalidField(field: string, problem: string): GrpcStatusError {
  return new GrpcStatusError({ code: 'INVALID_ARGUMENT', message: `${field}: ${problem}` });
}

/** The value of a required string field. @throws GrpcStatusError INVALID_ARGUMENT when empty */
export function requireField(value: string | undefined, field: string): string {
  if (value === undefined || value === '') throw invalidField(field, 'is required');
  return value;
}

/** A required message field. @throws GrpcStatusError INVALID_ARGUMENT when absent */
export function requireMessage<T>(value: T | undefined, field: string): T {
  if (value === undefined) throw invalidField(field, 'is required');
  return value;
}

/** A timeout in seconds that must not be negative. */
export function nonNegativeSeconds(value: bigint, field: string): bigint {
  if (value < 0n) throw invalidField(field, `must be ≥ 0 seconds, not ${value}`);
  return value;
}
