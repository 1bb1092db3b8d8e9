/**
 * Container cgroups on cgroup v1 and v2, read and removed through cgroupfs.
 *
 * How runc places `linux.cgroupsPath` (runc 1.1 libcontainer/cgroups/fs,
 * cgroupfs driver): an absolute path is taken from the root of every
 * hierarchy (`/kubeplug/<id>` → `/sys/fs/cgroup/<controller>/kubeplug/<id>`),
 * even where the creating process sits lower; a relative path is joined to
 * the creating process's own cgroup in each hierarchy. On this project's
 * machines (cgroup v1, memory delegated under `/process_api/<token>`), an
 * absolute path therefore puts the memory cgroup at the memory root, beside
 * the delegated folder, which works as root; a relative path would put it
 * under `/process_api/<token>/` in the memory hierarchy only. Given the
 * init's pid, the stats follow /proc/<pid>/cgroup instead of guessing.
 */
import type { Dirent } from 'node:fs';
import fs from 'node:fs/promises';
import path from 'node:path';

/** A container's resource usage from its cgroup (bigints, as CRI's UInt64Value). */
export interface CgroupStats {
  /** CPU time used, nanoseconds, since the cgroup was made. */
  cpuUsageNs: bigint;
  memoryUsageBytes: bigint;
  /** Usage less inactive file pages, as the kubelet computes it. */
  workingSetBytes: bigint;
  rssBytes: bigint;
  pageFaults: bigint;
  majorPageFaults: bigint;
  /** Times the kernel's OOM killer killed a process of this cgroup. */
  oomKills: bigint;
}

interface Hierarchy {
  /** Where it is mounted. */
  mountPoint: string;
  /** v1 controllers (and `name=…`) of the hierarchy; empty for cgroup v2. */
  controllers: string[];
  version: 1 | 2;
}

async function hierarchies(): Promise<Hierarchy[]> {
  const mountinfo = await fs.readFile('/proc/self/mountinfo', 'utf8');
  const found: Hierarchy[] = [];
  for (const line of mountinfo.split('\n')) {
    const [before, after] = line.split(' - ');
    if (before === undefined || after === undefined) continue;
    const mountPoint = before.split(' ')[4];
    const [type, , superOptions = ''] = after.split(' ');
    if (mountPoint === undefined) continue;
    if (type === 'cgroup2') found.push({ mountPoint, controllers: [], version: 2 });
    else if (type === 'cgroup') {
      const controllers = superOptions.split(',').filter((option) => option !== 'rw' && option !== 'ro' && (!option.includes('=') || option.startsWith('name=')));
      found.push({ mountPoint, controllers, version: 1 });
    }
  }
  return found;
}

/** True on a pure cgroup v2 host (no v1 hierarchy mounted). */
async function isUnified(all: Hierarchy[]): Promise<boolean> {
  return !all.some((hierarchy) => hierarchy.version === 1);
}

/** The process's cgroup per hierarchy key: a v1 controller list joined by "," or "" for v2. */
async function cgroupsOf(pid: number | 'self'): Promise<Map<string, string>> {
  const text = await fs.readFile(`/proc/${pid}/cgroup`, 'utf8');
  const result = new Map<string, string>();
  for (const line of text.split('\n')) {
    const first = line.indexOf(':');
    const second = line.indexOf(':', first + 1);
    if (first < 0 || second < 0) continue;
    result.set(line.slice(first + 1, second), line.slice(second + 1));
  }
  return result;
}

function keyOf(hierarchy: Hierarchy): string {
  return hierarchy.version === 2 ? '' : hierarchy.controllers.join(',');
}

/**
 * The folder of `cgroupsPath` in each hierarchy, placed as runc places it
 * (see the module comment), or as /proc/<pid>/cgroup says when pid is given.
 */
async function cgroupFolders(cgroupsPath: string, pid?: number): Promise<{ hierarchy: Hierarchy; folder: string }[]> {
  const all = await hierarchies();
  let paths: Map<string, string> | undefined;
  if (pid !== undefined) {
    try {
      paths = await cgroupsOf(pid);
    } catch {
      paths = undefined; // the process has ended: fall back to the configured path
    }
  }
  const own = path.isAbsolute(cgroupsPath) ? undefined : await cgroupsOf('self');
  return all.map((hierarchy) => {
    const key = keyOf(hierarchy);
    const relativeTo = own?.get(key) ?? '/';
    const inHierarchy = paths?.get(key) ?? path.join(relativeTo, cgroupsPath);
    return { hierarchy, folder: path.join(hierarchy.mountPoint, inHierarchy) };
  });
}

async function readText(file: string): Promise<string | undefined> {
  try {
    return await fs.readFile(file, 'utf8');
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === 'ENOENT' || code === 'ENODEV') return undefined;
    throw error;
  }
}

/** A flat keyed file (`memory.stat`, `cpu.stat`, `memory.events`, `memory.oom_control`) as a map. */
function keyedValues(text: string | undefined): Map<string, bigint> {
  const values = new Map<string, bigint>();
  for (const line of (text ?? '').split('\n')) {
    const [key, value] = line.trim().split(/\s+/);
    if (key !== undefined && value !== undefined && /^\d+$/.test(value)) values.set(key, BigInt(value));
  }
  return values;
}

function single(text: string | undefined): bigint {
  const trimmed = text?.trim() ?? '';
  return /^\d+$/.test(trimmed) ? BigInt(trimmed) : 0n;
}

function workingSet(usage: bigint, inactiveFile: bigint | undefined): bigint {
  const value = usage - (inactiveFile ?? 0n);
  return value > 0n ? value : 0n;
}

/**
 * Reads CPU and memory usage and the OOM-kill count of a container's
 * cgroup; undefined when the cgroup does not exist (never created, or
 * removed). Pass the init's pid while it runs to follow /proc/<pid>/cgroup.
 */
export async function readCgroupStats(cgroupsPath: string, o: { pid?: number } = {}): Promise<CgroupStats | undefined> {
  const folders = await cgroupFolders(cgroupsPath, o.pid);
  const all = folders.map((entry) => entry.hierarchy);
  if (await isUnified(all)) {
    const folder = folders.find((entry) => entry.hierarchy.version === 2)?.folder;
    if (folder === undefined) return undefined;
    const current = await readText(path.join(folder, 'memory.current'));
    const cpuStat = await readText(path.join(folder, 'cpu.stat'));
    if (current === undefined && cpuStat === undefined) return undefined;
    const memoryStat = keyedValues(await readText(path.join(folder, 'memory.stat')));
    const events = keyedValues(await readText(path.join(folder, 'memory.events')));
    const usage = single(current);
    return {
      cpuUsageNs: (keyedValues(cpuStat).get('usage_usec') ?? 0n) * 1000n,
      memoryUsageBytes: usage,
      workingSetBytes: workingSet(usage, memoryStat.get('inactive_file')),
      rssBytes: memoryStat.get('anon') ?? 0n,
      pageFaults: memoryStat.get('pgfault') ?? 0n,
      majorPageFaults: memoryStat.get('pgmajfault') ?? 0n,
      oomKills: events.get('oom_kill') ?? 0n,
    };
  }
  const folderOf = (controller: string): string | undefined =>
    folders.find((entry) => entry.hierarchy.version === 1 && entry.hierarchy.controllers.includes(controller))?.folder;
  const memoryFolder = folderOf('memory');
  const cpuacctFolder = folderOf('cpuacct');
  const usageText = memoryFolder === undefined ? undefined : await readText(path.join(memoryFolder, 'memory.usage_in_bytes'));
  const cpuText = cpuacctFolder === undefined ? undefined : await readText(path.join(cpuacctFolder, 'cpuacct.usage'));
  if (usageText === undefined && cpuText === undefined) return undefined;
  const memoryStat = keyedValues(memoryFolder === undefined ? undefined : await readText(path.join(memoryFolder, 'memory.stat')));
  const oomControl = keyedValues(memoryFolder === undefined ? undefined : await readText(path.join(memoryFolder, 'memory.oom_control')));
  const usage = single(usageText);
  return {
    cpuUsageNs: single(cpuText),
    memoryUsageBytes: usage,
    workingSetBytes: workingSet(usage, memoryStat.get('total_inactive_file')),
    rssBytes: memoryStat.get('total_rss') ?? 0n,
    pageFaults: memoryStat.get('total_pgfault') ?? 0n,
    majorPageFaults: memoryStat.get('total_pgmajfault') ?? 0n,
    oomKills: oomControl.get('oom_kill') ?? 0n,
  };
}

/**
 * Removes the container's cgroup folder from every hierarchy. Idempotent: a
 * folder already gone is fine. A folder still holding processes (EBUSY) is
 * retried for a moment, since the kernel frees a cgroup shortly after its
 * last task exits; then the error is thrown.
 */
export async function removeCgroup(cgroupsPath: string): Promise<void> {
  if (cgroupsPath === '' || cgroupsPath === '/') throw new Error('refusing to remove a cgroup root');
  const folders = await cgroupFolders(cgroupsPath);
  await Promise.all(
    folders.map(async ({ folder }) => {
      for (let attempt = 0; ; attempt++) {
        try {
          await fs.rmdir(folder);
          return;
        } catch (error) {
          const code = (error as NodeJS.ErrnoException).code;
          if (code === 'ENOENT') return;
          if (code !== 'EBUSY' || attempt >= 50) throw error;
          await new Promise((resolve) => setTimeout(resolve, 20));
        }
      }
    }),
  );
}

/** The distinct process ids of `folder`'s cgroup.procs and those of every cgroup below it. */
async function processesUnder(folder: string, into: Set<number>): Promise<boolean> {
  const procs = await readText(path.join(folder, 'cgroup.procs'));
  if (procs === undefined) return false;
  for (const line of procs.split('\n')) if (/^\d+$/.test(line.trim())) into.add(Number(line.trim()));
  let entries: Dirent[];
  try {
    entries = await fs.readdir(folder, { withFileTypes: true });
  } catch {
    return true;
  }
  await Promise.all(entries.filter((entry) => entry.isDirectory()).map((entry) => processesUnder(path.join(folder, entry.name), into)));
  return true;
}

/**
 * How many processes (not threads, which pids.current counts) live in the
 * cgroup at `cgroupsPath` and the cgroups below it (a pod's cgroup holds
 * its containers' cgroups); undefined when the cgroup does not exist. On
 * cgroup v1 the pids hierarchy is read, else any one holding the folder.
 * @see CRI-STATS-020
 */
export async function readCgroupProcessCount(cgroupsPath: string): Promise<number | undefined> {
  const folders = await cgroupFolders(cgroupsPath);
  const preference = (entry: { hierarchy: Hierarchy }): number =>
    entry.hierarchy.version === 2 ? 0 : entry.hierarchy.controllers.includes('pids') ? 1 : entry.hierarchy.controllers.includes('memory') ? 2 : entry.hierarchy.controllers.includes('cpu') ? 3 : 4;
  for (const { folder } of [...folders].sort((a, b) => preference(a) - preference(b))) {
    const pids = new Set<number>();
    if (await processesUnder(folder, pids)) return pids.size;
  }
  return undefined;
}
