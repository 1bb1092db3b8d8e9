import { randomBytes } from 'node:crypto';

/** A new sandbox or container ID: 64 random hex characters, as containerd makes them. */
export function newObjectId(): string {
  return randomBytes(32).toString('hex');
}

/** Now, in nanoseconds since the Unix epoch (the CRI's timestamps), with sub-millisecond resolution. */
export function nowNs(): bigint {
  return BigInt(Math.round(performance.timeOrigin * 1000 + performance.now() * 1000)) * 1000n;
}
