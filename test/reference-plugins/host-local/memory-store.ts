import type { ReservationStore } from '../../../reference-plugins/host-local-bridge/host-local/reservation-store.js';
import { formatIp, type IpAddress } from '../../../reference-plugins/host-local-bridge/host-local/ip-address.js';
import type { Owner, Reservation } from '../../../reference-plugins/host-local-bridge/host-local/reservation.js';

/**
 * The reservation store in memory, for allocator tests: same contract as the
 * disk store (one holder per address, last reserved address per range set),
 * no files and no lock. Single-threaded by construction.
 */
export class MemoryStore implements ReservationStore {
  readonly reservations = new Map<string, Reservation>();
  readonly lastReservedBySet = new Map<number, IpAddress>();
  /** Addresses reserve() was asked for, in order. */
  readonly attempts: string[] = [];

  /** Puts a reservation in place, as if another ADD had made it. */
  hold(ip: IpAddress, owner: { containerId: string; ifName?: string }): void {
    const key = formatIp(ip);
    this.reservations.set(key, { ip, key, containerId: owner.containerId, ...(owner.ifName === undefined ? {} : { ifName: owner.ifName }) });
  }

  async scan(): Promise<Reservation[]> {
    return [...this.reservations.values()];
  }

  async reserve(request: { ip: IpAddress; owner: Owner; rangeSetIndex: number }): Promise<Reservation | undefined> {
    const key = formatIp(request.ip);
    this.attempts.push(key);
    if (this.reservations.has(key)) return undefined;
    const reservation: Reservation = { ip: request.ip, key, containerId: request.owner.containerId, ifName: request.owner.ifName };
    this.reservations.set(key, reservation);
    this.lastReservedBySet.set(request.rangeSetIndex, request.ip);
    return reservation;
  }

  async lastReserved(rangeSetIndex: number): Promise<IpAddress | undefined> {
    return this.lastReservedBySet.get(rangeSetIndex);
  }

  async release(reservation: Reservation): Promise<void> {
    this.reservations.delete(reservation.key);
  }
}
