import fs from 'node:fs/promises';
import os from 'node:os';
import type { PodSandboxConfig } from '../../../specs/cri/index.js';
import { writeFileDurably } from './durable-files.js';

/** The files every container of a pod mounts: /etc/hostname, /etc/hosts, /etc/resolv.conf. */
export interface PodFiles {
  readonly hostname: string;
  readonly hosts: string;
  readonly resolvConf: string;
}

/** The pod's hostname: the config's, or the node's for a host-network pod that names none. */
export function podHostname(config: PodSandboxConfig, hostNetwork: boolean): string {
  if (config.hostname !== '') return config.hostname;
  return hostNetwork ? os.hostname() : (config.metadata?.name ?? 'localhost');
}

/** resolv.conf from the DNS config, or the node's own when the pod gives none (as containerd). */
async function resolvConfText(config: PodSandboxConfig): Promise<string> {
  const dns = config.dnsConfig;
  if (dns === undefined || (dns.servers.length === 0 && dns.searches.length === 0 && dns.options.length === 0)) {
    try {
      return await fs.readFile('/etc/resolv.conf', 'utf8');
    } catch {
      return '';
    }
  }
  const lines: string[] = [];
  if (dns.searches.length > 0) lines.push(`search ${dns.searches.join(' ')}`);
  for (const server of dns.servers) lines.push(`nameserver ${server}`);
  if (dns.options.length > 0) lines.push(`options ${dns.options.join(' ')}`);
  return `${lines.join('\n')}\n`;
}

/**
 * Writes the pod's hostname, hosts and resolv.conf files (mode 0644,
 * readable by any container user); hosts names the pod's IP when it has one.
 */
export async function writePodFiles(files: PodFiles, config: PodSandboxConfig, hostNetwork: boolean, ip: string | undefined): Promise<void> {
  const hostname = podHostname(config, hostNetwork);
  await writeFileDurably(files.hostname, `${hostname}\n`, 0o644);
  const hosts = hostNetwork
    ? await fs.readFile('/etc/hosts', 'utf8').catch(() => '127.0.0.1\tlocalhost\n')
    : `127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\nfe00::0\tip6-localnet\nff00::0\tip6-mcastprefix\nff02::1\tip6-allnodes\nff02::2\tip6-allrouters\n${ip === undefined ? '' : `${ip}\t${hostname}\n`}`;
  await writeFileDurably(files.hosts, hosts, 0o644);
  await writeFileDurably(files.resolvConf, await resolvConfText(config), 0o644);
}
