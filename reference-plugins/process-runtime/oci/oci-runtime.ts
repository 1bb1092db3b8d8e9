import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { shimBinary } from './binaries.js';
import { OciRuntimeError } from './oci-runtime-error.js';
import type { OciLinuxResources, OciProcess } from './oci-spec.js';
import { startShim } from './shim-process.js';

/** How to reach the OCI runtime. */
export interface OciRuntimeOptions {
  /** 'runc', 'crun' or a path; a bare name is looked up in the sbin and bin folders. */
  binary: string;
  /** The runtime's `--root` state folder (DIR/oci). */
  stateRoot: string;
  /** kubeplug-shim; defaults to the built one. */
  shimPath?: string;
  /** How long `create` waits for the shim's answer; 60 s unless told. */
  createTimeoutMs?: number;
}

/** A container's status as the runtime reports it (runtime-spec runtime.md "State"). */
export type OciStatus = 'creating' | 'created' | 'running' | 'paused' | 'stopped';

/** What `state` answers. */
export interface OciState {
  id: string;
  pid: number;
  status: OciStatus;
  bundle?: string;
}

/** What `create` needs. */
export interface OciCreateOptions {
  id: string;
  bundle: string;
  logPath?: string;
  exitFile: string;
  shimPidFile: string;
  /** Where the runtime writes the init's pid; `<bundle>/init.pid` unless told. */
  pidFile?: string;
}

/** What `exec` returns. */
export interface OciExecResult {
  stdout: Buffer;
  stderr: Buffer;
  /** The process's exit status; 128 + signal when a signal ended it; -1 when it timed out. */
  exitCode: number;
  timedOut: boolean;
}

/** Output an exec keeps per stream, as the gRPC message carrying it could hold no more. */
const defaultMaxExecOutput = 16 * 1024 * 1024;
// Debian keeps runc in /usr/sbin; a service manager's PATH may lack it.
const commandPath = '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin';

/**
 * The OCI runtime (runc or crun) driven through its CLI, with `--root` set to
 * one state folder; containers are created through kubeplug-shim, which
 * outlives this process. Every method is safe to call concurrently for
 * different containers; `kill` and `delete` are idempotent.
 */
export class OciRuntime {
  readonly binary: string;
  readonly stateRoot: string;
  readonly shimPath: string;
  readonly #createTimeoutMs: number;

  constructor(options: OciRuntimeOptions) {
    this.binary = options.binary;
    this.stateRoot = options.stateRoot;
    this.shimPath = options.shimPath ?? shimBinary;
    this.#createTimeoutMs = options.createTimeoutMs ?? 60_000;
  }

  /**
   * Starts a detached kubeplug-shim that runs `<runtime> create`; resolves
   * with the init's pid when the container is in state "created".
   */
  async create(o: OciCreateOptions): Promise<{ pid: number }> {
    await fs.mkdir(this.stateRoot, { recursive: true, mode: 0o700 });
    return startShim({
      shimPath: this.shimPath,
      runtime: await this.#binaryPath(),
      runtimeRoot: this.stateRoot,
      id: o.id,
      bundle: o.bundle,
      pidFile: o.pidFile ?? path.join(o.bundle, 'init.pid'),
      exitFile: o.exitFile,
      shimPidFile: o.shimPidFile,
      ...(o.logPath === undefined ? {} : { logPath: o.logPath }),
      timeoutMs: this.#createTimeoutMs,
    });
  }

  /** Runs the created container's process (`<runtime> start`). */
  async start(id: string): Promise<void> {
    await this.#run(['start', id]);
  }

  /** Sends a signal (name such as 'SIGTERM'/'TERM' or number) to the init, or to every process with `all`; no error when it has stopped or is gone. */
  async kill(id: string, signal: string | number, all = false): Promise<void> {
    try {
      await this.#run(['kill', ...(all ? ['--all'] : []), id, String(signal)]);
    } catch (error) {
      if (!(error instanceof OciRuntimeError)) throw error;
      const state = await this.state(id);
      if (state === undefined || state.status === 'stopped') return;
      throw error;
    }
  }

  /** Removes the container from the runtime (`--force` kills it first); no error when it is gone. */
  async delete(id: string, force = false): Promise<void> {
    try {
      await this.#run(['delete', ...(force ? ['--force'] : []), id]);
    } catch (error) {
      if (!(error instanceof OciRuntimeError)) throw error;
      if (error.isNotFound || (await this.state(id)) === undefined) return;
      throw error;
    }
  }

  /** The container's state; undefined when the runtime does not know it. */
  async state(id: string): Promise<OciState | undefined> {
    let stdout: Buffer;
    try {
      ({ stdout } = await this.#run(['state', id]));
    } catch (error) {
      if (error instanceof OciRuntimeError && error.isNotFound) return undefined;
      throw error;
    }
    const parsed = JSON.parse(stdout.toString('utf8')) as { id: string; pid: number; status: OciStatus; bundle?: string };
    const state: OciState = { id: parsed.id, pid: parsed.pid, status: parsed.status };
    if (parsed.bundle !== undefined) state.bundle = parsed.bundle;
    return state;
  }

  /** Every container the runtime knows under this state root. */
  async list(): Promise<{ id: string; pid: number; status: string }[]> {
    const { stdout } = await this.#run(['list', '--format', 'json']);
    const parsed = JSON.parse(stdout.toString('utf8')) as { id: string; pid: number; status: string }[] | null;
    return (parsed ?? []).map(({ id, pid, status }) => ({ id, pid, status }));
  }

  /**
   * Runs a process in the container (`<runtime> exec --process`) and collects
   * its output, up to `maxOutputBytes` per stream. When `timeoutMs` passes,
   * the process (found by its pid file) and the runtime are killed and
   * `timedOut` is true.
   */
  async exec(id: string, process: OciProcess, o: { timeoutMs?: number; maxOutputBytes?: number } = {}): Promise<OciExecResult> {
    const token = randomBytes(8).toString('hex');
    const processFile = path.join(this.stateRoot, `exec-${token}.json`);
    const pidFile = path.join(this.stateRoot, `exec-${token}.pid`);
    await fs.mkdir(this.stateRoot, { recursive: true, mode: 0o700 });
    await fs.writeFile(processFile, JSON.stringify(process), { mode: 0o600 });
    try {
      const argv = [await this.#binaryPath(), '--root', this.stateRoot, 'exec', '--process', processFile, '--pid-file', pidFile, id];
      return await runExec(argv, pidFile, o.timeoutMs, o.maxOutputBytes ?? defaultMaxExecOutput);
    } finally {
      await Promise.all([fs.rm(processFile, { force: true }), fs.rm(pidFile, { force: true })]);
    }
  }

  /**
   * Applies new cgroup limits to a running container (`<runtime> update
   * --resources FILE`). A file, not stdin: crun opens /dev/stdin, which
   * fails on the socket Node gives a child for its stdin.
   */
  async update(id: string, resources: OciLinuxResources): Promise<void> {
    await fs.mkdir(this.stateRoot, { recursive: true, mode: 0o700 });
    const file = path.join(this.stateRoot, `update-${randomBytes(8).toString('hex')}.json`);
    await fs.writeFile(file, JSON.stringify(resources), { mode: 0o600 });
    try {
      await this.#run(['update', '--resources', file, id]);
    } finally {
      await fs.rm(file, { force: true });
    }
  }

  #resolved: Promise<string> | undefined;

  /** The runtime's absolute path (a bare name is searched for once). */
  #binaryPath(): Promise<string> {
    this.#resolved ??= resolveBinary(this.binary);
    return this.#resolved;
  }

  async #run(args: string[]): Promise<{ stdout: Buffer }> {
    const argv = [await this.#binaryPath(), '--root', this.stateRoot, ...args];
    return runCommand(argv);
  }
}

/** Finds a bare command name in the usual folders; a path is returned as given. */
async function resolveBinary(binary: string): Promise<string> {
  if (binary.includes('/')) return binary;
  for (const folder of commandPath.split(':')) {
    const candidate = path.join(folder, binary);
    try {
      await fs.access(candidate, fs.constants.X_OK);
      return candidate;
    } catch {
      // not in this folder
    }
  }
  throw new OciRuntimeError({ argv: [binary], exitCode: null, stderr: `${binary} not found in ${commandPath}` });
}

function runCommand(argv: string[]): Promise<{ stdout: Buffer }> {
  const [file, ...args] = argv as [string, ...string[]];
  return new Promise((resolve, reject) => {
    const child = spawn(file, args, { stdio: ['ignore', 'pipe', 'pipe'], env: { PATH: commandPath, LC_ALL: 'C' } });
    const stdout: Buffer[] = [];
    const stderr: Buffer[] = [];
    child.stdout.on('data', (chunk: Buffer) => stdout.push(chunk));
    child.stderr.on('data', (chunk: Buffer) => stderr.push(chunk));
    child.once('error', (error) => reject(new OciRuntimeError({ argv, exitCode: null, stderr: error.message, cause: error })));
    child.once('close', (exitCode) => {
      if (exitCode === 0) resolve({ stdout: Buffer.concat(stdout) });
      else reject(new OciRuntimeError({ argv, exitCode, stderr: Buffer.concat(stderr).toString('utf8') }));
    });
  });
}

/** Output kept up to a cap; what goes past it is read and dropped so the process never blocks. */
class CappedOutput {
  readonly #chunks: Buffer[] = [];
  #size = 0;
  constructor(readonly cap: number) {}
  push(chunk: Buffer): void {
    const room = this.cap - this.#size;
    if (room <= 0) return;
    const kept = chunk.length > room ? chunk.subarray(0, room) : chunk;
    this.#chunks.push(kept);
    this.#size += kept.length;
  }
  get buffer(): Buffer {
    return Buffer.concat(this.#chunks);
  }
}

// After the runtime exits, output still held open by a leftover background process is waited for this long.
const execDrainMs = 500;

function runExec(argv: string[], pidFile: string, timeoutMs: number | undefined, maxOutputBytes: number): Promise<OciExecResult> {
  const [file, ...args] = argv as [string, ...string[]];
  return new Promise((resolve, reject) => {
    const child = spawn(file, args, { stdio: ['ignore', 'pipe', 'pipe'], env: { PATH: commandPath, LC_ALL: 'C' } });
    const stdout = new CappedOutput(maxOutputBytes);
    const stderr = new CappedOutput(maxOutputBytes);
    child.stdout.on('data', (chunk: Buffer) => stdout.push(chunk));
    child.stderr.on('data', (chunk: Buffer) => stderr.push(chunk));
    let timedOut = false;
    let settled = false;
    let drainTimer: NodeJS.Timeout | undefined;
    const timer =
      timeoutMs === undefined || timeoutMs <= 0
        ? undefined
        : setTimeout(() => {
            timedOut = true;
            void killExecProcess(pidFile).finally(() => child.kill('SIGKILL'));
          }, timeoutMs);
    const finish = (exitCode: number | null, signal: NodeJS.Signals | null): void => {
      if (settled) return;
      settled = true;
      if (timer !== undefined) clearTimeout(timer);
      if (drainTimer !== undefined) clearTimeout(drainTimer);
      child.stdout.destroy();
      child.stderr.destroy();
      const code = timedOut ? -1 : exitCode ?? 128 + signalNumber(signal);
      const errorText = stderr.buffer.toString('utf8');
      // runc answers 255 when it could not run the process at all (no such container, bad process): that is the runtime's error.
      if (!timedOut && exitCode === 255 && /level=error|^exec failed|container .* (not|does)/m.test(errorText)) {
        reject(new OciRuntimeError({ argv, exitCode, stderr: errorText }));
        return;
      }
      resolve({ stdout: stdout.buffer, stderr: stderr.buffer, exitCode: code, timedOut });
    };
    child.once('error', (error) => {
      if (timer !== undefined) clearTimeout(timer);
      settled = true;
      reject(new OciRuntimeError({ argv, exitCode: null, stderr: error.message, cause: error }));
    });
    child.once('exit', (exitCode, signal) => {
      drainTimer = setTimeout(() => finish(exitCode, signal), execDrainMs);
      child.once('close', () => finish(exitCode, signal));
    });
  });
}

async function killExecProcess(pidFile: string): Promise<void> {
  try {
    const pid = Number.parseInt(await fs.readFile(pidFile, 'utf8'), 10);
    if (Number.isSafeInteger(pid) && pid > 0) process.kill(pid, 'SIGKILL');
  } catch {
    // not started yet, or already gone: killing the runtime below is enough
  }
}

function signalNumber(signal: NodeJS.Signals | null): number {
  return signal === null ? 0 : os.constants.signals[signal];
}
