import fs from 'node:fs';
import path from 'node:path';
import { releaseDriverLeftovers } from './csi-driver-cleanup.js';
import { tempDir } from './temp-dir.js';

/** The folders of one CSI driver under test, and the endpoint it is to listen on. */
export interface CsiDriverFolders {
  /** The driver's state folder. */
  readonly root: string;
  /** Where the suite makes publish targets (`--mount-dir`). */
  readonly mountDir: string;
  /** Where the suite makes staging folders (`--staging-dir`). */
  readonly stagingDir: string;
  /** `unix://…/csi.sock` in a folder of its own: the suite watches the socket's folder for files the plugin adds (CSI-SOCK-005). */
  readonly endpoint: string;
}

/**
 * Makes a fresh set of folders for a driver run and registers, before the
 * caller starts anything, the teardown that undoes whatever is left mounted
 * under them and detaches the driver's loop devices. Teardowns run
 * last-registered first, so a driver stopped in a later teardown is down
 * before this one runs, and the folders go after it.
 */
export function csiDriverFolders(t: { teardown(fn: () => unknown): void }): CsiDriverFolders {
  const dir = tempDir(t, 'kp-csi-');
  const [root, mountDir, stagingDir, socketDir] = ['root', 'mount', 'staging', 'sock'].map((name) => path.join(dir, name)) as [string, string, string, string];
  for (const folder of [root, mountDir, stagingDir, socketDir]) fs.mkdirSync(folder);
  t.teardown(() => releaseDriverLeftovers({ dirs: [mountDir, stagingDir], driverRoot: root }));
  return { root, mountDir, stagingDir, endpoint: `unix://${path.join(socketDir, 'csi.sock')}` };
}
