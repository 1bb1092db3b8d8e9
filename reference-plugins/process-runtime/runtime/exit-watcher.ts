import fs, { type FSWatcher } from 'node:fs';
import { readExitRecord, type ExitRecord } from '../oci/exit-record.js';
import { writeFileDurably } from './durable-files.js';
import { isShimAlive } from './process-liveness.js';

/** One process the watcher follows: a container's init or a sandbox's pause. */
export interface WatchedProcess {
  /** Container or sandbox ID. */
  readonly id: string;
  /** The folder the shim writes `exit` into. */
  readonly dir: string;
  readonly exitFile: string;
  readonly shimPidFile: string;
  /** Called once, when the exit file is first seen. */
  readonly onExit: (exit: ExitRecord) => Promise<void>;
}

/** The exit code reported for a process whose shim died without writing an exit file. */
export const lostExitCode = 255;

/**
 * Notices exits. The shim's exit file is the truth: the watcher reacts to
 * it appearing (an inotify watch on the folder) and re-checks every
 * process at an interval, so a missed notification or a runtime restart
 * only delays an exit, never loses it. A process whose shim is gone
 * without an exit file is given one (exit 255), written atomically, so
 * every later look agrees.
 */
export class ExitWatcher {
  readonly #watched = new Map<string, { process: WatchedProcess; watcher: FSWatcher | undefined; checking: Promise<void> | undefined; done: boolean }>();
  readonly #waiters = new Map<string, Set<() => void>>();
  readonly #timer: NodeJS.Timeout;

  constructor(
    private readonly log: (line: string) => void,
    intervalMs = 1000,
  ) {
    this.#timer = setInterval(() => void this.checkAll(), intervalMs);
    this.#timer.unref();
  }

  /** Starts following a process; checks it at once (it may have exited already). */
  watch(process: WatchedProcess): void {
    if (this.#watched.has(process.id)) return;
    let watcher: FSWatcher | undefined;
    try {
      watcher = fs.watch(process.dir, { persistent: false }, (_event, name) => {
        if (name === null || name === 'exit') void this.check(process.id);
      });
      watcher.on('error', () => {});
    } catch {
      // The interval still finds the exit.
    }
    this.#watched.set(process.id, { process, watcher, checking: undefined, done: false });
    void this.check(process.id);
  }

  /** Stops following a process (it was removed). */
  unwatch(id: string): void {
    const entry = this.#watched.get(id);
    entry?.watcher?.close();
    this.#watched.delete(id);
    this.#wake(id);
  }

  /** Resolves true once the process's exit has been handled (onExit finished), or false after `timeoutMs`. */
  async waitForExit(id: string, timeoutMs: number): Promise<boolean> {
    const entry = this.#watched.get(id);
    if (entry === undefined) return true;
    await this.check(id);
    if (entry.done) return true;
    return new Promise<boolean>((resolve) => {
      const waiters = this.#waiters.get(id) ?? new Set<() => void>();
      this.#waiters.set(id, waiters);
      const wake = (): void => {
        clearTimeout(timer);
        waiters.delete(wake);
        resolve(true);
      };
      const timer = setTimeout(() => {
        waiters.delete(wake);
        resolve(false);
      }, timeoutMs);
      waiters.add(wake);
      // Fast path for signals that act at once: look again shortly, whatever inotify says.
      setTimeout(() => void this.check(id), Math.min(50, timeoutMs)).unref();
    });
  }

  /** Looks at one process now; concurrent calls share one look, which includes handling an exit it finds. */
  check(id: string): Promise<void> {
    const entry = this.#watched.get(id);
    if (entry === undefined) return Promise.resolve();
    if (entry.checking !== undefined) return entry.checking;
    if (entry.done) return Promise.resolve();
    entry.checking ??= this.#look(entry.process).then(
      async (exit) => {
        if (exit === undefined || entry.done) return;
        entry.watcher?.close();
        try {
          await entry.process.onExit(exit);
        } catch (error) {
          this.log(`process-runtime: handling the exit of ${id} failed: ${error instanceof Error ? error.message : String(error)}`);
        }
        // Set only once the exit is handled, so whoever sees it done sees the exit's effects.
        entry.done = true;
        this.#wake(id);
      },
      (error: unknown) => this.log(`process-runtime: reading the exit of ${id} failed: ${error instanceof Error ? error.message : String(error)}`),
    ).finally(() => {
      entry.checking = undefined;
    });
    return entry.checking;
  }

  /** Looks at every followed process. */
  async checkAll(): Promise<void> {
    await Promise.all([...this.#watched.keys()].map((id) => this.check(id)));
  }

  /** Stops the interval and every watch. */
  close(): void {
    clearInterval(this.#timer);
    for (const entry of this.#watched.values()) entry.watcher?.close();
    this.#watched.clear();
  }

  async #look(process: WatchedProcess): Promise<ExitRecord | undefined> {
    const exit = await readExitRecord(process.exitFile);
    if (exit !== undefined) return exit;
    if (await isShimAlive(process.shimPidFile)) return undefined;
    // The shim writes the exit file before it exits: look once more to close that window.
    const late = await readExitRecord(process.exitFile);
    if (late !== undefined) return late;
    const finishedAtNs = BigInt(Date.now()) * 1_000_000n;
    await writeFileDurably(process.exitFile, `${JSON.stringify({ exitCode: lostExitCode, finishedAtNs: finishedAtNs.toString(), lost: true })}\n`, 0o644);
    this.log(`process-runtime: the shim of ${process.id} is gone without an exit status; recorded exit ${lostExitCode}`);
    return { exitCode: lostExitCode, finishedAtNs };
  }

  #wake(id: string): void {
    for (const wake of [...(this.#waiters.get(id) ?? [])]) wake();
    this.#waiters.delete(id);
  }
}
