import type { Readable, Writable } from 'node:stream';

/** A process started for an exec session: its pipes, how it ended, and how to stop it. */
export interface StreamingProcess {
  /** The process's standard input; null when stdin was not asked for. */
  readonly stdin: Writable | null;
  /** Standard output (with a terminal, everything the terminal shows). */
  readonly stdout: Readable;
  /** Standard error; null with a terminal, where it goes to stdout. */
  readonly stderr: Readable | null;
  /**
   * Resolves with the exit code (128 + signal when a signal ended it) once
   * the process has exited and its output is drained; rejects when the
   * runtime could not run it at all (no such binary, container gone), with
   * the runtime's message.
   */
  readonly exited: Promise<number>;
  /** Changes the terminal's size; absent when the process has no terminal or sizes cannot be changed. */
  resize?(size: { width: number; height: number }): void;
  /** Kills the process (SIGKILL); safe to call after it has exited. */
  kill(): void;
}

/** A running container's output from now on, for attach. */
export interface ContainerOutput {
  readonly stdout: Readable;
  readonly stderr: Readable;
  /** Resolves when the container has exited and every line it wrote has been read. */
  readonly ended: Promise<void>;
  /** Stops following (the client went away); idempotent. */
  stop(): void;
}

/** A container as streaming requests need it. */
export interface StreamingContainer {
  /** The full ID. */
  readonly id: string;
  readonly running: boolean;
}

/** A pod sandbox as port forwarding needs it. */
export interface StreamingSandbox {
  /** The full ID. */
  readonly id: string;
  /** Whether the sandbox is SANDBOX_READY. */
  readonly ready: boolean;
  /** Its network namespace file; undefined for a sandbox on the host's network. */
  readonly netnsPath: string | undefined;
}

/**
 * What the streaming server needs from the runtime. Lookups take a full ID
 * or a unique prefix and answer undefined for an unknown one; the server
 * turns that into NOT_FOUND and a stopped container into FAILED_PRECONDITION.
 * Every method may be called concurrently.
 */
export interface StreamingRuntime {
  findContainer(idOrPrefix: string): Promise<StreamingContainer | undefined>;
  findSandbox(idOrPrefix: string): Promise<StreamingSandbox | undefined>;
  /** Starts `cmd` in the running container with pipes (and a terminal when `tty`). */
  execProcess(containerId: string, cmd: readonly string[], options: { tty: boolean; stdin: boolean }): Promise<StreamingProcess>;
  /** Follows the container's output from now on. */
  attachOutput(containerId: string): Promise<ContainerOutput>;
}
