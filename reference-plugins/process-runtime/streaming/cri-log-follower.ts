import fs from 'node:fs/promises';
import { PassThrough } from 'node:stream';
import type { ContainerOutput } from './streaming-runtime.js';

/** A CRI log line: `<RFC3339Nano> <stdout|stderr> <P|F> <text>`. */
const logLine = /^\S+ (stdout|stderr) ([PF])(?: (.*))?$/s;

// While a reader is this far behind, the follower stops reading the file.
const highWaterBytes = 1024 * 1024;

/**
 * Follows a container's CRI log file from its current end: each new full
 * line's text goes to stdout or stderr (with the newline back for an F
 * line), across rotations (the path then names a new file; the old one is
 * read to its end first). When `hasExited` says so, the file is read a
 * last time and both streams end. An empty `logPath` (no log was asked
 * for) gives no output, only the end.
 */
export function followCriLog(o: { logPath: string; hasExited: () => Promise<boolean>; pollMs?: number }): ContainerOutput {
  const stdout = new PassThrough();
  const stderr = new PassThrough();
  const pollMs = o.pollMs ?? 100;
  let stopped = false;
  let wake: (() => void) | undefined;
  const stop = (): void => {
    stopped = true;
    wake?.();
  };
  const ended = (async () => {
    let file: fs.FileHandle | undefined;
    let position = 0;
    let partial = Buffer.alloc(0);
    const emit = (line: string): void => {
      const match = logLine.exec(line);
      if (match === null) return;
      const text = (match[3] ?? '') + (match[2] === 'F' ? '\n' : '');
      (match[1] === 'stderr' ? stderr : stdout).write(text);
    };
    const readNew = async (): Promise<void> => {
      if (file === undefined) return;
      for (;;) {
        const chunk = Buffer.alloc(64 * 1024);
        const { bytesRead } = await file.read(chunk, 0, chunk.length, position);
        if (bytesRead === 0) return;
        position += bytesRead;
        const data = Buffer.concat([partial, chunk.subarray(0, bytesRead)]);
        const lastNewline = data.lastIndexOf(0x0a);
        partial = lastNewline < 0 ? data : Buffer.from(data.subarray(lastNewline + 1));
        if (lastNewline >= 0) for (const line of data.subarray(0, lastNewline).toString('utf8').split('\n')) emit(line);
      }
    };
    const openCurrent = async (fromStart: boolean): Promise<void> => {
      try {
        file = await fs.open(o.logPath, 'r');
        position = fromStart ? 0 : (await file.stat()).size;
        partial = Buffer.alloc(0);
      } catch {
        file = undefined;
      }
    };
    try {
      if (o.logPath !== '') await openCurrent(false);
      while (!stopped) {
        const exited = await o.hasExited();
        if (o.logPath !== '' && stdout.writableLength < highWaterBytes && stderr.writableLength < highWaterBytes) {
          await readNew();
          const current = await fs.stat(o.logPath).catch(() => undefined);
          const held = file === undefined ? undefined : await file.stat().catch(() => undefined);
          if (current !== undefined && (held === undefined || current.ino !== held.ino || current.size < position)) {
            // Rotated (renamed and reopened by the shim) or truncated: the rest of the old file was read above.
            await file?.close();
            await openCurrent(true);
            await readNew();
          }
        }
        if (exited) {
          await readNew();
          break;
        }
        await new Promise<void>((resolve) => {
          wake = resolve;
          setTimeout(resolve, pollMs).unref();
        });
      }
    } finally {
      await file?.close();
      stdout.end();
      stderr.end();
    }
  })();
  ended.catch(() => undefined);
  return { stdout, stderr, ended, stop };
}
