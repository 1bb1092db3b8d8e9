import fs from 'node:fs/promises';
import { runCommand } from '../../run-command.js';

/**
 * Creates a network namespace pinned by a bind mount at `file` (an nsfs
 * mount, as `ip netns add` makes under /run/netns, but inside the sandbox
 * folder so everything of a pod lives in one place), with loopback up.
 * The namespace is created from this process's view, so it is independent
 * of the namespace the runtime itself runs in.
 */
export async function createNetworkNamespace(file: string): Promise<void> {
  await fs.writeFile(file, '', { flag: 'w', mode: 0o600 });
  try {
    await runCommand(['unshare', `--net=${file}`, 'ip', 'link', 'set', 'lo', 'up']);
  } catch (error) {
    await releaseNetworkNamespace(file);
    throw error;
  }
}

/** True when `file` is a mounted namespace (the bind mount is in place). */
export async function isNetworkNamespaceMounted(file: string): Promise<boolean> {
  const mountinfo = await fs.readFile('/proc/self/mountinfo', 'utf8');
  return mountinfo.split('\n').some((line) => line.split(' ')[4] === escapeMountPath(file));
}

/** Unmounts and removes the namespace file; the namespace dies with its last user. Idempotent. */
export async function releaseNetworkNamespace(file: string): Promise<void> {
  while (await isNetworkNamespaceMounted(file)) {
    await runCommand(['umount', '--lazy', file]);
  }
  await fs.rm(file, { force: true });
}

/** mountinfo escapes space, tab, newline and backslash as octal. */
function escapeMountPath(file: string): string {
  return file.replace(/[ \t\n\\]/g, (c) => `\\${c.charCodeAt(0).toString(8).padStart(3, '0')}`);
}
