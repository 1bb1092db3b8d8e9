import fs from 'node:fs/promises';

/** One line of /proc/self/mountinfo, with the fields the suite judges. */
export interface MountEntry {
  readonly mountId: number;
  readonly parentId: number;
  /** Major:minor of the mounted device. */
  readonly device: string;
  /** The path inside the source filesystem that is mounted (a bind mount's origin). */
  readonly root: string;
  readonly mountPoint: string;
  /** Per-mount options: `ro` or `rw` first. */
  readonly options: readonly string[];
  readonly fsType: string;
  readonly source: string;
  readonly superOptions: readonly string[];
}

/**
 * Reads the mount table of the suite's own mount namespace. The suite plays
 * the CO on the node, so what the plugin mounted for a pod is what the CO
 * sees here: the evidence comes from the kernel, not the plugin's word.
 */
export async function readMountTable(): Promise<MountEntry[]> {
  const text = await fs.readFile('/proc/self/mountinfo', 'utf8');
  return text
    .split('\n')
    .filter((line) => line !== '')
    .map(parseMountInfoLine);
}

/** The mounts stacked on one path, last mounted last (the visible one). */
export async function mountsAt(mountPoint: string): Promise<MountEntry[]> {
  return (await readMountTable()).filter((entry) => entry.mountPoint === mountPoint);
}

/** Whether the visible mount at a path is read-only for this mount. */
export function isReadOnly(entry: MountEntry): boolean {
  return entry.options.includes('ro');
}

/** Parses one mountinfo line (proc(5)): fields, then optional fields up to `-`, then type, source, super options. */
export function parseMountInfoLine(line: string): MountEntry {
  const fields = line.split(' ');
  const separator = fields.indexOf('-', 6);
  if (fields.length < 10 || separator < 0) throw new Error(`unexpected mountinfo line: ${line}`);
  const at = (index: number): string => fields[index] ?? '';
  return {
    mountId: Number(at(0)),
    parentId: Number(at(1)),
    device: at(2),
    root: decodeOctal(at(3)),
    mountPoint: decodeOctal(at(4)),
    options: at(5).split(','),
    fsType: at(separator + 1),
    source: decodeOctal(at(separator + 2)),
    superOptions: at(separator + 3).split(','),
  };
}

/** mountinfo writes space, tab, newline and backslash as `\ooo`. */
function decodeOctal(text: string): string {
  return text.replace(/\\([0-7]{3})/g, (_, octal: string) => String.fromCharCode(parseInt(octal, 8)));
}
