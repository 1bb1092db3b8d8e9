/**
 * Device nodes for a container's /dev and the device cgroup rules that let
 * the container use them: CRI `devices` entries (a node or a folder of
 * nodes on the host) and, for privileged containers, every node of the
 * host's /dev, as containerd does (containerd/containerd oci/utils_unix.go
 * HostDevices and pkg/cri/opts/spec_linux.go WithDevices, v1.6).
 */
import fs from 'node:fs';
import path from 'node:path';
import type { OciDevice, OciDeviceRule } from './oci-spec.js';

/** A CRI `Device`: a host node (or folder of nodes) and where and how the container gets it. */
export interface DeviceInput {
  containerPath: string;
  hostPath: string;
  /** Any of "r", "w", "m" (device cgroup access); empty means all three. */
  permissions?: string;
}

/** A device entry that cannot be given: no such host path, not a device, or bad permissions. */
export class DeviceError extends Error {
  readonly hostPath: string;

  constructor(options: { hostPath: string; message: string; cause?: unknown }) {
    super(options.message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'DeviceError';
    this.hostPath = options.hostPath;
  }
}

/** The spec entries for some devices: the nodes to create and the cgroup rules allowing them. */
export interface ContainerDevices {
  devices: OciDevice[];
  rules: OciDeviceRule[];
}

/** Folders of the host's /dev that hold no device a container should inherit (containerd skips the same). */
const skippedHostFolders = new Set(['pts', 'shm', 'fd', 'mqueue', '.lxc', '.lxd-mounts', '.udev']);

/** Linux's dev_t split (glibc gnu_dev_major/minor), on the 64-bit value. */
function majorMinor(rdev: bigint): { major: number; minor: number } {
  const major = ((rdev >> 8n) & 0xfffn) | ((rdev >> 32n) & ~0xfffn);
  const minor = (rdev & 0xffn) | ((rdev >> 12n) & ~0xffn);
  return { major: Number(major), minor: Number(minor) };
}

/** The device at `file` (symlinks followed), or undefined when it is not a character or block device. */
function deviceAt(file: string, destination: string): OciDevice | undefined {
  const stat = fs.statSync(file, { bigint: true });
  let type: OciDevice['type'];
  if (stat.isCharacterDevice()) type = 'c';
  else if (stat.isBlockDevice()) type = 'b';
  else return undefined;
  return { path: destination, type, ...majorMinor(stat.rdev), fileMode: Number(stat.mode & 0o7777n), uid: Number(stat.uid), gid: Number(stat.gid) };
}

/** Every device under `folder` (recursively, skipping `skip` folder names), placed under `destination`. */
function devicesUnder(folder: string, destination: string, skip: ReadonlySet<string>): OciDevice[] {
  const found: OciDevice[] = [];
  for (const entry of fs.readdirSync(folder, { withFileTypes: true })) {
    const source = path.join(folder, entry.name);
    const target = path.join(destination, entry.name);
    if (entry.isDirectory()) {
      if (!skip.has(entry.name)) found.push(...devicesUnder(source, target, new Set()));
      continue;
    }
    // Symlinks (/dev/stdin, /dev/core, …) are left out, as containerd does: the container's /dev has its own.
    if (!entry.isCharacterDevice() && !entry.isBlockDevice()) continue;
    try {
      const device = deviceAt(source, target);
      if (device !== undefined) found.push(device);
    } catch {
      // Removed while we walked: not a device to give.
    }
  }
  return found;
}

const accessPattern = /^[rwm]*$/;

function ruleFor(device: OciDevice, access: string): OciDeviceRule {
  return { allow: true, type: device.type === 'b' ? 'b' : 'c', major: device.major, minor: device.minor, access };
}

/**
 * The CRI `devices` of a container: each host path a device node (given at
 * its container path) or a folder whose device nodes are given under the
 * container path; each allowed in the device cgroup with its permissions.
 * @throws DeviceError for a missing host path, a file that is not a device, a folder holding none, or permissions other than r, w, m
 * @see CRI-CONTAINER-065
 */
export function containerDevices(inputs: readonly DeviceInput[]): ContainerDevices {
  const result: ContainerDevices = { devices: [], rules: [] };
  for (const input of inputs) {
    const access = input.permissions === undefined || input.permissions === '' ? 'rwm' : input.permissions;
    if (!accessPattern.test(access)) throw new DeviceError({ hostPath: input.hostPath, message: `device ${input.hostPath}: permissions ${JSON.stringify(access)} are not made of r, w and m` });
    if (!path.isAbsolute(input.containerPath)) throw new DeviceError({ hostPath: input.hostPath, message: `device ${input.hostPath}: container path ${JSON.stringify(input.containerPath)} is not absolute` });
    let stat: fs.Stats;
    try {
      stat = fs.statSync(input.hostPath);
    } catch (error) {
      throw new DeviceError({ hostPath: input.hostPath, message: `device ${input.hostPath}: ${(error as Error).message}`, cause: error });
    }
    const devices = stat.isDirectory() ? devicesUnder(input.hostPath, input.containerPath, new Set()) : [deviceAt(input.hostPath, input.containerPath)].filter((d): d is OciDevice => d !== undefined);
    if (devices.length === 0) throw new DeviceError({ hostPath: input.hostPath, message: `device ${input.hostPath}: not a character or block device${stat.isDirectory() ? ' folder' : ''}` });
    for (const device of devices) {
      result.devices.push(device);
      result.rules.push(ruleFor(device, access));
    }
  }
  return result;
}

/**
 * Every device node of the host's /dev (as this process sees it), for a
 * privileged container; /dev/pts, /dev/shm, /dev/mqueue and the console are
 * left to the container's own /dev.
 * @see CRI-CONTAINER-051
 */
export function hostDevices(devRoot = '/dev'): OciDevice[] {
  return devicesUnder(devRoot, '/dev', skippedHostFolders).filter((device) => device.path !== '/dev/console');
}
