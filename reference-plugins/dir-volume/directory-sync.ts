import fs from 'node:fs/promises';

/**
 * fsyncs directories, sharing one fsync among callers that ask at the same
 * time: a caller arriving while a sync of its directory runs waits for the
 * next one, which starts when the running one ends and serves every caller
 * queued meanwhile (a directory fsync covers every rename and unlink made
 * before it starts). With 16 operations in flight this turns 16 flushes
 * into two or three; a lone caller pays exactly one.
 */
export class DirectorySync {
  readonly #running = new Map<string, Promise<void>>();
  readonly #queued = new Map<string, Promise<void>>();

  /** Resolves once a directory fsync that started after this call has completed. */
  sync(dir: string): Promise<void> {
    const queued = this.#queued.get(dir);
    if (queued !== undefined) return queued;
    const running = this.#running.get(dir);
    if (running === undefined) return this.#start(dir);
    const next = running.catch(() => undefined).then(() => {
      this.#queued.delete(dir);
      return this.#start(dir);
    });
    this.#queued.set(dir, next);
    return next;
  }

  #start(dir: string): Promise<void> {
    const run = fsyncDirectory(dir).finally(() => {
      if (this.#running.get(dir) === run) this.#running.delete(dir);
    });
    this.#running.set(dir, run);
    return run;
  }
}

async function fsyncDirectory(dir: string): Promise<void> {
  const handle = await fs.open(dir, 'r');
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
}
