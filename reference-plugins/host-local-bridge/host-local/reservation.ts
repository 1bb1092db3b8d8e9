import type { IpAddress } from './ip-address.js';

/** The attachment an address is reserved for. */
export interface Owner {
  readonly containerId: string;
  readonly ifName: string;
}

/** One reserved address and its holder, as the store read it. */
export interface Reservation {
  readonly ip: IpAddress;
  /** The key the store keeps it under (for the disk store, the file name). */
  readonly key: string;
  readonly containerId: string;
  /** Undefined for a reservation written before host-local recorded interfaces (the container ID alone). */
  readonly ifName?: string;
}

// Upstream's separator between container ID and interface name, Windows line break included.
const lineBreak = '\r\n';

/**
 * What a reservation file holds: `<containerID>\r\n<ifname>`, the ID trimmed,
 * no trailing newline.
 * @see containernetworking/plugins plugins/ipam/host-local/backend/disk/backend.go (Reserve, LineBreak)
 */
export function reservationContent(owner: Owner): string {
  return `${owner.containerId.trim()}${lineBreak}${owner.ifName}`;
}

/**
 * Reads a holder back from file content, whitespace-trimmed as upstream
 * compares it; content without a line break is the older, ID-only form.
 * Undefined when nothing but whitespace is left (an interrupted write).
 */
export function parseReservationContent(content: string): Pick<Reservation, 'containerId' | 'ifName'> | undefined {
  const trimmed = content.trim();
  if (trimmed === '') return undefined;
  const at = trimmed.indexOf(lineBreak);
  if (at < 0) return { containerId: trimmed };
  return { containerId: trimmed.slice(0, at), ifName: trimmed.slice(at + lineBreak.length) };
}

/** True when the reservation names exactly this container and interface. */
export function heldExactlyBy(reservation: Reservation, owner: Owner): boolean {
  return reservation.containerId === owner.containerId.trim() && reservation.ifName === owner.ifName;
}

/** True for an ID-only reservation of this container, which upstream counts as any of its interfaces. */
export function heldByLegacy(reservation: Reservation, owner: Owner): boolean {
  return reservation.ifName === undefined && reservation.containerId === owner.containerId.trim();
}

/** True when the reservation belongs to the attachment, exactly or in the older ID-only form. */
export function heldBy(reservation: Reservation, owner: Owner): boolean {
  return heldExactlyBy(reservation, owner) || heldByLegacy(reservation, owner);
}

/**
 * The reservations DEL releases for an attachment: the exact ones, or, only
 * when there are none, the ID-only ones (upstream's backward compatibility).
 * @see containernetworking/plugins plugins/ipam/host-local/backend/disk/backend.go (ReleaseByID)
 */
export function reservationsToRelease(reservations: readonly Reservation[], owner: Owner): Reservation[] {
  const exact = reservations.filter((reservation) => heldExactlyBy(reservation, owner));
  return exact.length > 0 ? exact : reservations.filter((reservation) => heldByLegacy(reservation, owner));
}
