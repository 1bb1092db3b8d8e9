import { spawn, type ChildProcessByStdio } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { Readable, Writable } from 'node:stream';
import { fileURLToPath } from 'node:url';
import { createCommandVolumeSystem } from '../command-volume-system.js';
import { mountFlagsOf, VolumeSystemError, type VolumeSystem } from '../volume-system.js';
import { decodeMountServerAnswers, encodeMountServerRequest, type MountServerAnswer, type MountServerOp } from './mount-server-protocol.js';

/**
 * Where `npm run build` puts the compiled server: next to this module in
 * dist/, or (when this module runs from source, as the kit's tests do) in
 * the package's dist/ folder.
 */
export function defaultMountServerPath(): string {
  const here = path.dirname(fileURLToPath(import.meta.url));
  const sibling = path.join(here, 'kubeplug-mount-server');
  if (fs.existsSync(sibling)) return sibling;
  return path.join(here, '..', '..', '..', 'dist', 'reference-plugins', 'dir-volume', 'mount-server', 'kubeplug-mount-server');
}

type ServerProcess = ChildProcessByStdio<Writable, Readable, null>;

/** A {@link VolumeSystem} that may be served by the mount server, and says so. */
export interface MountServerSystem extends VolumeSystem {
  /** False when the binary was missing and mount(8)/losetup(8) serve instead. */
  readonly usesServer: boolean;
  /** The running server's pid, undefined before first use or after it died. */
  readonly serverPid: number | undefined;
}

interface Pending {
  readonly op: MountServerOp;
  readonly resolve: (answer: MountServerAnswer) => void;
  readonly reject: (error: Error) => void;
}

/**
 * The {@link VolumeSystem} through kubeplug-mount-server (mount-server.c):
 * one resident child, started on first use and again after it dies. When
 * the binary is missing the command implementation serves instead. A call
 * in flight when the server dies fails with code `EUNKNOWN`: whether it took
 * effect is unknown, so the driver reads the mount table before it acts again.
 */
export function createMountServerSystem(options: { readonly binary?: string } = {}): MountServerSystem {
  const binary = options.binary ?? defaultMountServerPath();
  const commands = createCommandVolumeSystem();
  if (!fs.existsSync(binary)) return Object.assign(commands, { serverPid: undefined, usesServer: false });

  const names = Object.fromEntries(Object.entries(os.constants.errno).map(([name, value]) => [value, name])) as Record<number, string>;
  const pending = new Map<number, Pending>();
  let server: ServerProcess | undefined;
  let nextId = 1;
  let closed = false;

  const start = (): ServerProcess => {
    const child = spawn(binary, [], { stdio: ['pipe', 'pipe', 'inherit'] });
    let buffered: Buffer = Buffer.alloc(0);
    child.stdout.on('data', (chunk: Buffer) => {
      buffered = Buffer.concat([buffered, chunk]);
      let decoded: ReturnType<typeof decodeMountServerAnswers>;
      try {
        decoded = decodeMountServerAnswers(buffered);
      } catch (error) {
        child.kill('SIGKILL');
        failAll(`the mount server answered garbage (${(error as Error).message})`);
        return;
      }
      buffered = decoded.rest;
      for (const answer of decoded.answers) {
        const waiting = pending.get(answer.id);
        pending.delete(answer.id);
        waiting?.resolve(answer);
      }
    });
    // A write to a server that just died must not crash the driver: the exit handler fails the calls.
    child.stdin.on('error', () => undefined);
    child.once('error', () => undefined);
    child.once('exit', (code, signal) => {
      if (server === child) server = undefined;
      failAll(`the mount server exited (${signal ?? `status ${String(code)}`})`);
    });
    return child;
  };

  const failAll = (reason: string): void => {
    for (const [id, waiting] of pending) {
      pending.delete(id);
      waiting.reject(new VolumeSystemError({ operation: waiting.op, code: 'EUNKNOWN', message: `${reason} with the call in flight; its outcome is unknown` }));
    }
  };

  const call = (op: MountServerOp, args: readonly string[]): Promise<MountServerAnswer> => {
    if (closed) return Promise.reject(new VolumeSystemError({ operation: op, code: 'ESHUTDOWN', message: 'the driver is stopping' }));
    if (args.some((arg) => arg.includes('\0'))) {
      return Promise.reject(new VolumeSystemError({ operation: op, code: 'EINVAL', message: 'an argument contains a NUL byte' }));
    }
    server ??= start();
    const id = nextId;
    nextId = nextId >= 0xffff_fff0 ? 1 : nextId + 1;
    const child = server;
    return new Promise((resolve, reject) => {
      pending.set(id, { op, resolve, reject });
      child.stdin.write(encodeMountServerRequest(id, op, args));
    });
  };

  const errnoCheck = (operation: string, answer: MountServerAnswer, subject: string): void => {
    if (answer.status === 0) return;
    const code = names[answer.status] ?? `errno ${answer.status}`;
    throw new VolumeSystemError({ operation, code, message: `${subject}: ${code} (${describe(code)})` });
  };

  return {
    get serverPid() {
      return server?.pid;
    },
    usesServer: true,
    async mount(request) {
      const { flags, data } = mountFlagsOf(request);
      const answer = await call('mount', [request.source, request.target, request.bind === true ? '' : (request.fsType ?? ''), String(flags), data]);
      errnoCheck('mount', answer, `${request.source} on ${request.target}`);
    },
    async unmount(target, options = {}) {
      // MNT_DETACH is 2 in <sys/mount.h>.
      const answer = await call('umount', [target, options.lazy === true ? '2' : '0']);
      errnoCheck('umount', answer, target);
    },
    async attachLoop(file, options) {
      const answer = await call('loopAttach', [file, options.readOnly ? '1' : '0']);
      errnoCheck('loop attach', answer, file);
      return answer.text;
    },
    async detachLoop(device) {
      const answer = await call('loopDetach', [device]);
      errnoCheck('loop detach', answer, device);
    },
    async run(argv) {
      const answer = await call('exec', argv);
      if (answer.status === 0) return answer.text;
      const reason = answer.status < 0 ? `could not start: ${names[-answer.status] ?? answer.status}` : `exit status ${answer.status}`;
      throw new VolumeSystemError({ operation: argv[0] ?? 'exec', code: 'EIO', message: `${argv.join(' ')}: ${answer.text.trim() || reason}` });
    },
    async close() {
      closed = true;
      const child = server;
      server = undefined;
      if (child !== undefined && child.exitCode === null && child.signalCode === null) {
        child.stdin.end();
        await new Promise<void>((resolve) => {
          const timer = setTimeout(() => child.kill('SIGKILL'), 2000);
          child.once('exit', () => {
            clearTimeout(timer);
            resolve();
          });
        });
      }
      await commands.close();
    },
  };
}

/** A short human reason for the errno names the driver meets most. */
function describe(code: string): string {
  const reasons: Record<string, string> = {
    EBUSY: 'busy',
    ENOENT: 'no such file or directory',
    EINVAL: 'invalid argument or not a mount point',
    EPERM: 'not permitted (needs root)',
    ENOSPC: 'no space left',
    ENXIO: 'no such device',
    ENOTDIR: 'not a directory',
    EROFS: 'read-only filesystem',
  };
  return reasons[code] ?? 'see errno(3)';
}
