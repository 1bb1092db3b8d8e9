/**
 * Checks that a CRI mount's propagation can work from where its host path
 * sits, as containerd does before it writes the spec
 * (containerd/containerd pkg/cri/opts/spec_linux.go ensureShared and
 * ensureSharedOrSlave, v1.6): mounts only propagate out of a bind whose
 * source is on a shared mount, and only into one on a shared or slave mount.
 */
import fs from 'node:fs';

/** A mount whose propagation the host path's mount cannot give. */
export class MountPropagationError extends Error {
  readonly hostPath: string;

  constructor(options: { hostPath: string; message: string }) {
    super(options.message);
    this.name = 'MountPropagationError';
    this.hostPath = options.hostPath;
  }
}

/** The mount of mountinfo holding a path, with its propagation fields ("shared:N", "master:N"). */
export interface MountOf {
  mountPoint: string;
  propagation: string[];
}

/** Undoes the octal escapes of mountinfo paths (\040 for a space). */
function unescape(field: string): string {
  return field.replace(/\\([0-7]{3})/g, (_, octal: string) => String.fromCharCode(Number.parseInt(octal, 8)));
}

/**
 * The mount (of this process's mount namespace) that holds `file`: the
 * longest mount point prefixing its real path; the last one mounted when
 * several share it (the visible one).
 */
export function mountOf(file: string, mountinfo: string = fs.readFileSync('/proc/self/mountinfo', 'utf8')): MountOf {
  const target = fs.realpathSync(file);
  let best: MountOf | undefined;
  for (const line of mountinfo.split('\n')) {
    const [before] = line.split(' - ');
    const fields = (before ?? '').split(' ');
    if (fields.length < 6) continue;
    const mountPoint = unescape(fields[4] ?? '');
    const inside = mountPoint === '/' || target === mountPoint || target.startsWith(`${mountPoint}/`);
    if (!inside) continue;
    if (best === undefined || mountPoint.length >= best.mountPoint.length) best = { mountPoint, propagation: fields.slice(6) };
  }
  if (best === undefined) throw new MountPropagationError({ hostPath: file, message: `no mount holds ${file}` });
  return best;
}

/**
 * Throws unless the host path of a mount with the given propagation lies on
 * a mount that can give it: bidirectional needs a shared mount,
 * host-to-container a shared or slave one; private needs nothing.
 * @throws MountPropagationError naming the mount and what it lacks
 * @see CRI-CONTAINER-060
 * @see CRI-CONTAINER-061
 */
export function checkMountPropagation(o: { hostPath: string; propagation: 'private' | 'host-to-container' | 'bidirectional'; mountinfo?: string }): void {
  if (o.propagation === 'private') return;
  let mount: MountOf;
  try {
    mount = mountOf(o.hostPath, o.mountinfo);
  } catch (error) {
    if (error instanceof MountPropagationError) throw error;
    // A missing host path is reported by the runtime when it binds it.
    return;
  }
  const shared = mount.propagation.some((field) => field.startsWith('shared:'));
  const slave = mount.propagation.some((field) => field.startsWith('master:'));
  if (o.propagation === 'bidirectional' && !shared) {
    throw new MountPropagationError({ hostPath: o.hostPath, message: `bidirectional mount of ${o.hostPath}: it lies on ${mount.mountPoint}, which is not a shared mount in the runtime's mount namespace` });
  }
  if (o.propagation === 'host-to-container' && !shared && !slave) {
    throw new MountPropagationError({ hostPath: o.hostPath, message: `host-to-container mount of ${o.hostPath}: it lies on ${mount.mountPoint}, which is neither a shared nor a slave mount in the runtime's mount namespace` });
  }
}
