/**
 * Serializes operations per key (a sandbox or container ID, or a name).
 * Unlike a CSI driver, a CRI runtime queues a second call on the same
 * object instead of refusing it: the kubelet retries StopContainer and
 * RemoveContainer concurrently and expects each to succeed. Operations on
 * different keys never wait for each other.
 */
export class OperationLocks {
  readonly #tails = new Map<string, Promise<unknown>>();

  /** Runs `action` after every earlier action on any of `keys` has ended. */
  async run<T>(keys: readonly string[], action: () => Promise<T>): Promise<T> {
    const unique = [...new Set(keys)].sort();
    const previous = unique.map((key) => this.#tails.get(key) ?? Promise.resolve());
    const result = Promise.allSettled(previous).then(action);
    const tail = result.catch(() => {});
    for (const key of unique) this.#tails.set(key, tail);
    try {
      return await result;
    } finally {
      for (const key of unique) if (this.#tails.get(key) === tail) this.#tails.delete(key);
    }
  }
}
