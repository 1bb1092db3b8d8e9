import fs from 'node:fs/promises';

/** A requirement the user declares their subject breaks, and why. */
export interface KnownDeviation {
  readonly id: string;
  readonly reason: string;
}

/** A known-deviations file that cannot be used. */
export class KnownDeviationsError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'KnownDeviationsError';
  }
}

/**
 * Reads a known-deviations file: one deviation per line, `ID reason…`;
 * blank lines and lines starting with `#` are ignored. Every line needs a
 * reason, and an ID may appear once.
 *
 *     # our driver has no snapshots yet
 *     CSI-SNAP-004  snapshots land in v2
 */
export function parseKnownDeviations(text: string, file: string): KnownDeviation[] {
  const deviations: KnownDeviation[] = [];
  const seen = new Set<string>();
  text.split(/\r?\n/).forEach((raw, index) => {
    const line = raw.trim();
    if (line === '' || line.startsWith('#')) return;
    const match = /^(\S+)\s+(.+)$/.exec(line);
    const where = `${file}:${index + 1}`;
    if (match === null) throw new KnownDeviationsError(`${where}: "${line}" needs a reason after the requirement ID`);
    const [, id = '', reason = ''] = match;
    if (seen.has(id)) throw new KnownDeviationsError(`${where}: ${id} is listed twice`);
    seen.add(id);
    deviations.push({ id, reason: reason.trim() });
  });
  return deviations;
}

/** Reads and parses a known-deviations file, naming the file in any error. */
export async function readKnownDeviations(file: string): Promise<KnownDeviation[]> {
  let text: string;
  try {
    text = await fs.readFile(file, 'utf8');
  } catch (error) {
    throw new KnownDeviationsError(`--known-deviations ${file}: ${(error as Error).message}`);
  }
  return parseKnownDeviations(text, file);
}
