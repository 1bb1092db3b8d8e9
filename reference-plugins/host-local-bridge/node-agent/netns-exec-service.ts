import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import { spawnLauncher, type CommandLauncher, type LaunchOutcome, type LaunchRequest } from '../bridge/command-launcher.js';
import { CniError } from '../../../specs/cni/cni-error.js';
import { lockFileExclusively, lockWaitExpired, type FileLock, type FileLockOptions } from '../host-local/file-lock.js';
import { decodeExecResponse, encodeExecRequest, encodeLockRequest, lockAnswerBytes, lockMagic } from './exec-server-protocol.js';

// Cores left once one serves the agent itself.
const spareCores = Math.max(1, os.availableParallelism() - 1);

/** Options of {@link NetnsExecService}. */
export interface NetnsExecServiceOptions {
  /** The compiled netns-exec-server.c. */
  readonly executable: string;
  /** Where it listens; its folder should be 0700 (the agent's). */
  readonly socketPath: string;
  readonly log?: (line: string) => void;
  /** Wait before starting a server that exited on its own again. */
  readonly restartDelayMs?: number;
}

/**
 * Runs the node agent's exec server and starts commands through it: a
 * {@link CommandLauncher} that costs one exec per command instead of a
 * fork of Node plus nsenter. It also takes host-local's data directory
 * locks ({@link NetnsExecService.lock}, a FileLocker) without running
 * flock(1) for each. Self-healing: a server that dies is started
 * again, and while none is ready (or a connection is refused, so nothing
 * ran) commands fall back to plain child processes, which behave the same,
 * only slower.
 */
export class NetnsExecService implements CommandLauncher {
  readonly #options: NetnsExecServiceOptions;
  #child: ChildProcess | undefined;
  #ready = false;
  #stopping = false;
  /** Commands started through the server and not yet answered. */
  #inFlight = 0;

  constructor(options: NetnsExecServiceOptions) {
    this.#options = options;
  }

  /** True while the server answers; false means commands run as child processes. */
  get ready(): boolean {
    return this.#ready;
  }

  /**
   * Commands through the server cost the agent a connection, not a fork, so
   * running a call's independent commands side by side pays, but only while
   * cores are spare: with other calls' commands in flight, one more process
   * per call only adds to the queue (measured: 10 concurrent ADDs got slower).
   */
  get concurrent(): boolean {
    return this.#ready && this.#inFlight < spareCores;
  }

  /** The server's pid while it runs. */
  get pid(): number | undefined {
    return this.#child?.pid;
  }

  /** Starts the server and resolves once it listens; rejects (leaving the fallback in place) when it cannot. */
  start(): Promise<void> {
    fs.rmSync(this.#options.socketPath, { force: true });
    const child = spawn(this.#options.executable, [this.#options.socketPath], { stdio: ['ignore', 'pipe', 'inherit'] });
    this.#child = child;
    return new Promise((resolve, reject) => {
      let seen = '';
      const onData = (chunk: Buffer): void => {
        seen += chunk.toString('utf8');
        if (!seen.includes('ready\n')) return;
        child.stdout?.off('data', onData);
        child.stdout?.resume();
        this.#ready = true;
        resolve();
      };
      child.stdout?.on('data', onData);
      child.once('error', (error) => {
        this.#ready = false;
        reject(error);
      });
      child.once('exit', (code, signal) => {
        this.#ready = false;
        if (this.#child === child) this.#child = undefined;
        reject(new Error(`kubeplug-netns-exec exited (${signal ?? code}) before it was ready`));
        if (this.#stopping) return;
        this.#log(`kubeplug-netns-exec exited (${signal ?? code}); commands run as child processes until it is back`);
        setTimeout(() => {
          if (!this.#stopping) this.start().catch((error: unknown) => this.#log(`kubeplug-netns-exec did not come back: ${String(error)}`));
        }, this.#options.restartDelayMs ?? 1000).unref();
      });
    });
  }

  /** Stops the server (by its pid) and removes its socket; commands in flight finish in their workers. */
  async stop(): Promise<void> {
    this.#stopping = true;
    this.#ready = false;
    const child = this.#child;
    if (child !== undefined && child.exitCode === null && child.signalCode === null) {
      const exited = new Promise((resolve) => child.once('exit', resolve));
      child.kill('SIGTERM');
      await exited;
    }
    fs.rmSync(this.#options.socketPath, { force: true });
  }

  launch(request: LaunchRequest): Promise<LaunchOutcome> {
    if (!this.#ready) return spawnLauncher.launch(request);
    this.#inFlight += 1;
    const launched = this.#launchThroughServer(request);
    void launched.finally(() => (this.#inFlight -= 1));
    return launched;
  }

  #launchThroughServer(request: LaunchRequest): Promise<LaunchOutcome> {
    return new Promise((resolve) => {
      const socket = net.createConnection({ path: this.#options.socketPath, allowHalfOpen: true });
      const chunks: Buffer[] = [];
      let connected = false;
      socket.once('connect', () => {
        connected = true;
        socket.end(encodeExecRequest(request));
      });
      socket.on('data', (chunk: Buffer) => chunks.push(chunk));
      socket.on('error', (error) => {
        // Refused before connecting: nothing ran, so running it ourselves is safe.
        if (!connected) resolve(spawnLauncher.launch(request));
        else resolve({ exitCode: null, stdout: '', stderr: `kubeplug-netns-exec: ${error.message}`, cause: error });
      });
      socket.once('close', () => {
        if (!connected) return;
        const outcome = decodeExecResponse(Buffer.concat(chunks));
        resolve(outcome ?? { exitCode: null, stdout: '', stderr: `kubeplug-netns-exec ended before answering for "${request.argv.join(' ')}"` });
      });
    });
  }

  /**
   * Takes an exclusive flock(2) on `file` through the server: a worker of
   * the server holds it for as long as our connection stays open, so it
   * goes when we release it or when the agent dies, as a lock on our own
   * descriptor would. Without a server, util-linux flock(1) does it.
   */
  readonly lock = (file: string, options: FileLockOptions): Promise<FileLock> => {
    if (!this.#ready) return lockFileExclusively(file, options);
    return new Promise((resolve, reject) => {
      const socket = net.createConnection({ path: this.#options.socketPath });
      const chunks: Buffer[] = [];
      let connected = false;
      let answered = false;
      const closed = new Promise<void>((done) => socket.once('close', () => done()));
      socket.once('connect', () => {
        connected = true;
        socket.write(encodeLockRequest(file, options.waitSeconds));
      });
      socket.on('data', (chunk: Buffer) => {
        if (answered) return;
        chunks.push(chunk);
        const answer = Buffer.concat(chunks);
        if (answer.length < lockAnswerBytes) return;
        answered = true;
        if (!answer.subarray(0, lockMagic.length).equals(lockMagic)) {
          socket.destroy();
          reject(new CniError({ code: 'IO_FAILURE', msg: `host-local: cannot lock ${file}`, details: 'kubeplug-netns-exec answered garbage' }));
          return;
        }
        const outcome = answer.readUInt32BE(lockMagic.length);
        const errno = answer.readUInt32BE(lockMagic.length + 4);
        if (outcome === 0) {
          let released: Promise<void> | undefined;
          resolve({
            release: () => {
              released ??= (socket.end(), closed);
              return released;
            },
          });
          closed.then(() => {
            // The worker went while we held the lock (killed?): say so, the data directory was unprotected from then on.
            if (released === undefined) this.#log(`the lock on ${file} was lost before its release`);
          });
          return;
        }
        socket.destroy();
        if (outcome === 1) reject(lockWaitExpired(file, options.waitSeconds));
        else reject(new CniError({ code: 'IO_FAILURE', msg: `host-local: cannot lock ${file}`, details: `kubeplug-netns-exec: flock failed with errno ${errno}` }));
      });
      socket.on('error', (error) => {
        // Refused before connecting: take the lock the standalone way.
        if (!connected) resolve(lockFileExclusively(file, options));
        else if (!answered) reject(new CniError({ code: 'IO_FAILURE', msg: `host-local: cannot lock ${file}`, details: `kubeplug-netns-exec: ${error.message}`, cause: error }));
      });
      socket.once('close', () => {
        if (connected && !answered) reject(new CniError({ code: 'IO_FAILURE', msg: `host-local: cannot lock ${file}`, details: 'kubeplug-netns-exec hung up before answering' }));
      });
    });
  };

  #log(line: string): void {
    this.#options.log?.(line);
  }
}
