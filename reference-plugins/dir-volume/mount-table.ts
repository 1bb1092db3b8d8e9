import fs from 'node:fs/promises';

/** One line of /proc/self/mountinfo (proc(5)), with its octal escapes decoded. */
export interface MountEntry {
  readonly mountId: number;
  readonly parentId: number;
  /** `major:minor` of the filesystem's device. */
  readonly device: string;
  /** The path inside the filesystem that is mounted here; `/loop3` for a bind of /dev/loop3. */
  readonly root: string;
  readonly mountPoint: string;
  readonly options: readonly string[];
  readonly fsType: string;
  readonly source: string;
}

/** Decodes the `\040`-style octal escapes the kernel uses for space, tab, newline and backslash. */
export function decodeMountField(field: string): string {
  return field.replace(/\\([0-7]{3})/g, (_, octal: string) => String.fromCharCode(Number.parseInt(octal, 8)));
}

/** Parses the text of a mountinfo file; malformed lines are skipped. */
export function parseMountInfo(text: string): MountEntry[] {
  const entries: MountEntry[] = [];
  for (const line of text.split('\n')) {
    const fields = line.split(' ');
    const separator = fields.indexOf('-', 6);
    if (separator < 0 || fields.length < separator + 3) continue;
    entries.push({
      mountId: Number(fields[0]),
      parentId: Number(fields[1]),
      device: fields[2] ?? '',
      root: decodeMountField(fields[3] ?? ''),
      mountPoint: decodeMountField(fields[4] ?? ''),
      options: (fields[5] ?? '').split(','),
      fsType: fields[separator + 1] ?? '',
      source: decodeMountField(fields[separator + 2] ?? ''),
    });
  }
  return entries;
}

/**
 * The mount table as the kernel sees it now. Read fresh for every decision,
 * because mounts change behind the driver's back (other processes, reboots,
 * a crash between mounting and recording).
 */
export async function readMountTable(): Promise<MountEntry[]> {
  return parseMountInfo(await fs.readFile('/proc/self/mountinfo', 'utf8'));
}

/** The mounts at `mountPoint`, bottom first (several when mounts are stacked). */
export function mountsAt(table: readonly MountEntry[], mountPoint: string): MountEntry[] {
  return table.filter((entry) => entry.mountPoint === mountPoint);
}
