/**
 * What `kubeplug certify all` needs from the machine before it starts
 * anything: root, working network namespaces, a build, and the executables
 * of the Debian packages its parts run. Each missing one is named with the
 * package that brings it, so a fresh machine is one `apt-get install` away.
 */
import { execFile } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { upstreamCniPlugins } from '../../conformance/peers/cni-setup.js';
import { findOnPath } from '../../conformance/peers/system-scan.js';
import { packageRoot } from '../../specs/registry/index.js';
import type { NodeParts } from './node-parts.js';

/** An executable one of the parts runs, and where it comes from. */
interface NeededExecutable {
  /** A command looked up on PATH, or an absolute path. */
  readonly command: string;
  readonly debianPackage: string;
  /** Which part needs it, in words. */
  readonly neededBy: string;
}

/** Every executable, by the parts that need it; a part the user brings needs none of ours. */
function neededExecutables(parts: NodeParts): NeededExecutable[] {
  const needed: NeededExecutable[] = [
    { command: 'ip', debianPackage: 'iproute2', neededBy: 'network namespaces' },
    { command: 'nsenter', debianPackage: 'util-linux', neededBy: 'entering the node' },
    { command: 'unshare', debianPackage: 'util-linux', neededBy: 'the node\'s mount namespace' },
    { command: 'setpriv', debianPackage: 'util-linux', neededBy: 'stopping children with the harness' },
    { command: 'mount', debianPackage: 'mount', neededBy: 'mounts' },
    { command: 'umount', debianPackage: 'mount', neededBy: 'mounts' },
  ];
  // The CNI suite reads each namespace's rules and sends real pings whoever's plugins it certifies.
  needed.push(
    { command: 'iptables-save', debianPackage: 'iptables', neededBy: 'the CNI suite' },
    { command: 'ping', debianPackage: 'iputils-ping', neededBy: 'the CNI suite' },
  );
  if (parts.csi.kind === 'ours') {
    needed.push(
      { command: 'losetup', debianPackage: 'mount', neededBy: 'the dir-volume driver' },
      { command: 'mkfs.ext4', debianPackage: 'e2fsprogs', neededBy: 'the dir-volume driver' },
    );
  }
  // The CRI and kubelet suites push their test images (busybox) to a registry of their own; the kubelet's node always runs our runtime on runc.
  if (parts.cri.kind === 'ours') {
    needed.push({ command: upstreamCniPlugins()?.portmap ?? '/usr/lib/cni/portmap', debianPackage: 'containernetworking-plugins', neededBy: "the runtime's host ports" });
  }
  needed.push(
    { command: '/usr/bin/docker-registry', debianPackage: 'docker-registry', neededBy: 'the CRI and kubelet suites\' registry' },
    { command: '/bin/busybox', debianPackage: 'busybox-static', neededBy: 'the CRI and kubelet suites\' test images' },
    { command: 'runc', debianPackage: 'runc', neededBy: 'the process runtime' },
  );
  return needed;
}

function present(command: string): boolean {
  if (!path.isAbsolute(command)) return findOnPath(command) !== undefined;
  try {
    fs.accessSync(command, fs.constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

/** Whether `ip netns list` runs (it fails without root or without namespace support). */
function netnsWorks(): Promise<boolean> {
  return new Promise((resolve) => execFile('ip', ['netns', 'list'], { timeout: 10_000 }, (error) => resolve(error === null)));
}

/**
 * The reasons `certify all` cannot run here, each naming what is missing
 * (and the Debian package for an executable); empty when it can run.
 */
export async function missingPrerequisites(parts: NodeParts): Promise<string[]> {
  if (process.platform !== 'linux') return ['needs Linux (network and mount namespaces)'];
  const missing: string[] = [];
  if (process.getuid?.() !== 0) {
    missing.push('needs root (uid 0): the node is made of network and mount namespaces, cgroups and mounts');
  }
  const absent = neededExecutables(parts).filter((needed) => !present(needed.command));
  const packages = [...new Set(absent.map((needed) => needed.debianPackage))];
  if (absent.length > 0) {
    missing.push(
      `missing ${absent.map((needed) => `${needed.command} (${needed.neededBy}; Debian package ${needed.debianPackage})`).join(', ')}: apt-get install ${packages.join(' ')}`,
    );
  }
  if (missing.length === 0 && !absent.some((needed) => needed.command === 'ip') && !(await netnsWorks())) {
    missing.push('`ip netns list` fails: the kernel or this container does not allow network namespaces');
  }
  const built = [path.join('dist', 'runner', 'cli.js'), ...(parts.cni.kind === 'ours' ? [path.join('dist', 'cni-bin', 'kubeplug-bridge'), path.join('dist', 'cni-bin', 'kubeplug-host-local')] : [])];
  const unbuilt = built.filter((file) => !fs.existsSync(path.join(packageRoot(), file)));
  if (unbuilt.length > 0) missing.push(`${unbuilt.join(', ')} not built: run npm run build`);
  return missing;
}
