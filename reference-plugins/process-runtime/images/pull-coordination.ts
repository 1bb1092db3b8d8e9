// How pulls and garbage collection share the store: a serial lock for record changes, a semaphore bounding downloads, and pins that keep what a pull relies on from being collected.

/** A lock that runs one critical section at a time, in call order. */
export class SerialLock {
  #tail: Promise<unknown> = Promise.resolve();
  run<T>(section: () => Promise<T>): Promise<T> {
    const result = this.#tail.then(section, section);
    this.#tail = result.catch(() => undefined);
    return result;
  }
}

/** Runs at most `limit` tasks at a time, the rest in call order. */
export class Semaphore {
  #free: number;
  readonly #waiting: (() => void)[] = [];
  constructor(limit: number) {
    this.#free = limit;
  }
  async run<T>(task: () => Promise<T>): Promise<T> {
    if (this.#free > 0) this.#free -= 1;
    else await new Promise<void>((resolve) => this.#waiting.push(resolve));
    try {
      return await task();
    } finally {
      const next = this.#waiting.shift();
      if (next === undefined) this.#free += 1;
      else next();
    }
  }
}

/** Counts users of names (blob digests, chain IDs) a pull is about to rely on. */
export class PinSet {
  readonly #counts = new Map<string, number>();
  add(names: Iterable<string>): void {
    for (const name of names) this.#counts.set(name, (this.#counts.get(name) ?? 0) + 1);
  }
  release(names: Iterable<string>): void {
    for (const name of names) {
      const count = (this.#counts.get(name) ?? 1) - 1;
      if (count <= 0) this.#counts.delete(name);
      else this.#counts.set(name, count);
    }
  }
  has(name: string): boolean {
    return this.#counts.has(name);
  }
}
