import path from 'node:path';
import { GrpcStatusError } from '../../specs/csi/index.js';

/** An INVALID_ARGUMENT status naming the field at fault. */
export function invalidArgument(message: string): GrpcStatusError {
  return new GrpcStatusError({ code: 'INVALID_ARGUMENT', message });
}

/** Throws INVALID_ARGUMENT when a REQUIRED string field is empty (proto3 sends a missing string as ''). */
export function requireField(value: string, field: string): string {
  if (value === '') throw invalidArgument(`${field} is required`);
  return value;
}

/** Throws INVALID_ARGUMENT when a REQUIRED message field is absent. */
export function requirePresent<T>(value: T | undefined, field: string): T {
  if (value === undefined) throw invalidArgument(`${field} is required`);
  return value;
}

// CSI spec.md, CreateVolumeRequest.name: these control characters are banned in names.
const bannedNameCharacters = /[\u0000-\u0008\u000B\u000C\u000E-\u001F\u007F-\u009F]/u;
/** CSI's general size limit for a string field, in bytes. */
export const maxStringBytes = 128;

/** Checks a CO-chosen name (volume or snapshot): required, at most 128 bytes, no banned control characters. */
export function requireName(name: string, field: string): string {
  requireField(name, field);
  if (Buffer.byteLength(name, 'utf8') > maxStringBytes) throw invalidArgument(`${field} is longer than ${maxStringBytes} bytes`);
  if (bannedNameCharacters.test(name)) throw invalidArgument(`${field} holds a control character CSI bans in names`);
  return name;
}

/**
 * Checks a path from a request (staging or target path) and returns it
 * normalised: absolute, no NUL, no `..` component, and not inside the
 * driver's own root, so no request can make the driver mount over or remove
 * its state.
 */
export function requireNodePath(value: string, field: string, root: string): string {
  requireField(value, field);
  if (!value.startsWith('/')) throw invalidArgument(`${field} must be an absolute path`);
  if (value.includes('\0')) throw invalidArgument(`${field} holds a NUL byte`);
  if (value.split('/').includes('..')) throw invalidArgument(`${field} must not contain ".."`);
  const normalised = path.resolve(value);
  if (normalised === '/') throw invalidArgument(`${field} must not be /`);
  if (isWithin(root, normalised) || isWithin(normalised, root)) {
    throw invalidArgument(`${field} must not be or contain the driver's root directory, nor lie inside it`);
  }
  return normalised;
}

function isWithin(parent: string, child: string): boolean {
  const relative = path.relative(parent, child);
  return relative === '' || !(relative === '..' || relative.startsWith('../') || path.isAbsolute(relative));
}

/** Throws INVALID_ARGUMENT for a negative count (max_entries). */
export function requireNonNegative(value: number | bigint, field: string): void {
  if (value < 0) throw invalidArgument(`${field} must not be negative`);
}
