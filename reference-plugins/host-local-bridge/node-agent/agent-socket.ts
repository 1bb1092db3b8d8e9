import fs from 'node:fs';
import path from 'node:path';

/** Where agents listen unless told otherwise; cni-exec-shim.c has the same default. */
export const defaultAgentDir = '/run/kubeplug/cni-agent';

/** The agent folder a process uses: KUBEPLUG_CNI_AGENT_DIR when set, as the shim reads it. */
export function agentDirFrom(env: Readonly<Record<string, string | undefined>>): string {
  const dir = env['KUBEPLUG_CNI_AGENT_DIR'];
  return dir === undefined || dir === '' ? defaultAgentDir : dir;
}

/** The inode of a process's network namespace: what identifies the namespace to the shim and the agent. */
export function netnsInode(pid: number | 'self'): number {
  return fs.statSync(`/proc/${pid}/ns/net`).ino;
}

/**
 * The socket of the agent serving one network namespace. Keyed by the
 * namespace, so a shim always reaches the agent of the namespace it runs in
 * and host-side changes land where the runtime meant them, even with one
 * agent per simulated node on the same machine.
 */
export function agentSocketPath(dir: string, inode: number): string {
  return path.join(dir, `net-${inode}.sock`);
}

/** The socket of the agent's exec server (netns-exec-server.c), next to the agent's own. */
export function execServerSocketPath(dir: string, inode: number): string {
  return path.join(dir, `net-${inode}.exec.sock`);
}
