import type { CniError } from '../../../specs/cni/cni-error.js';
import { hostLocalError, type HostLocalErrorName } from './host-local-errors.js';
import { formatIp, nextIp, sameIp, type IpAddress } from './ip-address.js';
import { rangeContains, type IpRange } from './ip-range.js';
import type { RequestedAddress } from './ipam-config.js';
import { formatRangeSet, rangeFor, rangeSetCapacity, type RangeSet } from './range-set.js';
import type { ReservationStore } from './reservation-store.js';
import { heldBy, type Owner, type Reservation } from './reservation.js';

/** A candidate address with the range that gives its prefix and gateway. */
export interface Candidate {
  readonly ip: IpAddress;
  readonly range: IpRange;
}

/** An address handed out: the candidate and the reservation that now holds it. */
export interface Allocation extends Candidate {
  readonly reservation: Reservation;
}

/** What {@link allocateAddress} needs; the store's lock must be held. */
export interface AllocationRequest {
  readonly store: ReservationStore;
  readonly rangeSet: RangeSet;
  /** The set's position in the config: names its last_reserved_ip file. */
  readonly rangeSetIndex: number;
  readonly owner: Owner;
  /** A specific address the runtime asked for in this set, if any. */
  readonly requested?: RequestedAddress;
  /** The store's reservations as scanned at the start of this operation. */
  readonly reservations: readonly Reservation[];
}

/**
 * Candidate addresses in upstream's round-robin order: from the one after the
 * last reserved address (or from the first range's start when that is
 * unknown or outside the set) through every range, wrapping, back to the
 * last reserved one; each range's gateway skipped.
 * @see containernetworking/plugins plugins/ipam/host-local/backend/allocator/allocator.go (GetIter, RangeIter.Next)
 */
export function* candidateAddresses(set: RangeSet, lastReserved: IpAddress | undefined): Generator<Candidate> {
  const ranges = set.ranges;
  let startIndex = 0;
  let startIp = ranges[0]?.rangeStart;
  const lastIndex = lastReserved === undefined ? -1 : ranges.findIndex((range) => rangeContains(range, lastReserved));
  const lastRange = ranges[lastIndex];
  if (lastReserved !== undefined && lastRange !== undefined) {
    if (sameIp(lastReserved, lastRange.rangeEnd)) {
      startIndex = (lastIndex + 1) % ranges.length;
      startIp = ranges[startIndex]?.rangeStart;
    } else {
      startIndex = lastIndex;
      startIp = nextIp(lastReserved);
    }
  }
  if (startIp === undefined) return;
  // The start range is walked twice: from startIp to its end first, from its start to just before startIp last.
  for (let step = 0; step <= ranges.length; step += 1) {
    const range = ranges[(startIndex + step) % ranges.length];
    if (range === undefined) return;
    const from = step === 0 ? startIp.value : range.rangeStart.value;
    const to = step === ranges.length ? startIp.value - 1n : range.rangeEnd.value;
    for (let value = from; value <= to; value += 1n) {
      if (value === range.gateway.value) continue;
      yield { ip: { family: range.rangeStart.family, value }, range };
    }
  }
}

/**
 * Reserves one address of the range set for the owner: the requested one, or
 * the next free one in round-robin order. Throws, reserving nothing, when
 * the owner already holds an address in the set (upstream refuses a repeated
 * ADD rather than returning the old address), when the requested address is
 * the gateway or taken, or when the set is exhausted.
 * @see containernetworking/plugins plugins/ipam/host-local/backend/allocator/allocator.go (Get)
 */
export async function allocateAddress(request: AllocationRequest): Promise<Allocation> {
  const { store, rangeSet, rangeSetIndex, owner, requested, reservations } = request;
  if (requested !== undefined) return reserveRequested(request, requested);

  const held = reservations.find((reservation) => heldBy(reservation, owner) && rangeFor(rangeSet, reservation.ip) !== undefined);
  if (held !== undefined) {
    throw failure(request, 'DUPLICATE_ALLOCATION', `${formatIp(held.ip)} has been allocated to ${owner.containerId}, duplicate allocation is not allowed`);
  }
  if (freeAddressCount(rangeSet, reservations) === 0n) throw exhausted(request);
  // Skipping addresses the scan saw taken saves a failed link each; reserve() still decides.
  const family = rangeSet.ranges[0]?.rangeStart.family;
  const taken = new Set(reservations.filter((reservation) => reservation.ip.family === family).map((reservation) => reservation.ip.value));
  for (const candidate of candidateAddresses(rangeSet, await store.lastReserved(rangeSetIndex))) {
    if (taken.has(candidate.ip.value)) continue;
    const reservation = await store.reserve({ ip: candidate.ip, owner, rangeSetIndex });
    if (reservation !== undefined) return { ...candidate, reservation };
  }
  throw exhausted(request);
}

/** An error worded like upstream's ("failed to allocate for range N: ..."), with the attachment in details. */
function failure(request: AllocationRequest, name: HostLocalErrorName, problem: string): CniError {
  const { owner, rangeSet, rangeSetIndex } = request;
  return hostLocalError(name, `failed to allocate for range ${rangeSetIndex}: ${problem}`, `container ${owner.containerId}, interface ${owner.ifName}, range set ${rangeSet.path}`);
}

function exhausted(request: AllocationRequest): CniError {
  return failure(request, 'ADDRESSES_EXHAUSTED', `no IP addresses available in range set: ${formatRangeSet(request.rangeSet)}`);
}

async function reserveRequested(request: AllocationRequest, requested: RequestedAddress): Promise<Allocation> {
  const { store, rangeSet, rangeSetIndex, owner } = request;
  const range = rangeFor(rangeSet, requested.ip);
  const shown = `${formatIp(requested.ip)} (${requested.source})`;
  if (range === undefined) {
    throw failure(request, 'REQUESTED_ADDRESS_UNAVAILABLE', `requested IP address ${shown} is not in range set ${formatRangeSet(rangeSet)}`);
  }
  if (sameIp(requested.ip, range.gateway)) throw failure(request, 'REQUESTED_ADDRESS_UNAVAILABLE', `requested ip ${shown} is subnet's gateway`);
  const reservation = await store.reserve({ ip: requested.ip, owner, rangeSetIndex });
  if (reservation === undefined) {
    throw failure(request, 'REQUESTED_ADDRESS_UNAVAILABLE', `requested IP address ${shown} is not available in range set ${formatRangeSet(rangeSet)}`);
  }
  return { ip: requested.ip, range, reservation };
}

/** How many addresses of the set are still free, given the reservations. */
export function freeAddressCount(rangeSet: RangeSet, reservations: readonly Reservation[]): bigint {
  const used = reservations.filter((reservation) => {
    const range = rangeFor(rangeSet, reservation.ip);
    return range !== undefined && !sameIp(range.gateway, reservation.ip);
  }).length;
  const free = rangeSetCapacity(rangeSet) - BigInt(used);
  return free > 0n ? free : 0n;
}
