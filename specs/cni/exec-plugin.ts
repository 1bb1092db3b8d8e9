import { spawn } from 'node:child_process';
import { CniError } from './cni-error.js';
import type { CniVerb } from './versions.js';

/** The CNI parameters of one call, as environment variables will carry them. */
export interface PluginCall {
  readonly verb: CniVerb;
  readonly containerId?: string;
  readonly netns?: string;
  readonly ifName?: string;
  readonly args?: readonly (readonly [string, string])[];
  readonly cniPath: readonly string[];
}

/** Options for {@link execPlugin}. */
export interface ExecPluginOptions {
  /** A command that runs the plugin elsewhere, e.g. `['nsenter', '--net=/run/netns/node']`. */
  readonly wrapper?: readonly string[];
  readonly timeoutMs?: number;
  /** Extra environment (e.g. PATH); the CNI_ variables always come from the call. */
  readonly env?: Readonly<Record<string, string>>;
}

/** What a plugin process did. */
export interface PluginRun {
  readonly exitCode: number | null;
  readonly signal: NodeJS.Signals | null;
  readonly stdout: string;
  readonly stderr: string;
  readonly durationMs: number;
}

/** The environment a CNI call puts in front of a plugin. */
export function cniEnvironment(call: PluginCall): Record<string, string> {
  const env: Record<string, string> = { CNI_COMMAND: call.verb, CNI_PATH: call.cniPath.join(':') };
  if (call.containerId !== undefined) env['CNI_CONTAINERID'] = call.containerId;
  if (call.netns !== undefined) env['CNI_NETNS'] = call.netns;
  if (call.ifName !== undefined) env['CNI_IFNAME'] = call.ifName;
  if (call.args !== undefined && call.args.length > 0) env['CNI_ARGS'] = call.args.map(([k, v]) => `${k}=${v}`).join(';');
  return env;
}

/**
 * Runs a plugin executable as a child process with its own environment and
 * stdin, never touching this process's environment, and collects what it
 * printed. Rejects only when the process cannot be started or times out.
 */
export function runPluginProcess(
  pluginPath: string,
  env: Readonly<Record<string, string>>,
  stdin: string,
  options: ExecPluginOptions = {},
): Promise<PluginRun> {
  const started = performance.now();
  const [command, ...args] = [...(options.wrapper ?? []), pluginPath];
  return new Promise((resolve, reject) => {
    const child = spawn(command ?? pluginPath, args, {
      env: { PATH: process.env['PATH'] ?? '/usr/sbin:/usr/bin:/sbin:/bin', ...options.env, ...env },
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    const stdout: Buffer[] = [];
    const stderr: Buffer[] = [];
    child.stdout.on('data', (chunk: Buffer) => stdout.push(chunk));
    child.stderr.on('data', (chunk: Buffer) => stderr.push(chunk));
    const timer =
      options.timeoutMs === undefined
        ? undefined
        : setTimeout(() => {
            child.kill('SIGKILL');
            reject(new CniError({ code: 'IO_FAILURE', msg: `plugin ${pluginPath} did not finish within ${options.timeoutMs} ms` }));
          }, options.timeoutMs);
    child.once('error', (error) => {
      clearTimeout(timer);
      reject(new CniError({ code: 'IO_FAILURE', msg: `cannot run plugin ${pluginPath}`, details: error.message, cause: error }));
    });
    child.once('close', (exitCode, signal) => {
      clearTimeout(timer);
      resolve({
        exitCode,
        signal,
        stdout: Buffer.concat(stdout).toString('utf8'),
        stderr: Buffer.concat(stderr).toString('utf8'),
        durationMs: performance.now() - started,
      });
    });
    child.stdin.on('error', () => {
      // A plugin may exit without reading stdin (VERSION); its exit status tells what happened.
    });
    child.stdin.end(stdin);
  });
}

/**
 * Runs a plugin for one call and reads its answer the way libcni does: exit
 * 0 with JSON (or nothing) on stdout is success; anything else is the error
 * JSON on stdout turned into a CniError with the plugin's code.
 */
export async function execPlugin(
  pluginPath: string,
  call: PluginCall,
  stdin: string,
  options: ExecPluginOptions = {},
): Promise<{ result: unknown; run: PluginRun }> {
  const run = await runPluginProcess(pluginPath, cniEnvironment(call), stdin, options);
  if (run.exitCode === 0) {
    if (run.stdout.trim() === '') return { result: undefined, run };
    try {
      return { result: JSON.parse(run.stdout), run };
    } catch (error) {
      throw new CniError({ code: 'DECODE_FAILURE', msg: `plugin ${pluginPath} printed a result that is not JSON`, details: (error as Error).message });
    }
  }
  throw pluginFailure(pluginPath, run);
}

/** The CniError a failed plugin run stands for. */
export function pluginFailure(pluginPath: string, run: PluginRun): CniError {
  try {
    const body = JSON.parse(run.stdout) as { code?: unknown; msg?: unknown; details?: unknown };
    if (typeof body.code === 'number' && typeof body.msg === 'string') {
      return new CniError({ code: body.code, msg: body.msg, ...(typeof body.details === 'string' ? { details: body.details } : {}) });
    }
  } catch {
    // Not error JSON: report what the process did instead.
  }
  const how = run.signal === null ? `exit status ${run.exitCode}` : `signal ${run.signal}`;
  return new CniError({ code: 'INTERNAL', msg: `plugin ${pluginPath} failed with ${how} and no error JSON`, details: run.stderr.trim().slice(0, 2000) });
}
