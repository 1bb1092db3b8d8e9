import type { ContainerEventResponse } from '../../../specs/cri/index.js';

/** A subscriber's handle: call it to stop receiving events. */
export type Unsubscribe = () => void;

/**
 * Fans container events (CREATED, STARTED, STOPPED, DELETED) out to every
 * GetContainerEvents stream open at the time. Events are not stored: a
 * client that connects later sees the current state through the status
 * calls, as with containerd.
 */
export class ContainerEvents {
  readonly #listeners = new Set<(event: ContainerEventResponse) => void>();

  /** Delivers every later event to `listener` until unsubscribed. */
  subscribe(listener: (event: ContainerEventResponse) => void): Unsubscribe {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  /** Sends an event to every subscriber; a listener that throws does not stop the others. */
  publish(event: ContainerEventResponse): void {
    for (const listener of this.#listeners) {
      try {
        listener(event);
      } catch {
        // A broken stream is the stream's problem; it unsubscribes when it closes.
      }
    }
  }

  /** How many streams are listening (for tests and verbose status). */
  get subscriberCount(): number {
    return this.#listeners.size;
  }
}
