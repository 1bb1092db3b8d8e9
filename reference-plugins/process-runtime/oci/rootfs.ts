import { spawn } from 'node:child_process';
import fs from 'node:fs/promises';
import os from 'node:os';
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
 * top-most lower first, so the list is reversed. The option string must fit
 * one page: when the absolute paths do not (many layers under a long root),
 * the layers are named relative to their common parent and mount(8) runs
 * there (the kernel resolves them against the caller's cwd); when even that
 * is too long, through a temporary folder of one-character symlinks, as
 * Docker's overlay2 driver does with its short links. A single layer is
 * fine: overlay needs one lower at least.
 */
export async function mountOverlay(o: { lowerDirs: readonly string[]; upperDir: string; workDir: string; target: string }): Promise<void> {
  if (o.lowerDirs.length === 0) throw new RootfsError('an overlay needs at least one lower folder');
  for (const dir of [...o.lowerDirs, o.upperDir, o.workDir, o.target]) {
    if (dir.includes(',') || dir.includes(':')) throw new RootfsError(`${dir}: overlay paths may hold neither "," nor ":"`);
  }
  await Promise.all([fs.mkdir(o.upperDir, { recursive: true }), fs.mkdir(o.workDir, { recursive: true }), fs.mkdir(o.target, { recursive: true })]);
  const lowers = [...o.lowerDirs].reverse().map((dir) => path.resolve(dir));
  const upper = path.resolve(o.upperDir);
  const work = path.resolve(o.workDir);
  const target = path.resolve(o.target);
  const options = (lower: readonly string[]): string => `lowerdir=${lower.join(':')},upperdir=${upper},workdir=${work}`;
  if (options(lowers).length <= maxMountData) {
    await run(['mount', '-t', 'overlay', 'overlay', '-o', options(lowers), target]);
    return;
  }
  const base = commonParent(lowers);
  const relative = options(lowers.map((dir) => path.relative(base, dir)));
  if (relative.length <= maxMountData) {
    await run(['mount', '-t', 'overlay', 'overlay', '-o', relative, target], base);
    return;
  }
  // The kernel follows the links when it mounts, so the folder is not needed afterwards.
  const links = await fs.mkdtemp(path.join(os.tmpdir(), 'kubeplug-lowers-'));
  try {
    const names = await Promise.all(
      lowers.map(async (dir, index) => {
        const name = index.toString(36);
        await fs.symlink(dir, path.join(links, name));
        return name;
      }),
    );
    if (options(names).length > maxMountData) throw new RootfsError(`overlay options for ${target} exceed one page even through short links (${lowers.length} layers)`);
    await run(['mount', '-t', 'overlay', 'overlay', '-o', options(names), target], links);
  } finally {
    await fs.rm(links, { recursive: true, force: true });
  }
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
