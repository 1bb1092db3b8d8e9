/**
 * Reads a container log file in the CRI log format, as the kubelet's
 * parseCRILog does (kubernetes/kubernetes v1.36.3,
 * pkg/kubelet/kuberuntime/logs/logs.go): `<RFC3339Nano> <stream> <tags> <content>`.
 * @see CRI-LOG-003
 */
import fs from 'node:fs/promises';

/** One entry of a CRI log file, or why a line is not one. */
export type CriLogEntry =
  | {
      readonly ok: true;
      readonly line: number;
      readonly timestamp: string;
      /** Nanoseconds since the epoch, from the timestamp. */
      readonly timeNs: bigint;
      readonly stream: string;
      /** The tags, split at `:`; the first one (P or F) decides. */
      readonly tags: readonly string[];
      readonly content: string;
    }
  | { readonly ok: false; readonly line: number; readonly text: string; readonly problem: string };

/** RFC 3339 with up to nine fractional digits, as Go's time.RFC3339Nano writes and parses it. */
const rfc3339Nano = /^(\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2})(?:\.(\d{1,9}))?(Z|[+-]\d{2}:\d{2})$/;

/** Nanoseconds since the epoch of an RFC 3339 timestamp, or undefined when it is not one. */
export function parseRfc3339Nano(text: string): bigint | undefined {
  const match = rfc3339Nano.exec(text);
  if (match === null) return undefined;
  const [, whole = '', fraction = '', zone = 'Z'] = match;
  const ms = Date.parse(`${whole}${zone}`);
  if (Number.isNaN(ms)) return undefined;
  return BigInt(ms) * 1_000_000n + BigInt(fraction.padEnd(9, '0') || '0');
}

/** Splits one line (without its newline) into a CRI log entry. */
export function parseCriLogLine(text: string, line: number): CriLogEntry {
  const parts: string[] = [];
  let rest = text;
  for (let field = 0; field < 3; field += 1) {
    const space = rest.indexOf(' ');
    if (space < 0) return { ok: false, line, text, problem: `only ${field + 1} space-separated part(s); want timestamp, stream, tags, content` };
    parts.push(rest.slice(0, space));
    rest = rest.slice(space + 1);
  }
  const [timestamp = '', stream = '', tagText = ''] = parts;
  const timeNs = parseRfc3339Nano(timestamp);
  if (timeNs === undefined) return { ok: false, line, text, problem: `timestamp ${JSON.stringify(timestamp)} is not RFC 3339 with nanoseconds` };
  return { ok: true, line, timestamp, timeNs, stream, tags: tagText.split(':'), content: rest };
}

/** A log file read whole: its entries, and whether its last line lacked the closing newline. */
export interface CriLogFile {
  readonly entries: readonly CriLogEntry[];
  readonly unterminated: boolean;
}

/** Reads and parses a log file; undefined when there is no file at the path. */
export async function readCriLog(file: string): Promise<CriLogFile | undefined> {
  let text: string;
  try {
    text = await fs.readFile(file, 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw error;
  }
  const unterminated = text.length > 0 && !text.endsWith('\n');
  const lines = text.split('\n');
  if (lines.at(-1) === '') lines.pop();
  return { entries: lines.map((line, index) => parseCriLogLine(line, index + 1)), unterminated };
}

/** The well-formed entries of one stream, in file order. */
export function entriesOf(log: CriLogFile, stream: 'stdout' | 'stderr'): Extract<CriLogEntry, { ok: true }>[] {
  return log.entries.filter((entry): entry is Extract<CriLogEntry, { ok: true }> => entry.ok && entry.stream === stream);
}

/**
 * Joins a stream's entries back into the lines the container wrote: P
 * entries continue a line, an F entry ends it. A trailing run of P entries
 * comes back as a last line marked unterminated.
 */
export function reassembleLines(entries: readonly Extract<CriLogEntry, { ok: true }>[]): { text: string; complete: boolean }[] {
  const lines: { text: string; complete: boolean }[] = [];
  let pending = '';
  let open = false;
  for (const entry of entries) {
    pending += entry.content;
    open = true;
    if (entry.tags[0] === 'F') {
      lines.push({ text: pending, complete: true });
      pending = '';
      open = false;
    }
  }
  if (open) lines.push({ text: pending, complete: false });
  return lines;
}

/** A short, readable view of entries for evidence (content cut at 80 characters). */
export function summariseEntries(entries: readonly CriLogEntry[], limit = 20): string[] {
  const shown = entries.slice(0, limit).map((entry) =>
    entry.ok
      ? `${entry.line}: ${entry.timestamp} ${entry.stream} ${entry.tags.join(':')} ${entry.content.length > 80 ? `${entry.content.slice(0, 80)}… (${entry.content.length} chars)` : entry.content}`
      : `${entry.line}: not a CRI log line (${entry.problem}): ${entry.text.slice(0, 80)}`,
  );
  if (entries.length > limit) shown.push(`… ${entries.length - limit} more`);
  return shown;
}
