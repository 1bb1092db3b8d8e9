import fs from 'node:fs';
import type { OciCapabilities } from './oci-spec.js';

/**
 * The capabilities a container gets unless told otherwise: the set containerd
 * (and Docker) give runc containers (containerd/containerd oci/spec.go v1.6,
 * defaultUnixCaps), which is what CRI clients expect of a runtime.
 */
export const defaultCapabilities: readonly string[] = [
  'CAP_CHOWN', 'CAP_DAC_OVERRIDE', 'CAP_FSETID', 'CAP_FOWNER', 'CAP_MKNOD', 'CAP_NET_RAW', 'CAP_SETGID',
  'CAP_SETUID', 'CAP_SETFCAP', 'CAP_SETPCAP', 'CAP_NET_BIND_SERVICE', 'CAP_SYS_CHROOT', 'CAP_KILL', 'CAP_AUDIT_WRITE',
];

/** Every capability Linux defines up to CAP_CHECKPOINT_RESTORE (40), in number order. */
export const allCapabilities: readonly string[] = [
  'CAP_CHOWN', 'CAP_DAC_OVERRIDE', 'CAP_DAC_READ_SEARCH', 'CAP_FOWNER', 'CAP_FSETID', 'CAP_KILL', 'CAP_SETGID',
  'CAP_SETUID', 'CAP_SETPCAP', 'CAP_LINUX_IMMUTABLE', 'CAP_NET_BIND_SERVICE', 'CAP_NET_BROADCAST', 'CAP_NET_ADMIN',
  'CAP_NET_RAW', 'CAP_IPC_LOCK', 'CAP_IPC_OWNER', 'CAP_SYS_MODULE', 'CAP_SYS_RAWIO', 'CAP_SYS_CHROOT', 'CAP_SYS_PTRACE',
  'CAP_SYS_PACCT', 'CAP_SYS_ADMIN', 'CAP_SYS_BOOT', 'CAP_SYS_NICE', 'CAP_SYS_RESOURCE', 'CAP_SYS_TIME',
  'CAP_SYS_TTY_CONFIG', 'CAP_MKNOD', 'CAP_LEASE', 'CAP_AUDIT_WRITE', 'CAP_AUDIT_CONTROL', 'CAP_SETFCAP',
  'CAP_MAC_OVERRIDE', 'CAP_MAC_ADMIN', 'CAP_SYSLOG', 'CAP_WAKE_ALARM', 'CAP_BLOCK_SUSPEND', 'CAP_AUDIT_READ',
  'CAP_PERFMON', 'CAP_BPF', 'CAP_CHECKPOINT_RESTORE',
];

/** CRI names capabilities without the prefix ("NET_ADMIN"); the runtime wants "CAP_NET_ADMIN". */
function capabilityName(name: string): string {
  const upper = name.toUpperCase();
  return upper.startsWith('CAP_') ? upper : `CAP_${upper}`;
}

/**
 * The capabilities this process holds (effective and bounding, from
 * /proc/self/status), by name: all a container it starts can be given. A
 * runtime inside a container may lack some (CAP_SYS_RESOURCE, say), and
 * runc refuses a spec asking for more ("unable to apply caps"), which is
 * why containerd gives privileged containers the current process's set.
 */
export function currentProcessCapabilities(statusText?: string): string[] {
  const text = statusText ?? fs.readFileSync('/proc/self/status', 'utf8');
  const mask = (key: string): bigint => {
    const line = text.split('\n').find((candidate) => candidate.startsWith(`${key}:`));
    const hex = line?.slice(key.length + 1).trim() ?? '';
    return /^[0-9a-f]+$/i.test(hex) ? BigInt(`0x${hex}`) : 0n;
  };
  const held = mask('CapEff') & mask('CapBnd');
  return allCapabilities.filter((_, bit) => ((held >> BigInt(bit)) & 1n) === 1n);
}

/**
 * The capability set after CRI's add and drop lists, as containerd applies
 * them: "ALL" in add starts from every capability, "ALL" in drop from none,
 * then the named ones are added and dropped (so add ALL + drop CHOWN is all
 * but CHOWN). Privileged containers get every capability. "Every" means
 * every one `available` holds (by default this process's own, see
 * currentProcessCapabilities).
 * @see CRI-CONTAINER-050
 */
export function containerCapabilities(o: { add?: readonly string[]; drop?: readonly string[]; privileged?: boolean; available?: readonly string[] }): OciCapabilities {
  const add = o.add ?? [];
  const drop = o.drop ?? [];
  const isAll = (name: string): boolean => name.toUpperCase() === 'ALL';
  let set: string[];
  if (o.privileged === true || add.some(isAll)) set = [...(o.available ?? currentProcessCapabilities())];
  else set = [...defaultCapabilities];
  if (o.privileged !== true) {
    if (drop.some(isAll)) set = [];
    for (const name of add) if (!isAll(name) && !set.includes(capabilityName(name))) set.push(capabilityName(name));
    const dropped = new Set(drop.filter((name) => !isAll(name)).map(capabilityName));
    set = set.filter((name) => !dropped.has(name));
  }
  return { bounding: [...set], effective: [...set], permitted: [...set], inheritable: [], ambient: [] };
}
