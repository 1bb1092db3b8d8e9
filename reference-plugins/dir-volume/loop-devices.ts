import fs from 'node:fs/promises';
import type { MountEntry } from './mount-table.js';

/** An attached loop device, as sysfs describes it. */
export interface LoopDevice {
  /** `/dev/loopN`. */
  readonly path: string;
  /** `loopN`. */
  readonly name: string;
  /** `major:minor`, as mountinfo prints devices. */
  readonly device: string;
  readonly backingFile: string;
  readonly readOnly: boolean;
}

async function readSysfs(file: string): Promise<string | undefined> {
  try {
    return (await fs.readFile(file, 'utf8')).trim();
  } catch {
    return undefined;
  }
}

/**
 * Every attached loop device, read from /sys/block (no subprocess). A device
 * whose backing file was unlinked reports it with a ` (deleted)` suffix,
 * which is kept so it matches no live image.
 */
export async function listLoopDevices(): Promise<LoopDevice[]> {
  const names = (await fs.readdir('/sys/block')).filter((name) => /^loop\d+$/.test(name));
  const devices = await Promise.all(
    names.map(async (name): Promise<LoopDevice | undefined> => {
      const backingFile = await readSysfs(`/sys/block/${name}/loop/backing_file`);
      if (backingFile === undefined) return undefined;
      const [device, readOnly] = await Promise.all([readSysfs(`/sys/block/${name}/dev`), readSysfs(`/sys/block/${name}/ro`)]);
      return { path: `/dev/${name}`, name, device: device ?? '', backingFile, readOnly: readOnly === '1' };
    }),
  );
  return devices.filter((device): device is LoopDevice => device !== undefined);
}

/** The loop devices backed by `file`. */
export function loopsBackedBy(devices: readonly LoopDevice[], file: string): LoopDevice[] {
  return devices.filter((device) => device.backingFile === file);
}

/**
 * The loop device a mount shows: the device of a filesystem mounted from a
 * loop device, or the node itself when /dev/loopN is bind-mounted onto a file
 * (then mountinfo's root is `/loopN`).
 */
export function loopOfMount(devices: readonly LoopDevice[], mount: MountEntry): LoopDevice | undefined {
  const bound = /^\/(loop\d+)$/.exec(mount.root);
  if (bound !== null && (mount.fsType === 'devtmpfs' || mount.fsType === 'tmpfs')) {
    return devices.find((device) => device.name === bound[1]);
  }
  return devices.find((device) => device.device === mount.device);
}
