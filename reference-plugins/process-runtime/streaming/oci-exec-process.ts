import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import type { OciRuntime } from '../oci/oci-runtime.js';
import type { OciProcess } from '../oci/oci-spec.js';
import type { StreamingProcess } from './streaming-runtime.js';

// Debian keeps runc in /usr/sbin; a service manager's PATH may lack it.
const commandPath = '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin';

/** After the runtime exits, output still held open by a leftover background process is waited for this long. */
const outputDrainMs = 500;

/** How long kill() waits for the runtime to write the command's pid file. */
const pidFileWaitMs = 5000;

/** The runtime binary's absolute path (a bare name is searched in the usual folders). */
async function runtimePath(binary: string): Promise<string> {
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
  return binary;
}

/** One shell word per argument, single-quoted. */
function shellQuote(argv: readonly string[]): string {
  return argv.map((arg) => `'${arg.replace(/'/g, `'\\''`)}'`).join(' ');
}

/** The error messages the runtime logged (JSON log lines at level error), joined. */
async function runtimeErrors(logFile: string): Promise<string> {
  const text = await fs.readFile(logFile, 'utf8').catch(() => '');
  const messages: string[] = [];
  for (const line of text.split('\n')) {
    if (line.trim() === '') continue;
    try {
      const entry = JSON.parse(line) as { level?: string; msg?: string };
      if ((entry.level === 'error' || entry.level === 'fatal') && entry.msg !== undefined) messages.push(entry.msg);
    } catch {
      messages.push(line);
    }
  }
  return messages.join('; ');
}

/**
 * Starts `process` in a running container with `<runtime> exec --process`,
 * its standard streams on pipes (not collected, unlike OciRuntime.exec).
 * With `process.terminal` the runtime, running in the foreground under
 * script(1) (util-linux), allocates the container's terminal and copies
 * between it and the terminal script lends it; resizes are not passed on
 * (the size stays the default), since the runtime reads sizes from its own
 * terminal, which script sizes from its stdin, a pipe. The runtime's own messages go to a JSON log
 * file, so a failure to start is told apart from the command's stderr.
 */
export async function startOciExec(oci: OciRuntime, containerId: string, process: OciProcess, o: { stdin: boolean }): Promise<StreamingProcess> {
  const token = randomBytes(8).toString('hex');
  const base = path.join(oci.stateRoot, `stream-exec-${token}`);
  const files = { process: `${base}.json`, pid: `${base}.pid`, log: `${base}.log` };
  await fs.mkdir(oci.stateRoot, { recursive: true, mode: 0o700 });
  await fs.writeFile(files.process, JSON.stringify(process), { mode: 0o600 });
  const argv = ['--root', oci.stateRoot, '--log', files.log, '--log-format', 'json', 'exec', '--process', files.process, '--pid-file', files.pid, containerId];
  const runtime = await runtimePath(oci.binary);
  const terminal = process.terminal === true;
  // runc in the foreground copies between the container's terminal and its own, which must be a terminal too: script(1) lends it one.
  const [file, ...args] = terminal ? ['script', '--quiet', '--return', '--echo', 'never', '--command', shellQuote([runtime, ...argv]), '/dev/null'] : [runtime, ...argv];
  const child = spawn(file ?? runtime, args, { stdio: [o.stdin || terminal ? 'pipe' : 'ignore', 'pipe', 'pipe'], env: { PATH: commandPath, LC_ALL: 'C' } });
  // Without stdin, script still gets a pipe, left open: at end-of-file it would type an EOF character into the terminal.
  const { stdout, stderr } = child;
  // Both are 'pipe' above; the check narrows the types.
  if (stdout === null || stderr === null) throw new Error('the runtime was started without output pipes');
  const removeFiles = (): Promise<unknown> => Promise.all(Object.values(files).map((file) => fs.rm(file, { force: true })));
  let exited = false;
  const exitedPromise = new Promise<number>((resolve, reject) => {
    child.once('error', (error) => {
      exited = true;
      void removeFiles().finally(() => reject(new Error(`could not run ${oci.binary}: ${error.message}`)));
    });
    child.once('exit', (code, signal) => {
      exited = true;
      const finish = (): void => {
        clearTimeout(drainTimer);
        // A background process of the command may keep the pipes open; its output past the drain time is not the command's.
        stdout.destroy();
        stderr.destroy();
        // The pipe kept open for script(1) without stdin, or one the client never ended.
        child.stdin?.destroy();
        void (async () => {
          const errors = code === 255 ? await runtimeErrors(files.log) : '';
          await removeFiles();
          if (errors !== '') reject(new Error(errors));
          else resolve(code ?? 128 + (signal === null ? 0 : os.constants.signals[signal]));
        })();
      };
      let drainTimer = setTimeout(function drainOrWait() {
        // Paused by back-pressure from a slow client: the output is the command's, wait for it.
        if (stdout.isPaused() || stderr.isPaused()) drainTimer = setTimeout(drainOrWait, outputDrainMs);
        else finish();
      }, outputDrainMs);
      let open = 2;
      const closed = (): void => {
        open -= 1;
        if (open === 0) finish();
      };
      if (stdout.readableEnded || stdout.destroyed) closed();
      else stdout.once('close', closed);
      if (stderr.readableEnded || stderr.destroyed) closed();
      else stderr.once('close', closed);
    });
  });
  // The caller learns of failures through `exited`; an unobserved rejection must not crash the runtime.
  exitedPromise.catch(() => undefined);
  return {
    stdin: o.stdin ? child.stdin : null,
    stdout,
    stderr: terminal ? null : stderr,
    exited: exitedPromise,
    kill: () => {
      if (exited) return;
      void (async () => {
        // The command may run (and write) before the runtime has written its pid file; killing the runtime first
        // would leave the command running with no pid file ever written, so wait for the file while the runtime lives.
        const until = Date.now() + pidFileWaitMs;
        for (;;) {
          try {
            const pid = Number.parseInt(await fs.readFile(files.pid, 'utf8'), 10);
            if (Number.isSafeInteger(pid) && pid > 0) globalThis.process.kill(pid, 'SIGKILL');
            break;
          } catch {
            if (exited || Date.now() >= until) break;
            await new Promise((resolve) => setTimeout(resolve, 20));
          }
        }
      })().finally(() => child.kill('SIGKILL'));
    },
  };
}
