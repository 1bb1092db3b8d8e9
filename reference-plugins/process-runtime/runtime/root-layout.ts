import path from 'node:path';

/** Where everything lives under the runtime's `--root` (see the plan in the runtime's index). */
export interface RootLayout {
  readonly root: string;
  readonly imagesDir: string;
  readonly sandboxesDir: string;
  readonly containersDir: string;
  /** runc/crun `--root`. */
  readonly ociStateDir: string;
  /** libcni-format result cache. */
  readonly cniCacheDir: string;
}

/** The folders of a runtime root. */
export function rootLayout(root: string): RootLayout {
  const resolved = path.resolve(root);
  return {
    root: resolved,
    imagesDir: path.join(resolved, 'images'),
    sandboxesDir: path.join(resolved, 'sandboxes'),
    containersDir: path.join(resolved, 'containers'),
    ociStateDir: path.join(resolved, 'oci'),
    cniCacheDir: path.join(resolved, 'cni', 'cache'),
  };
}

/** The files of one sandbox. */
export function sandboxPaths(layout: RootLayout, id: string) {
  const dir = path.join(layout.sandboxesDir, id);
  return {
    dir,
    record: path.join(dir, 'sandbox.json'),
    hostname: path.join(dir, 'hostname'),
    hosts: path.join(dir, 'hosts'),
    resolvConf: path.join(dir, 'resolv.conf'),
    netns: path.join(dir, 'netns'),
    /** The tmpfs the pod's containers share as /dev/shm (with the pod's IPC namespace). */
    shm: path.join(dir, 'shm'),
    bundle: path.join(dir, 'bundle'),
    exitFile: path.join(dir, 'exit'),
    shimPidFile: path.join(dir, 'shim.pid'),
  } as const;
}

/** The files of one container. */
export function containerPaths(layout: RootLayout, id: string) {
  const dir = path.join(layout.containersDir, id);
  return {
    dir,
    record: path.join(dir, 'container.json'),
    bundle: path.join(dir, 'bundle'),
    rootfs: path.join(dir, 'bundle', 'rootfs'),
    upper: path.join(dir, 'upper'),
    work: path.join(dir, 'work'),
    exitFile: path.join(dir, 'exit'),
    shimPidFile: path.join(dir, 'shim.pid'),
  } as const;
}

/** Sandbox and container IDs: 64 lower-case hex characters, as containerd's. */
export const idPattern = /^[0-9a-f]{64}$/;
