import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import path from 'node:path';
import { packageRoot } from '../../specs/registry/index.js';

const root = packageRoot();

/** The built `kubeplug` entry point: the CLI tests drive what users run. */
export const cliPath = path.join(root, 'dist', 'runner', 'cli.js');

/** Runs the CLI to completion and returns its exit code and output. */
export function runCli(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(process.execPath, [cliPath, ...args], { cwd: root, timeout: 60_000 }, (error, stdout, stderr) => {
      const code = error === null ? 0 : typeof error.code === 'number' ? error.code : -1;
      resolve({ code, stdout, stderr });
    });
  });
}

/** Starts a CSI Identity fixture as its own process and waits until it listens; killed in teardown. */
export async function startFixtureProcess(
  t: { teardown(fn: () => unknown): void },
  fixture: string,
  endpoint: string,
): Promise<ChildProcess> {
  const script = path.join(root, 'dist', 'conformance', 'fixtures', 'csi-identity', 'serve-fixture.js');
  const child = spawn(process.execPath, [script, fixture, endpoint], { stdio: ['ignore', 'pipe', 'inherit'] });
  t.teardown(async () => {
    if (child.exitCode === null && child.signalCode === null) {
      child.kill('SIGTERM');
      await once(child, 'exit');
    }
  });
  const [chunk] = (await once(child.stdout!, 'data')) as [Buffer];
  if (!chunk.toString().startsWith('ready ')) throw new Error(`fixture ${fixture} did not start: ${chunk.toString()}`);
  return child;
}
