import fs from 'node:fs/promises';
import { CniError } from '../../../specs/cni/cni-error.js';

// statfs magic numbers: a bind-mounted namespace file (/run/netns/x) is on nsfs, /proc/<pid>/ns/net on procfs.
const NSFS_MAGIC = 0x6e736673;
const PROCFS_MAGIC = 0x9fa0;

/** Whether a namespace path can be entered, without starting a process. */
export type NetnsState = 'present' | 'missing';

/**
 * Checks CNI_NETNS before anything is changed, as upstream's ns.GetNS does
 * with statfs. A path that does not exist means the container is gone:
 * UNKNOWN_CONTAINER (3), so the runtime knows nothing needs cleaning up.
 * A path that is not a namespace file is INVALID_ENVIRONMENT (4) naming the variable.
 */
export async function requireNetworkNamespace(netnsPath: string): Promise<void> {
  if ((await netnsState(netnsPath)) === 'missing') {
    throw new CniError({ code: 'UNKNOWN_CONTAINER', msg: `failed to open netns "${netnsPath}": no such file or directory`, details: 'CNI_NETNS names a network namespace that does not exist' });
  }
}

/** 'missing' when nothing is at the path; throws INVALID_ENVIRONMENT when something is but it is not a namespace. */
export async function netnsState(netnsPath: string): Promise<NetnsState> {
  let type: number;
  try {
    type = (await fs.statfs(netnsPath)).type;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return 'missing';
    throw new CniError({ code: 'INVALID_ENVIRONMENT', msg: `failed to open netns "${netnsPath}"`, details: `CNI_NETNS: ${(error as Error).message}`, cause: error });
  }
  if (type !== NSFS_MAGIC && type !== PROCFS_MAGIC) {
    throw new CniError({ code: 'INVALID_ENVIRONMENT', msg: `failed to open netns "${netnsPath}": unknown FS magic on "${netnsPath}": ${type.toString(16)}`, details: 'CNI_NETNS is not a network namespace path' });
  }
  return 'present';
}
