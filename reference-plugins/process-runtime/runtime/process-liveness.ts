import fs from 'node:fs/promises';
import { readShimPid } from '../oci/shim-process.js';

/** True while the process runs (a zombie counts as gone). */
export async function isProcessAlive(pid: number | undefined): Promise<boolean> {
  if (pid === undefined || pid <= 0) return false;
  try {
    const stat = await fs.readFile(`/proc/${pid}/stat`, 'utf8');
    // The state letter follows the command name in parentheses.
    const state = stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3);
    return state !== 'Z' && state !== 'X';
  } catch {
    return false;
  }
}

/** True while the shim named by the pid file runs (the pid's name is checked, as a pid may be reused). */
export async function isShimAlive(shimPidFile: string): Promise<boolean> {
  const pid = await readShimPid(shimPidFile);
  if (pid === undefined) return false;
  try {
    return (await fs.readFile(`/proc/${pid}/comm`, 'utf8')).trim() === 'kubeplug-shim' && (await isProcessAlive(pid));
  } catch {
    return false;
  }
}
