import { spawn } from 'node:child_process';
import fs from 'node:fs/promises';
import path from 'node:path';

/** A mount or unmount of a container's rootfs that failed. */
export class RootfsError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'RootfsError';
  }
}

// The kernel copies mount data into one page; overlay's option string must fit.
const maxMountData = 4096 - 1;
const commandPath = '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin';

function run(argv: string[], cwd?: string): Promise<void> {
  const [file, ...args] = argv as [string, ...string[]];
  return new Promise((resolve, reject) => {
    const child = spawn(file, args, { stdio: ['ignore', 'ignore', 'pipe'], env: { PATH: commandPath, LC_ALL: 'C' }, ...(cwd === undefined ? {} : { cwd }) });
    const stderr: Buffer[] = [];
    child.stderr.on('data', (chunk: Buffer) => stderr.push(chunk));
    child.once('error', (error) => reject(new RootfsError(`${argv.join(' ')}: ${error.message}`, { cause: error })));
    child.once('close', (code) => {
      if (code === 0) resolve();
      else reject(new RootfsError(`${argv.join(' ')}: ${Buffer.concat(stderr).toString('utf8').trim() || `exit status ${String(code)}`}`));
    });
  });
}

/** The longest folder that holds every path, or '/' . */
function commonParent(paths: readonly string[]): string {
  const split = paths.map((p) => path.resolve(p).split('/'));
  const first = split[0] ?? [''];
  let length = first.length - 1; // a parent, never a path itself
  for (const parts of split) {
    let same = 0;
    while (same < length && same < parts.length - 1 && parts[same] === first[same]) same++;
    length = same;
  }
  return first.slice(0, length).join('/') || '/';
}

/**
 * Mounts an overlay at `target`: `lowerDirs` lowest first (as the image
 * store lists layers), `upperDir` and `workDir` writable. overlayfs wants the
 * top-most lower first, so the list is reversed. When the option string
 * would not fit one page (an image with many layers under a long root), the
 * paths are given relative to their common parent and mount(8) runs there,
 * since the kernel resolves them against the mounting process's cwd.
 * A single layer is fine: overlay needs one lower at least.
 */
export async function mountOverlay(o: { lowerDirs: readonly string[]; upperDir: string; workDir: string; target: string }): Promise<void> {
  if (o.lowerDirs.length === 0) throw new RootfsError('an overlay needs at least one lower folder');
  for (const dir of [...o.lowerDirs, o.upperDir, o.workDir, o.target]) {
    if (dir.includes(',') || dir.includes(':')) throw new RootfsError(`${dir}: overlay paths may hold neither "," nor ":"`);
  }
  await Promise.all([fs.mkdir(o.upperDir, { recursive: true }), fs.mkdir(o.workDir, { recursive: true }), fs.mkdir(o.target, { recursive: true })]);
  const lowers = [...o.lowerDirs].reverse();
  const options = (lower: readonly string[], upper: string, work: string): string => `lowerdir=${lower.join(':')},upperdir=${upper},workdir=${work}`;
  const absolute = options(lowers, o.upperDir, o.workDir);
  if (absolute.length <= maxMountData) {
    await run(['mount', '-t', 'overlay', 'overlay', '-o', absolute, o.target]);
    return;
  }
  const base = commonParent([...lowers, o.upperDir, o.workDir]);
  const relative = (dir: string): string => path.relative(base, path.resolve(dir)) || '.';
  const short = options(lowers.map(relative), relative(o.upperDir), relative(o.workDir));
  if (short.length > maxMountData) throw new RootfsError(`overlay options for ${o.target} exceed one page even as relative paths (${lowers.length} layers)`);
  await run(['mount', '-t', 'overlay', 'overlay', '-o', short, path.resolve(o.target)], base);
}

/** True when `target` is a mount point (per /proc/self/mountinfo). */
export async function isMountPoint(target: string): Promise<boolean> {
  const resolved = path.resolve(target);
  const mountinfo = await fs.readFile('/proc/self/mountinfo', 'utf8');
  for (const line of mountinfo.split('\n')) {
    const mountPoint = line.split(' ')[4];
    // mountinfo escapes space, tab, newline and backslash as octal.
    if (mountPoint !== undefined && mountPoint.replace(/\\([0-7]{3})/g, (_, octal: string) => String.fromCharCode(Number.parseInt(octal, 8))) === resolved) return true;
  }
  return false;
}

/** Unmounts `target` (every mount stacked there) when it is a mount point; a no-op otherwise. */
export async function unmountIfMounted(target: string): Promise<void> {
  while (await isMountPoint(target)) await run(['umount', path.resolve(target)]);
}
