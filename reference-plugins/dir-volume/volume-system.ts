/**
 * What the dir-volume driver asks of the operating system to make volumes
 * real: mounts, loop devices and a few e2fsprogs commands. Two
 * implementations: through the resident mount server (system calls, the fast
 * path) and through mount(8), umount(8) and losetup(8) child processes
 * (when the server cannot be built or run). Both are safe to call
 * concurrently and never pass request text through a shell.
 */
export interface VolumeSystem {
  mount(request: MountRequest): Promise<void>;
  /** Unmounts the filesystem at target; `lazy` detaches it even while busy (MNT_DETACH). */
  unmount(target: string, options?: { readonly lazy?: boolean }): Promise<void>;
  /** Attaches a file to a free loop device and returns `/dev/loopN`; the caller detaches it. */
  attachLoop(file: string, options: { readonly readOnly: boolean }): Promise<string>;
  /** Detaches a loop device; one already detached is success. */
  detachLoop(device: string): Promise<void>;
  /** Runs a command (argv, no shell) and resolves with its output; rejects on a non-zero exit. */
  run(argv: readonly string[]): Promise<string>;
  /** Stops what the implementation started. */
  close(): Promise<void>;
}

/** A mount as the driver states it; options in mount(8)'s words. */
export interface MountRequest {
  readonly source: string;
  readonly target: string;
  /** Empty for a bind mount. */
  readonly fsType?: string;
  readonly bind?: boolean;
  /** mount(8) options: generic ones (`ro`, `noexec`, …) become flags, the rest go to the filesystem. */
  readonly options?: readonly string[];
}

/** A system call or command that failed; `code` is the errno name (`EBUSY`) where there is one. */
export class VolumeSystemError extends Error {
  readonly code: string;
  readonly operation: string;

  constructor(options: { operation: string; code: string; message: string; cause?: unknown }) {
    super(`${options.operation}: ${options.message}`, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'VolumeSystemError';
    this.code = options.code;
    this.operation = options.operation;
  }
}

/** Linux mount(2) flags for the generic mount(8) options, from <sys/mount.h>. */
export const mountFlagBits = {
  ro: 1,
  rw: 0,
  nosuid: 2,
  nodev: 4,
  noexec: 8,
  sync: 16,
  remount: 32,
  dirsync: 128,
  noatime: 1024,
  nodiratime: 2048,
  bind: 4096,
  rec: 16384,
  relatime: 1 << 21,
  lazytime: 1 << 25,
} as const;

/** Splits mount(8) options into mount(2) flags and the filesystem's data string. */
export function mountFlagsOf(request: MountRequest): { flags: number; data: string } {
  let flags = request.bind === true ? mountFlagBits.bind : 0;
  const data: string[] = [];
  for (const option of request.options ?? []) {
    if (Object.hasOwn(mountFlagBits, option)) flags |= mountFlagBits[option as keyof typeof mountFlagBits];
    else data.push(option);
  }
  return { flags, data: data.join(',') };
}
