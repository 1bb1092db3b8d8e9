// The contract's modules rather than its index, which also loads the invoker: start-up is most of an ADD.
import { CniError } from '../../../specs/cni/cni-error.js';
import { toResult100 } from '../../../specs/cni/result-conversion.js';
import type { GcRequest, PluginDefinition, PluginHandlers, PluginRequest } from '../../../specs/cni/skeleton.js';
import type { Dns, Result100 } from '../../../specs/cni/types.js';
import { cniSupportedVersions } from '../../../specs/cni/versions.js';
import { allocateAddress, freeAddressCount, type Allocation } from './allocator.js';
import { withDiskStore, type DiskStoreOptions } from './disk-store.js';
import type { FileLocker } from './file-lock.js';
import { hostLocalError, invalidField, ioFailure } from './host-local-errors.js';
import { formatIp, parseCidr, sameIp, type IpAddress } from './ip-address.js';
import { loadHostLocalConfig, type HostLocalConfig } from './ipam-config.js';
import { formatRangeSet, rangeSetContains } from './range-set.js';
import type { ReservationStore } from './reservation-store.js';
import { heldBy, reservationsToRelease, type Owner, type Reservation } from './reservation.js';
import { readResolvConf } from './resolv-conf.js';

function ownerOf(request: PluginRequest): Owner {
  return { containerId: request.containerId, ifName: request.ifName };
}

/** Releases what a failed ADD reserved, newest first; its own failures must not hide the ADD's error. */
async function rollBack(store: ReservationStore, done: readonly Allocation[]): Promise<void> {
  for (const allocation of [...done].reverse()) {
    await store.release(allocation.reservation).catch(() => undefined);
  }
}

/** Releases each reservation, going on after a failure, and reports every failure at the end. */
async function releaseAll(store: ReservationStore, reservations: readonly Reservation[], verb: string): Promise<void> {
  const failures: string[] = [];
  for (const reservation of reservations) {
    try {
      await store.release(reservation);
    } catch (error) {
      failures.push(CniError.from(error).message);
    }
  }
  if (failures.length > 0) throw ioFailure(`release every reservation in ${verb}`, new Error(failures.join('; ')));
}

function storeOptions(config: HostLocalConfig, locker: FileLocker | undefined): DiskStoreOptions {
  return locker === undefined ? config : { ...config, locker };
}

async function dnsOf(config: HostLocalConfig): Promise<Dns | undefined> {
  // ipam.dns is kubeplug's addition; resolvConf is upstream's, read only when ipam.dns is absent.
  if (config.dns !== undefined) return config.dns;
  return config.resolvConf === undefined ? undefined : readResolvConf(config.resolvConf);
}

/**
 * ADD: one address from every range set (the requested one where a request
 * falls in the set), all or nothing: a failure releases what this ADD took.
 * @see containernetworking/plugins plugins/ipam/host-local/main.go (cmdAdd)
 */
async function add(request: PluginRequest, locker: FileLocker | undefined): Promise<Result100> {
  const config = loadHostLocalConfig(request.conf, request.args);
  const dns = await dnsOf(config);
  const owner = ownerOf(request);
  const allocations = await withDiskStore(storeOptions(config, locker), async (store) => {
    const reservations = await store.scan();
    const unclaimed = [...config.requestedAddresses];
    const done: Allocation[] = [];
    try {
      for (const [rangeSetIndex, rangeSet] of config.rangeSets.entries()) {
        const at = unclaimed.findIndex((requested) => rangeSetContains(rangeSet, requested.ip));
        const requested = at < 0 ? undefined : unclaimed.splice(at, 1)[0];
        done.push(await allocateAddress({ store, rangeSet, rangeSetIndex, owner, reservations, ...(requested === undefined ? {} : { requested }) }));
      }
      if (unclaimed.length > 0) {
        throw hostLocalError(
          'REQUESTED_ADDRESS_UNAVAILABLE',
          `failed to allocate all requested IPs: ${unclaimed.map((requested) => formatIp(requested.ip)).join(' ')}`,
          `no range set holds them, or another request took their range set (${unclaimed.map((requested) => requested.source).join(', ')})`,
        );
      }
      return done;
    } catch (error) {
      await rollBack(store, done);
      throw error;
    }
  });
  return {
    cniVersion: '1.1.0',
    ips: allocations.map((allocation) => ({ address: `${formatIp(allocation.ip)}/${allocation.range.subnet.prefix}`, gateway: formatIp(allocation.range.gateway) })),
    ...(config.routes.length === 0 ? {} : { routes: [...config.routes] }),
    ...(dns === undefined ? {} : { dns }),
  };
}

/**
 * DEL: releases every reservation of the attachment in the network (ID-only
 * ones of the container when it has no exact one). Nothing reserved is
 * success; CNI_NETNS is not needed.
 * @see containernetworking/plugins plugins/ipam/host-local/main.go (cmdDel)
 */
async function del(request: PluginRequest, locker: FileLocker | undefined): Promise<void> {
  const config = loadHostLocalConfig(request.conf, request.args);
  await withDiskStore(storeOptions(config, locker), async (store) => releaseAll(store, reservationsToRelease(await store.scan(), ownerOf(request)), 'DEL'));
}

function addressesOfPrevResult(request: PluginRequest): IpAddress[] {
  const prevResult = request.conf.prevResult;
  if (prevResult === undefined) return [];
  let ips: { address: string }[];
  try {
    ips = toResult100(prevResult).ips ?? [];
  } catch (error) {
    throw invalidField('prevResult', `cannot be read as a CNI result: ${(error as Error).message}`);
  }
  return ips.map((ip, index) => {
    const network = typeof ip?.address === 'string' ? parseCidr(ip.address) : undefined;
    if (network === undefined) throw invalidField(`prevResult.ips[${index}].address`, 'must be an address in CIDR notation');
    return network.address;
  });
}

/**
 * CHECK: the attachment holds a reservation (upstream checks only this) and,
 * when prevResult is given, the addresses it reports inside our range sets
 * are exactly the ones reserved for the attachment there.
 * @see containernetworking/plugins plugins/ipam/host-local/main.go (cmdCheck)
 */
async function check(request: PluginRequest, locker: FileLocker | undefined): Promise<void> {
  const config = loadHostLocalConfig(request.conf, request.args);
  const owner = ownerOf(request);
  const held = (await withDiskStore(storeOptions(config, locker), (store) => store.scan())).filter((reservation) => heldBy(reservation, owner));
  if (held.length === 0) {
    throw hostLocalError('RESERVATION_NOT_FOUND', `host-local: Failed to find address added by container ${owner.containerId}`, `interface ${owner.ifName}, network ${config.network}`);
  }
  if (request.conf.prevResult === undefined) return;
  const ours = (ip: IpAddress): boolean => config.rangeSets.some((set) => rangeSetContains(set, ip));
  const reported = addressesOfPrevResult(request).filter(ours);
  const reserved = held.map((reservation) => reservation.ip).filter(ours);
  const unreserved = reported.filter((ip) => !reserved.some((other) => sameIp(ip, other)));
  const unreported = reserved.filter((ip) => !reported.some((other) => sameIp(ip, other)));
  if (unreserved.length > 0 || unreported.length > 0) {
    throw hostLocalError(
      'RESERVATION_MISMATCH',
      `host-local: prevResult and the reservations of container ${owner.containerId} differ`,
      `in prevResult but not reserved: [${unreserved.map(formatIp).join(', ')}]; reserved but not in prevResult: [${unreported.map(formatIp).join(', ')}]`,
    );
  }
}

/**
 * GC: releases every reservation held by no attachment in
 * `cni.dev/valid-attachments`, going on after a failure. Upstream host-local
 * has no GC (main.go: "FIXME GC").
 */
async function gc(request: GcRequest, locker: FileLocker | undefined): Promise<void> {
  const config = loadHostLocalConfig(request.conf, request.args);
  const valid: Owner[] = request.validAttachments.map((attachment) => ({ containerId: attachment.containerID, ifName: attachment.ifname }));
  await withDiskStore(storeOptions(config, locker), async (store) => {
    const stale = (await store.scan()).filter((reservation) => !valid.some((owner) => heldBy(reservation, owner)));
    await releaseAll(store, stale, 'GC');
  });
}

/**
 * STATUS: PLUGIN_NOT_AVAILABLE (50) when some range set has no free address,
 * since every ADD needs one address from each set. Upstream host-local has no
 * STATUS (main.go: "FIXME Status").
 */
async function status(request: PluginRequest, locker: FileLocker | undefined): Promise<void> {
  const config = loadHostLocalConfig(request.conf, request.args);
  const reservations = await withDiskStore(storeOptions(config, locker), (store) => store.scan());
  const exhausted = config.rangeSets.filter((set) => freeAddressCount(set, reservations) === 0n);
  if (exhausted.length > 0) {
    throw new CniError({
      code: 'PLUGIN_NOT_AVAILABLE',
      msg: `no IP addresses available in range set: ${exhausted.map(formatRangeSet).join('; ')}`,
      details: `network ${config.network}: ADD needs a free address in each of its ${config.rangeSets.length} range set(s)`,
    });
  }
}

/** What a host process gives the plugin; a standalone plugin process gives nothing. */
export interface HostLocalPluginOptions {
  /** Takes the data directory's flock(2) lock; util-linux flock(1) on our own descriptor when absent. */
  readonly locker?: FileLocker;
}

/** The kubeplug-host-local plugin: its verb table for the skeleton. The node agent builds one with its own locker. */
export function createHostLocalPlugin(options: HostLocalPluginOptions = {}): PluginDefinition {
  const { locker } = options;
  const handlers: PluginHandlers = {
    add: (request) => add(request, locker),
    del: (request) => del(request, locker),
    check: (request) => check(request, locker),
    gc: (request) => gc(request, locker),
    status: (request) => status(request, locker),
  };
  return {
    about: 'kubeplug-host-local: CNI IPAM plugin allocating addresses from local ranges, compatible with host-local',
    supportedVersions: cniSupportedVersions,
    handlers,
  };
}

/** The plugin as a standalone process runs it. */
export const hostLocalPlugin: PluginDefinition = createHostLocalPlugin();
