/**
 * Teardown for tests that run a CSI driver for real: whatever a broken
 * driver (or a failed case) left mounted under the test's folders is lazily
 * unmounted, and loop devices backed by files under the driver's root are
 * detached, so nothing outlives the test on the machine.
 */
import { execFile } from 'node:child_process';
import fs from 'node:fs/promises';
import path from 'node:path';
import { promisify } from 'node:util';
import { readMountTable } from '../../conformance/csi/mount-table.js';

const run = promisify(execFile);

/** What a cleanup undid, for the test's log. */
export interface DriverLeftovers {
  readonly unmounted: readonly string[];
  readonly detached: readonly string[];
}

function isUnder(child: string, dirs: readonly string[]): boolean {
  return dirs.some((dir) => child === dir || child.startsWith(`${dir}${path.sep}`));
}

async function realPaths(dirs: readonly string[]): Promise<string[]> {
  // mountinfo names resolved paths; /tmp may be reached through a symlink.
  const resolved = await Promise.all(dirs.map((dir) => fs.realpath(dir).catch(() => path.resolve(dir))));
  return [...new Set([...dirs.map((dir) => path.resolve(dir)), ...resolved])];
}

/**
 * Lazily unmounts (`umount -l`) every mount at or under the given folders,
 * deepest first, until /proc/self/mountinfo shows none (stacked mounts need
 * several rounds). Returns the mount points it unmounted.
 */
export async function unmountAllUnder(dirs: readonly string[]): Promise<string[]> {
  const roots = await realPaths(dirs);
  const unmounted: string[] = [];
  for (let round = 0; round < 10; round += 1) {
    const left = (await readMountTable())
      .map((entry) => entry.mountPoint)
      .filter((mountPoint) => isUnder(mountPoint, roots))
      .sort((a, b) => b.length - a.length);
    if (left.length === 0) break;
    for (const mountPoint of new Set(left)) {
      // A parent's lazy unmount may already have taken this one along: ignore its error, the next round re-reads.
      await run('umount', ['-l', mountPoint]).then(
        () => unmounted.push(mountPoint),
        () => undefined,
      );
    }
  }
  return unmounted;
}

/**
 * Detaches every loop device whose backing file lies under `root`, read from
 * /sys/block/loop*\/loop/backing_file. Returns the devices detached.
 */
export async function detachLoopDevicesUnder(root: string): Promise<string[]> {
  const roots = await realPaths([root]);
  const devices = (await fs.readdir('/sys/block').catch(() => [] as string[])).filter((name) => /^loop\d+$/.test(name));
  const detached: string[] = [];
  for (const device of devices) {
    const backing = await fs.readFile(`/sys/block/${device}/loop/backing_file`, 'utf8').catch(() => '');
    const file = backing.trim().replace(/ \(deleted\)$/, '');
    if (file === '' || !isUnder(file, roots)) continue;
    await run('losetup', ['-d', `/dev/${device}`]).then(
      () => detached.push(`/dev/${device}`),
      () => undefined,
    );
  }
  return detached;
}

/**
 * Undoes what a driver under test may have left: mounts under `dirs` (the
 * suite's mount and staging folders, the driver's root), then loop devices
 * backed by files under `driverRoot`.
 */
export async function releaseDriverLeftovers(options: { dirs: readonly string[]; driverRoot: string }): Promise<DriverLeftovers> {
  const unmounted = await unmountAllUnder([...options.dirs, options.driverRoot]);
  const detached = await detachLoopDevicesUnder(options.driverRoot);
  return { unmounted, detached };
}
