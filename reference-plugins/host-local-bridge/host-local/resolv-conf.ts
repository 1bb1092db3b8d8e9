import fs from 'node:fs/promises';
import type { Dns } from '../../../specs/cni/types.js';
import { ioFailure } from './host-local-errors.js';

/**
 * Turns resolv.conf text into CNI DNS settings: `nameserver` and `domain`
 * take their first argument, `search` and `options` all of them; comments
 * (`#`, `;`) and lines without an argument are skipped.
 * @see containernetworking/plugins plugins/ipam/host-local/dns.go (parseResolvConf)
 */
export function parseResolvConf(text: string): Dns {
  const dns: Dns = {};
  for (const rawLine of text.split('\n')) {
    const line = rawLine.trim();
    if (line === '' || line.startsWith('#') || line.startsWith(';')) continue;
    const [keyword, ...values] = line.split(/\s+/);
    const first = values[0];
    if (first === undefined) continue;
    switch (keyword) {
      case 'nameserver':
        (dns.nameservers ??= []).push(first);
        break;
      case 'domain':
        dns.domain = first;
        break;
      case 'search':
        (dns.search ??= []).push(...values);
        break;
      case 'options':
        (dns.options ??= []).push(...values);
        break;
    }
  }
  return dns;
}

/** Reads and parses a resolv.conf file; a file that cannot be read is IO_FAILURE. */
export async function readResolvConf(file: string): Promise<Dns> {
  try {
    return parseResolvConf(await fs.readFile(file, 'utf8'));
  } catch (error) {
    throw ioFailure(`read resolvConf ${file}`, error);
  }
}
