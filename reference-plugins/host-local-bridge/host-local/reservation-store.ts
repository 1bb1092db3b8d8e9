import type { IpAddress } from './ip-address.js';
import type { Owner, Reservation } from './reservation.js';

/**
 * The reservations of one network, used while the network's lock is held
 * (so no method needs to guard against a concurrent writer). openDiskStore
 * gives the real one; the allocator's tests use an in-memory fake.
 * @see containernetworking/plugins plugins/ipam/host-local/backend/store.go
 */
export interface ReservationStore {
  /**
   * Every reservation as stored now. Leftovers of interrupted writes (temp
   * files, empty reservation files) are removed on the way: under the lock no
   * writer is in the middle of one. Idempotent.
   */
  scan(): Promise<Reservation[]>;
  /**
   * Reserves `ip` for `owner` unless someone holds it, and records it as the
   * range set's last reserved address. The new reservation, or undefined,
   * changing nothing, when the address was taken (so not idempotent: asking
   * twice for one address answers undefined the second time).
   */
  reserve(request: { ip: IpAddress; owner: Owner; rangeSetIndex: number }): Promise<Reservation | undefined>;
  /** The last address reserved in the range set, or undefined when none is recorded or it is unreadable. */
  lastReserved(rangeSetIndex: number): Promise<IpAddress | undefined>;
  /** Drops a reservation. Idempotent: one already gone is success. */
  release(reservation: Reservation): Promise<void>;
}

/** A store whose lock this process holds until {@link LockedStore.close}. */
export interface LockedStore extends ReservationStore {
  /** Releases the lock. A second call is a no-op. */
  close(): Promise<void>;
}
