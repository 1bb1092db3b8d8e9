import fs from 'node:fs/promises';
import type { IpFamily } from './ip-address.js';
import type { SysctlWrite } from './command-launcher.js';

/**
 * Sysctls the bridge plugin sets. Files under /proc/sys/net belong to the
 * network namespace of the process that opens them: the plugin writes the
 * node's directly (it runs in the node's namespace), and hands the
 * container's to runIp's `sysctls`, which writes them from inside.
 */

/** The file of a per-interface sysctl; names may hold dots, which only the file form keeps intact. */
export function interfaceSysctl(family: 'ipv4' | 'ipv6', ifName: string, key: string): string {
  return `/proc/sys/net/${family}/conf/${ifName}/${key}`;
}

/** Writes a sysctl of our own namespace, ignoring failures as upstream does for such tuning (it is best effort). */
export async function writeOwnSysctlBestEffort(file: string, value: string): Promise<void> {
  try {
    await fs.writeFile(file, value);
  } catch {
    // The file may not exist (IPv6 disabled on the node); upstream ignores this too.
  }
}

/**
 * Turns on forwarding for a family in our own namespace, writing only when
 * it is off (upstream pkg/ip/ipforward_linux.go). Failures are real errors.
 */
export async function enableForwarding(family: IpFamily): Promise<void> {
  const file = family === '4' ? '/proc/sys/net/ipv4/ip_forward' : '/proc/sys/net/ipv6/conf/all/forwarding';
  const current = await fs.readFile(file, 'utf8').catch(() => '');
  if (current.trim() !== '1') await fs.writeFile(file, '1');
}

/**
 * The container-side sysctls upstream sets before addressing the interface
 * (plugins/main/bridge/bridge.go cmdAdd and pkg/ipam/ipam_linux.go):
 * gratuitous ARP on changes, DAD off unless asked for, and for IPv6 the
 * interface and loopback enabled and addresses kept when the link goes down.
 */
export function containerSysctls(ifName: string, options: { enableDad: boolean; hasIpv6: boolean }): SysctlWrite[] {
  const writes: SysctlWrite[] = [];
  if (options.enableDad) {
    writes.push({ path: interfaceSysctl('ipv6', ifName, 'enhanced_dad'), value: '1' }, { path: interfaceSysctl('ipv6', ifName, 'accept_dad'), value: '1' });
  } else {
    writes.push({ path: interfaceSysctl('ipv6', ifName, 'accept_dad'), value: '0' });
  }
  writes.push({ path: interfaceSysctl('ipv4', ifName, 'arp_notify'), value: '1' });
  if (options.hasIpv6) {
    writes.push(
      { path: interfaceSysctl('ipv6', 'lo', 'disable_ipv6'), value: '0' },
      { path: interfaceSysctl('ipv6', ifName, 'disable_ipv6'), value: '0' },
      { path: interfaceSysctl('ipv6', ifName, 'keep_addr_on_down'), value: '1' },
    );
  }
  return writes;
}
