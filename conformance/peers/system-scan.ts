import fs from 'node:fs';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';

// Read-only looks at the machine (/proc, /sys/fs/cgroup, PATH) that a node
// starter needs to find what belongs to a node and to prove it is gone.

const cgroupRoot = '/sys/fs/cgroup';

/** The value `read` returns, or `fallback` when it throws (a file that vanished between list and read). */
export function readOr<T>(read: () => T, fallback: T): T {
  try {
    return read();
  } catch {
    return fallback;
  }
}

/** The executable `command` resolves to on PATH, or undefined. */
export function findOnPath(command: string): string | undefined {
  for (const dir of (process.env['PATH'] ?? '').split(':')) {
    if (dir === '') continue;
    const candidate = path.join(dir, command);
    if (readOr(() => (fs.accessSync(candidate, fs.constants.X_OK), true), false)) return candidate;
  }
  return undefined;
}

/** The first of `candidates` that exists, or undefined. */
export function firstExisting(candidates: readonly string[]): string | undefined {
  return candidates.find((candidate) => fs.existsSync(candidate));
}

/** The cgroup folders named `name` directly under each hierarchy (v1 controllers, the v1 named ones, or v2's single root). */
export function cgroupParents(name: string): string[] {
  const hierarchies = readOr(() => fs.readdirSync(cgroupRoot, { withFileTypes: true }), [])
    .filter((entry) => entry.isDirectory())
    .map((entry) => path.join(cgroupRoot, entry.name));
  return [cgroupRoot, ...hierarchies].map((root) => path.join(root, name)).filter((dir) => fs.existsSync(dir));
}

/** A cgroup folder and every cgroup below it, deepest first. */
export function cgroupTree(dir: string): string[] {
  const children = readOr(() => fs.readdirSync(dir, { withFileTypes: true }), []).filter((entry) => entry.isDirectory());
  return [...children.flatMap((child) => cgroupTree(path.join(dir, child.name))), dir];
}

/** The processes in the given cgroups. */
export function pidsInCgroups(dirs: readonly string[]): number[] {
  return dirs.flatMap((dir) =>
    readOr(() => fs.readFileSync(path.join(dir, 'cgroup.procs'), 'utf8'), '')
      .split('\n')
      .filter((line) => line !== '')
      .map(Number),
  );
}

/** A process's command line with spaces for NULs, or '' once it is gone. */
export function cmdlineOf(pid: number): string {
  return readOr(() => fs.readFileSync(`/proc/${pid}/cmdline`, 'utf8').replaceAll('\0', ' ').trim(), '');
}

/** Every process on the machine except this one. */
export function allPids(): number[] {
  return fs
    .readdirSync('/proc')
    .filter((name) => /^\d+$/.test(name))
    .map(Number)
    .filter((pid) => pid !== process.pid);
}

/** A process's parent, or undefined once it is gone. */
export function parentOf(pid: number): number | undefined {
  const stat = readOr(() => fs.readFileSync(`/proc/${pid}/stat`, 'utf8'), '');
  // The command name (field 2) may hold spaces and parentheses: the fields after it follow the last ')'.
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  const parent = Number(fields[1]);
  return Number.isSafeInteger(parent) && parent > 0 ? parent : undefined;
}

/** A process's resident memory in KiB (VmRSS of /proc/<pid>/status), or 0 once it is gone. */
export function residentKib(pid: number): number {
  const status = readOr(() => fs.readFileSync(`/proc/${pid}/status`, 'utf8'), '');
  const match = /^VmRSS:\s+(\d+) kB$/m.exec(status);
  return match?.[1] === undefined ? 0 : Number(match[1]);
}

/** Mount points under `dir` in this process's mount namespace, deepest first. */
export function mountsUnder(dir: string): string[] {
  const unescape = (field: string): string => field.replace(/\\([0-7]{3})/g, (_, octal: string) => String.fromCharCode(parseInt(octal, 8)));
  return fs
    .readFileSync('/proc/self/mountinfo', 'utf8')
    .split('\n')
    .map((line) => line.split(' ')[4])
    .filter((field): field is string => field !== undefined)
    .map(unescape)
    .filter((mountPoint) => mountPoint === dir || mountPoint.startsWith(`${dir}/`))
    .sort((a, b) => b.length - a.length);
}

/** Calls `attempt` every 100 ms until it returns true (resolves true) or `deadlineMs` passes (resolves false). */
export async function retryUntil(deadlineMs: number, attempt: () => boolean | Promise<boolean>): Promise<boolean> {
  const deadline = Date.now() + deadlineMs;
  for (;;) {
    if (await attempt()) return true;
    if (Date.now() > deadline) return false;
    await sleep(100);
  }
}
