import { CniError } from './cni-error.js';
import type { JsonObject, NetConf, NetConfList } from './types.js';
import type { CniVerb } from './versions.js';

/** The network name rule of SPEC.md § Configuration format (`name`). */
export const networkNamePattern = /^[a-zA-Z0-9][a-zA-Z0-9_.-]*$/;

/** The container ID rule of SPEC.md § Parameters (`CNI_CONTAINERID`). */
export const containerIdPattern = /^[a-zA-Z0-9][a-zA-Z0-9_.-]*$/;

/** Linux's interface name limit: IFNAMSIZ is 16 bytes with the terminating NUL. */
export const maxInterfaceNameLength = 15;

/** Environment variables each verb requires (SPEC.md § CNI operations, "Required environment parameters"). */
export const requiredEnvironment: Readonly<Record<CniVerb, readonly string[]>> = {
  ADD: ['CNI_COMMAND', 'CNI_CONTAINERID', 'CNI_NETNS', 'CNI_IFNAME'],
  DEL: ['CNI_COMMAND', 'CNI_CONTAINERID', 'CNI_IFNAME'],
  CHECK: ['CNI_COMMAND', 'CNI_CONTAINERID', 'CNI_NETNS', 'CNI_IFNAME'],
  GC: ['CNI_COMMAND', 'CNI_PATH'],
  STATUS: ['CNI_COMMAND'],
  VERSION: ['CNI_COMMAND'],
};

/** Parses JSON from stdin: a syntax error is DECODE_FAILURE (6), naming where it broke. */
export function decodeJsonObject(text: string, what = 'network configuration'): JsonObject {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (error) {
    throw new CniError({ code: 'DECODE_FAILURE', msg: `cannot decode the ${what}`, details: (error as Error).message });
  }
  if (value === null || typeof value !== 'object' || Array.isArray(value)) {
    throw new CniError({ code: 'DECODE_FAILURE', msg: `the ${what} is not a JSON object` });
  }
  return value as JsonObject;
}

function invalid(field: string, problem: string): CniError {
  return new CniError({ code: 'INVALID_NETWORK_CONFIG', msg: `invalid network configuration: field "${field}" ${problem}` });
}

function requireString(object: JsonObject, field: string, path = field): string {
  const value = object[field];
  if (value === undefined) throw invalid(path, 'is required');
  if (typeof value !== 'string' || value === '') throw invalid(path, 'must be a non-empty string');
  return value;
}

/**
 * Checks one plugin's configuration and returns it typed. Problems are
 * INVALID_NETWORK_CONFIG (7) naming the field; version support is the
 * caller's business (INCOMPATIBLE_VERSION).
 */
export function validateNetConf(object: JsonObject): NetConf {
  requireString(object, 'cniVersion');
  const name = requireString(object, 'name');
  if (!networkNamePattern.test(name)) throw invalid('name', 'must start with [a-zA-Z0-9] and hold only [a-zA-Z0-9_.-]');
  requireString(object, 'type');
  const ipam = object['ipam'];
  if (ipam !== undefined) {
    if (ipam === null || typeof ipam !== 'object' || Array.isArray(ipam)) throw invalid('ipam', 'must be an object');
    const ipamType = requireString(ipam as JsonObject, 'type', 'ipam.type');
    if (ipamType.includes('/') || ipamType === '.' || ipamType === '..') throw invalid('ipam.type', 'must be a bare file name');
  }
  for (const field of ['runtimeConfig', 'args', 'capabilities', 'dns', 'prevResult'] as const) {
    const value = object[field];
    if (value !== undefined && (value === null || typeof value !== 'object' || Array.isArray(value))) {
      throw invalid(field, 'must be an object');
    }
  }
  return object as NetConf;
}

/** Checks a configuration list and returns it typed, naming the bad field. */
export function validateNetConfList(object: JsonObject): NetConfList {
  requireString(object, 'cniVersion');
  const name = requireString(object, 'name');
  if (!networkNamePattern.test(name)) throw invalid('name', 'must start with [a-zA-Z0-9] and hold only [a-zA-Z0-9_.-]');
  const plugins = object['plugins'];
  if (!Array.isArray(plugins) || plugins.length === 0) throw invalid('plugins', 'must be a non-empty array');
  plugins.forEach((plugin, index) => {
    if (plugin === null || typeof plugin !== 'object' || Array.isArray(plugin)) throw invalid(`plugins[${index}]`, 'must be an object');
    requireString(plugin as JsonObject, 'type', `plugins[${index}].type`);
  });
  const versions = object['cniVersions'];
  if (versions !== undefined && (!Array.isArray(versions) || !versions.every((v) => typeof v === 'string'))) {
    throw invalid('cniVersions', 'must be an array of version strings');
  }
  for (const flag of ['disableCheck', 'disableGC', 'loadOnlyInlinedPlugins'] as const) {
    if (object[flag] !== undefined && typeof object[flag] !== 'boolean') throw invalid(flag, 'must be a boolean');
  }
  return object as unknown as NetConfList;
}

/**
 * Checks the environment a verb needs; a missing or malformed variable is
 * INVALID_ENVIRONMENT (4) naming it.
 */
export function validateEnvironment(verb: CniVerb, env: Readonly<Record<string, string | undefined>>): void {
  for (const name of requiredEnvironment[verb]) {
    if ((env[name] ?? '') === '') {
      throw new CniError({ code: 'INVALID_ENVIRONMENT', msg: `required environment variable ${name} is missing`, details: `${verb} needs ${requiredEnvironment[verb].join(', ')}` });
    }
  }
  const containerId = env['CNI_CONTAINERID'];
  if (containerId !== undefined && containerId !== '' && !containerIdPattern.test(containerId)) {
    throw new CniError({ code: 'INVALID_ENVIRONMENT', msg: 'CNI_CONTAINERID is malformed', details: 'it must start with [a-zA-Z0-9] and hold only [a-zA-Z0-9_.-]' });
  }
  const ifName = env['CNI_IFNAME'];
  if (ifName !== undefined && ifName !== '') {
    const problem = interfaceNameProblem(ifName);
    if (problem !== undefined) throw new CniError({ code: 'INVALID_ENVIRONMENT', msg: 'CNI_IFNAME is not a valid interface name', details: problem });
  }
  const args = env['CNI_ARGS'];
  if (args !== undefined && args !== '') parseCniArgs(args);
}

/** Why a name cannot be a Linux interface name, or undefined when it can. */
export function interfaceNameProblem(name: string): string | undefined {
  if (Buffer.byteLength(name) > maxInterfaceNameLength) return `"${name}" is longer than ${maxInterfaceNameLength} bytes`;
  if (name === '.' || name === '..') return `"${name}" is reserved`;
  if (/[/:\s]/.test(name)) return `"${name}" contains "/", ":" or whitespace`;
  return undefined;
}

/** Reads CNI_ARGS, `K1=V1;K2=V2`, into pairs; a pair without "=" is INVALID_ENVIRONMENT. */
export function parseCniArgs(text: string): [string, string][] {
  if (text === '') return [];
  return text.split(';').map((pair) => {
    const at = pair.indexOf('=');
    if (at <= 0) throw new CniError({ code: 'INVALID_ENVIRONMENT', msg: 'CNI_ARGS is malformed', details: `"${pair}" is not KEY=VALUE` });
    return [pair.slice(0, at), pair.slice(at + 1)];
  });
}
