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

/** The node ID {@link startCsiDriverProcess} gives the driver (a restart script must give the same). */
export const csiTestNodeId = 'kubeplug-test-node';

/** The argv (after Node) of `kubeplug serve csi` on `endpoint` with its state in `driverRoot`. */
export function csiDriverArgs(endpoint: string, driverRoot: string): string[] {
  return [cliPath, 'serve', 'csi', '--endpoint', endpoint, '--root', driverRoot, '--node-id', csiTestNodeId];
}

/**
 * Starts `kubeplug serve csi` (the dir-volume driver) with its state in
 * `driverRoot` and waits until it listens; stopped with SIGTERM in teardown.
 * `env` adds to this process's environment (e.g. KUBEPLUG_CSI_CRASH_AT).
 */
export function startCsiDriverProcess(
  t: { teardown(fn: () => unknown): void },
  endpoint: string,
  driverRoot: string,
  options: { env?: Readonly<Record<string, string>> } = {},
): Promise<ChildProcess> {
  return startUntilReady(t, 'kubeplug serve csi', csiDriverArgs(endpoint, driverRoot), options.env);
}

/** Starts a broken CSI driver (conformance/fixtures/csi-driver) as its own process; stopped with SIGTERM in teardown. */
export function startBrokenDriverProcess(
  t: { teardown(fn: () => unknown): void },
  fixture: string,
  endpoint: string,
  driverRoot: string,
): Promise<ChildProcess> {
  const script = path.join(root, 'dist', 'conformance', 'fixtures', 'csi-driver', 'serve-broken-driver.js');
  return startUntilReady(t, `broken driver ${fixture}`, [script, fixture, endpoint, '--root', driverRoot]);
}

/** Spawns Node with `args` (and `env` added to ours), waits for its `ready …` line, and stops it in teardown. */
async function startUntilReady(t: { teardown(fn: () => unknown): void }, what: string, args: string[], env?: Readonly<Record<string, string>>): Promise<ChildProcess> {
  const child = spawn(process.execPath, args, { stdio: ['ignore', 'pipe', 'inherit'], ...(env === undefined ? {} : { env: { ...process.env, ...env } }) });
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
