/** A JSON value: evidence is stored and reported as JSON. */
export type JsonValue = null | boolean | number | string | JsonValue[] | { [key: string]: JsonValue };

/** A call the case made to the subject and what came back. */
export interface CallEvidence {
  readonly kind: 'call';
  /** Which endpoint, binary or URL was called. */
  readonly target: string;
  readonly method: string;
  readonly request: JsonValue;
  readonly response?: JsonValue;
  /** The error status, when the call failed. */
  readonly status?: { readonly code: string; readonly message: string };
  readonly durationMs: number;
}

/** A comparison the case made: what the rule wants against what the subject gave. */
export interface CheckEvidence {
  readonly kind: 'check';
  /** The requirement IDs this check decides. */
  readonly ids: readonly string[];
  readonly what: string;
  readonly passed: boolean;
  readonly expected: JsonValue;
  readonly got: JsonValue;
}

/** Free text the case wants in the report. */
export interface NoteEvidence {
  readonly kind: 'note';
  readonly text: string;
}

export type Evidence = CallEvidence | CheckEvidence | NoteEvidence;

/**
 * Turns any value into JSON evidence: bigints become decimal strings, bytes
 * base64, undefined fields vanish, cycles and functions are named, not followed.
 */
export function toJsonValue(value: unknown, seen = new WeakSet<object>()): JsonValue {
  switch (typeof value) {
    case 'string':
    case 'boolean':
      return value;
    case 'number':
      return Number.isFinite(value) ? value : String(value);
    case 'bigint':
      return value.toString();
    case 'undefined':
      return null;
    case 'function':
    case 'symbol':
      return `[${typeof value}]`;
  }
  if (value === null) return null;
  if (value instanceof Uint8Array) return Buffer.from(value).toString('base64');
  if (value instanceof Date) return value.toISOString();
  if (value instanceof Error) return { name: value.name, message: value.message };
  if (seen.has(value as object)) return '[circular]';
  seen.add(value as object);
  try {
    if (Array.isArray(value)) return value.map((item) => toJsonValue(item, seen));
    if (value instanceof Map) return Object.fromEntries([...value].map(([k, v]) => [String(k), toJsonValue(v, seen)]));
    if (value instanceof Set) return [...value].map((item) => toJsonValue(item, seen));
    const out: { [key: string]: JsonValue } = {};
    for (const [key, item] of Object.entries(value as object)) {
      if (item !== undefined) out[key] = toJsonValue(item, seen);
    }
    return out;
  } finally {
    seen.delete(value as object);
  }
}
