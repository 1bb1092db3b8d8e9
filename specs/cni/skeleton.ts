import { readFileSync } from 'node:fs';
import { CniError } from './cni-error.js';
import { convertResult } from './result-conversion.js';
import type { AnyResult, Attachment, NetConf, Result100 } from './types.js';
import { decodeJsonObject, parseCniArgs, validateEnvironment, validateNetConf } from './validate.js';
import { atLeast, cniVerbs, isCniVerb, type CniVerb } from './versions.js';

/** What a verb handler is given: the decoded configuration and the protocol parameters. */
export interface PluginRequest {
  readonly verb: CniVerb;
  readonly conf: NetConf;
  /** The configuration exactly as read from stdin, for delegation to IPAM plugins. */
  readonly stdin: string;
  readonly containerId: string;
  readonly netns: string;
  readonly ifName: string;
  readonly args: readonly [string, string][];
  readonly cniPath: readonly string[];
  /** The whole environment the plugin was started with (for delegation). */
  readonly env: Readonly<Record<string, string | undefined>>;
}

/** A GC request: the attachments still valid, from `cni.dev/valid-attachments`. */
export interface GcRequest extends PluginRequest {
  readonly validAttachments: readonly Attachment[];
}

/**
 * A plugin as a table from verb to handler. ADD returns a result in the 1.0.0
 * shape (the skeleton converts it to the requested version); the others
 * return nothing. Handlers throw CniError where they detect a problem.
 */
export interface PluginHandlers {
  add(request: PluginRequest): Promise<Result100>;
  del(request: PluginRequest): Promise<void>;
  check(request: PluginRequest): Promise<void>;
  gc?(request: GcRequest): Promise<void>;
  status?(request: PluginRequest): Promise<void>;
}

/** Everything the skeleton needs to know about a plugin. */
export interface PluginDefinition {
  /** Shown when the plugin is run by hand without CNI_COMMAND. */
  readonly about: string;
  readonly supportedVersions: readonly string[];
  readonly handlers: PluginHandlers;
}

/** One invocation's inputs. */
export interface Invocation {
  readonly env: Readonly<Record<string, string | undefined>>;
  readonly stdin: string;
}

/** One invocation's outputs, before they reach the process. */
export interface InvocationOutcome {
  readonly exitCode: number;
  readonly stdout: string;
  readonly stderr: string;
}

const cniVersionOfErrors = (stdin: string, supported: readonly string[]): string => {
  try {
    const version = (JSON.parse(stdin) as { cniVersion?: unknown }).cniVersion;
    if (typeof version === 'string' && supported.includes(version)) return version;
  } catch {
    // An undecodable config still gets an error in the newest version we speak.
  }
  return supported[supported.length - 1] ?? '1.1.0';
};

/**
 * Runs one CNI invocation: reads the verb from the environment, validates
 * environment and configuration, negotiates the version, dispatches to the
 * handler, and renders the result or the error JSON with exit status 1.
 * Pure apart from the handlers, so it is tested without a process.
 */
export async function dispatch(plugin: PluginDefinition, invocation: Invocation): Promise<InvocationOutcome> {
  const { env, stdin } = invocation;
  const command = env['CNI_COMMAND'];
  try {
    if (command === undefined || command === '') {
      return { exitCode: 0, stdout: '', stderr: `${plugin.about}\nCNI protocol versions supported: ${plugin.supportedVersions.join(', ')}\n` };
    }
    if (!isCniVerb(command)) {
      throw new CniError({ code: 'INVALID_ENVIRONMENT', msg: `unknown CNI_COMMAND "${command}"`, details: `one of ${Object.keys(cniVerbs).join(', ')}` });
    }
    if (command === 'VERSION') return success(versionResult(plugin, stdin));
    validateEnvironment(command, env);
    const decoded = decodeJsonObject(stdin);
    // A request without a version asks for the oldest result format (SPEC.md § Version considerations).
    const conf = validateNetConf(decoded['cniVersion'] === undefined ? { ...decoded, cniVersion: '0.1.0' } : decoded);
    if (!plugin.supportedVersions.includes(conf.cniVersion)) {
      throw new CniError({
        code: 'INCOMPATIBLE_VERSION',
        msg: `incompatible CNI versions: config is "${conf.cniVersion}", plugin supports ${JSON.stringify(plugin.supportedVersions)}`,
      });
    }
    if (!atLeast(conf.cniVersion, cniVerbs[command])) {
      throw new CniError({ code: 'INCOMPATIBLE_VERSION', msg: `${command} needs spec ${cniVerbs[command]} or later; the config says ${conf.cniVersion}` });
    }
    const request: PluginRequest = {
      verb: command,
      conf,
      stdin,
      containerId: env['CNI_CONTAINERID'] ?? '',
      netns: env['CNI_NETNS'] ?? '',
      ifName: env['CNI_IFNAME'] ?? '',
      args: parseCniArgs(env['CNI_ARGS'] ?? ''),
      cniPath: (env['CNI_PATH'] ?? '').split(':').filter((dir) => dir !== ''),
      env,
    };
    switch (command) {
      case 'ADD': {
        const result = await plugin.handlers.add(request);
        return success(convertResult({ ...result, cniVersion: '1.1.0' }, conf.cniVersion));
      }
      case 'DEL':
        await plugin.handlers.del(request);
        return success(undefined);
      case 'CHECK':
        await plugin.handlers.check(request);
        return success(undefined);
      case 'GC': {
        if (plugin.handlers.gc === undefined) return success(undefined);
        await plugin.handlers.gc({ ...request, validAttachments: validAttachmentsOf(conf) });
        return success(undefined);
      }
      case 'STATUS':
        if (plugin.handlers.status !== undefined) await plugin.handlers.status(request);
        return success(undefined);
    }
  } catch (thrown) {
    const error = CniError.from(thrown);
    const stderr = error.code === 999 ? `${thrown instanceof Error ? (thrown.stack ?? thrown.message) : String(thrown)}\n` : '';
    return { exitCode: 1, stdout: `${JSON.stringify(error.toJson(cniVersionOfErrors(stdin, plugin.supportedVersions)))}\n`, stderr };
  }
}

function success(result: AnyResult | { cniVersion: string; supportedVersions: string[] } | undefined): InvocationOutcome {
  return { exitCode: 0, stdout: result === undefined ? '' : `${JSON.stringify(result)}\n`, stderr: '' };
}

function versionResult(plugin: PluginDefinition, stdin: string): { cniVersion: string; supportedVersions: string[] } {
  // VERSION answers in the version the caller asked for when we speak it, else our newest.
  return { cniVersion: cniVersionOfErrors(stdin, plugin.supportedVersions), supportedVersions: [...plugin.supportedVersions] };
}

function validAttachmentsOf(conf: NetConf): Attachment[] {
  const raw = conf['cni.dev/valid-attachments'];
  if (raw === undefined) return [];
  if (!Array.isArray(raw) || !raw.every((item) => typeof item?.containerID === 'string' && typeof item?.ifname === 'string')) {
    throw new CniError({ code: 'INVALID_NETWORK_CONFIG', msg: 'invalid network configuration: field "cni.dev/valid-attachments" must be a list of {containerID, ifname}' });
  }
  return raw as Attachment[];
}

/**
 * The entry point of a plugin executable: reads the process's environment
 * and stdin, dispatches, writes the outcome and sets the exit status.
 */
export async function runPlugin(plugin: PluginDefinition): Promise<void> {
  const command = process.env['CNI_COMMAND'];
  let stdin = '';
  // VERSION may come with no stdin at all; do not wait on a terminal for it.
  if (!(command === 'VERSION' && process.stdin.isTTY === true) && command !== undefined && command !== '') {
    try {
      // Read fd 0 directly so an unreadable stdin (a directory, a closed descriptor) is an error, not empty input.
      stdin = readFileSync(0, 'utf8');
    } catch (error) {
      const failure = new CniError({ code: 'IO_FAILURE', msg: 'cannot read the network configuration from stdin', details: (error as Error).message });
      process.stdout.write(`${JSON.stringify(failure.toJson(plugin.supportedVersions[plugin.supportedVersions.length - 1] ?? '1.1.0'))}\n`, () => {
        process.exitCode = 1;
      });
      return;
    }
  }
  const outcome = await dispatch(plugin, { env: process.env, stdin });
  if (outcome.stderr !== '') process.stderr.write(outcome.stderr);
  process.stdout.write(outcome.stdout, () => {
    process.exitCode = outcome.exitCode;
  });
}
