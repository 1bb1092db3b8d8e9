import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import path from 'node:path';
import { packageRoot } from '../../specs/registry/index.js';

const root = packageRoot();

/** The built `kubeplug` entry point: the CLI tests drive what users run. */
export const cliPath = path.join(root, 'dist', 'runner', 'cli.js');

/** Runs the CLI to completion and returns its exit code and output. */
export function runCli(args: string[], options: { timeoutMs?: number } = {}): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(process.execPath, [cliPath, ...args], { cwd: root, timeout: options.timeoutMs ?? 60_000, maxBuffer: 16 * 1024 * 1024 }, (error, stdout, stderr) => {
      const code = error === null ? 0 : typeof error.code === 'number' ? error.code : -1;
      resolve({ code, stdout, stderr });
    });
  });
}

/** Starts a CSI Identity fixture as its own process and waits until it listens; killed in teardown. */
export function startFixtureProcess(
  t: { teardown(fn: () => unknown): void },
  fixture: string,
  endpoint: string,
): Promise<ChildProcess> {
  const script = path.join(root, 'dist', 'conformance', 'fixtures', 'csi-identity', 'serve-fixture.js');
  return startUntilReady(t, `fixture ${fixture}`, [script, fixture, endpoint]);
}

/**
 * Starts `kubeplug serve csi` (the dir-volume driver) with its state in
 * `driverRoot` and waits until it listens; stopped with SIGTERM in teardown.
 */
export function startCsiDriverProcess(
  t: { teardown(fn: () => unknown): void },
  endpoint: string,
  driverRoot: string,
): Promise<ChildProcess> {
  return startUntilReady(t, 'kubeplug serve csi', [cliPath, 'serve', 'csi', '--endpoint', endpoint, '--root', driverRoot, '--node-id', 'kubeplug-test-node']);
}

/** Spawns Node with `args`, waits for its `ready …` line, and stops it in teardown. */
async function startUntilReady(t: { teardown(fn: () => unknown): void }, what: string, args: string[]): Promise<ChildProcess> {
  const child = spawn(process.execPath, args, { stdio: ['ignore', 'pipe', 'inherit'] });
  t.teardown(async () => {
    if (child.exitCode === null && child.signalCode === null) {
      child.kill('SIGTERM');
      await once(child, 'exit');
    }
  });
  const [chunk] = (await once(child.stdout!, 'data')) as [Buffer];
  if (!chunk.toString().startsWith('ready ')) throw new Error(`${what} did not start: ${chunk.toString()}`);
  return child;
}
