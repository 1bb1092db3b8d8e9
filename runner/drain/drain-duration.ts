/**
 * `--timeout` values: Go duration text as kubectl's `--timeout` takes it
 * (time.ParseDuration: a sequence of number+unit such as `90s`, `5m`,
 * `1h30m`, `1.5s`, `500ms`), or a plain number of seconds (a kubeplug
 * convenience). Negative values are refused; 0 means no timeout.
 */

/** Milliseconds per unit; Go's `us`/`µs`/`ns` round to whole milliseconds below. */
const unitMilliseconds = {
  h: 3_600_000,
  m: 60_000,
  s: 1000,
  ms: 1,
  us: 0.001,
  µs: 0.001,
  ns: 0.000_001,
} as const;

type DurationUnit = keyof typeof unitMilliseconds;

/** A duration that cannot be read; the message says what was expected. */
export class DurationSyntaxError extends Error {
  constructor(readonly text: string) {
    super(`expected a duration such as 90s, 5m, 1h30m or a number of seconds, not ${JSON.stringify(text)}`);
    this.name = 'DurationSyntaxError';
  }
}

const plainSeconds = /^\d+(\.\d+)?$/;
const durationPart = /(\d+(?:\.\d*)?|\.\d+)(h|ms|m|s|us|µs|ns)/y;

/** Parses `text` into milliseconds (rounded up, so a tiny positive value never reads as "no timeout"). */
export function parseDuration(text: string): number {
  const trimmed = text.trim();
  if (plainSeconds.test(trimmed)) return Math.ceil(Number(trimmed) * 1000);
  if (trimmed === '' || trimmed.startsWith('-')) throw new DurationSyntaxError(text);
  const body = trimmed.startsWith('+') ? trimmed.slice(1) : trimmed;
  let total = 0;
  durationPart.lastIndex = 0;
  while (durationPart.lastIndex < body.length) {
    const part = durationPart.exec(body);
    if (part === null) throw new DurationSyntaxError(text);
    total += Number(part[1]) * unitMilliseconds[part[2] as DurationUnit];
  }
  if (body.length === 0 || !Number.isFinite(total)) throw new DurationSyntaxError(text);
  return Math.ceil(total);
}

/** Milliseconds as short human text: `12s`, `1m30s`, `250ms`. */
export function formatDuration(milliseconds: number): string {
  if (milliseconds < 1000) return `${Math.round(milliseconds)}ms`;
  const totalSeconds = Math.round(milliseconds / 1000);
  const hours = Math.floor(totalSeconds / 3600);
  const minutes = Math.floor((totalSeconds % 3600) / 60);
  const seconds = totalSeconds % 60;
  return `${hours > 0 ? `${hours}h` : ''}${minutes > 0 ? `${minutes}m` : ''}${seconds > 0 || totalSeconds === 0 ? `${seconds}s` : ''}`;
}
