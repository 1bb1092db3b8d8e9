import fs from 'node:fs/promises';
import path from 'node:path';
import { CniError } from './cni-error.js';
import { execPlugin, type ExecPluginOptions, type PluginCall } from './exec-plugin.js';
import { deleteCache, listCache, readCache, writeCache } from './result-cache.js';
import { convertResult } from './result-conversion.js';
import type { AnyResult, Attachment, JsonObject, NetConfList, VersionResult } from './types.js';
import { atLeast, compareVersions, isCniVersion, type CniVerb } from './versions.js';

/** One attachment's runtime parameters (libcni's RuntimeConf). */
export interface RuntimeConf {
  readonly containerId: string;
  readonly netns: string;
  readonly ifName: string;
  readonly args?: readonly (readonly [string, string])[];
  /** Values for the capabilities plugins declare (portMappings, ips, mac…), passed as runtimeConfig. */
  readonly capabilityArgs?: JsonObject;
}

/** Options for {@link CniInvoker}. */
export interface CniInvokerOptions {
  /** Folders searched for plugin executables, in order. */
  readonly cniPath: readonly string[];
  /** Where results are cached, in libcni's format. */
  readonly cacheDir: string;
  readonly exec?: ExecPluginOptions;
}

/** One plugin invocation the invoker made, for callers that report evidence. */
export interface InvocationRecord {
  readonly plugin: string;
  readonly verb: CniVerb;
  readonly stdin: JsonObject;
  readonly ok: boolean;
  readonly result?: unknown;
  readonly error?: { code: number; msg: string; details?: string };
  readonly durationMs: number;
}

/**
 * A libcni-style runtime library: finds plugins on CNI_PATH, runs each as a
 * child process with its own environment and stdin, chains a list with
 * prevResult, caches results as libcni does, deletes in reverse order, and
 * offers CHECK, GC and STATUS.
 *
 * @see CNI-RT (rules for runtimes)
 */
export class CniInvoker {
  readonly options: CniInvokerOptions;
  readonly #listeners: ((record: InvocationRecord) => void)[] = [];

  constructor(options: CniInvokerOptions) {
    this.options = options;
  }

  /** Hears every plugin invocation (stdin, outcome). */
  onInvocation(listener: (record: InvocationRecord) => void): void {
    this.#listeners.push(listener);
  }

  /** Finds a plugin executable by type on CNI_PATH. */
  async findPlugin(type: string): Promise<string> {
    if (type.includes('/') || type === '' || type === '.' || type === '..') {
      throw new CniError({ code: 'INVALID_NETWORK_CONFIG', msg: `plugin type "${type}" is not a plain name` });
    }
    for (const dir of this.options.cniPath) {
      const candidate = path.join(dir, type);
      try {
        await fs.access(candidate, fs.constants.X_OK);
        return candidate;
      } catch {
        // Try the next folder.
      }
    }
    throw new CniError({ code: 'INVALID_NETWORK_CONFIG', msg: `failed to find plugin "${type}" in path [${this.options.cniPath.join(' ')}]` });
  }

  /** Runs VERSION on a plugin. */
  async versionInfo(type: string, cniVersion = '1.1.0'): Promise<VersionResult> {
    const result = await this.#invoke(type, { verb: 'VERSION', cniPath: this.options.cniPath }, { cniVersion });
    return result as VersionResult;
  }

  /** ADD through every plugin of the list in order, each seeing the previous result; caches the last. */
  async addNetworkList(list: NetConfList, rt: RuntimeConf): Promise<AnyResult> {
    const version = effectiveVersion(list);
    let prevResult: unknown;
    for (const plugin of list.plugins) {
      const conf = buildConfig(list, version, plugin, rt, prevResult);
      prevResult = await this.#invoke(String(plugin['type']), this.#call('ADD', rt), conf);
    }
    if (prevResult === undefined) throw new CniError({ code: 'INTERNAL', msg: `network "${list.name}" produced no result` });
    await writeCache(this.options.cacheDir, {
      kind: 'cniCacheV1',
      containerId: rt.containerId,
      config: Buffer.from(JSON.stringify(list)).toString('base64'),
      ifName: rt.ifName,
      networkName: list.name,
      netns: rt.netns,
      ...(rt.args === undefined ? {} : { cniArgs: rt.args.map(([k, v]) => [k, v] as [string, string]) }),
      ...(rt.capabilityArgs === undefined ? {} : { capabilityArgs: rt.capabilityArgs }),
      result: prevResult as JsonObject,
    });
    return prevResult as AnyResult;
  }

  /** CHECK through every plugin in order with the cached result as prevResult (0.4.0+, unless disableCheck). */
  async checkNetworkList(list: NetConfList, rt: RuntimeConf): Promise<void> {
    const version = effectiveVersion(list);
    if (!atLeast(version, '0.4.0')) {
      throw new CniError({ code: 'INCOMPATIBLE_VERSION', msg: `configuration version "${version}" does not support the CHECK command` });
    }
    if (list.disableCheck === true) return;
    const cached = await readCache(this.options.cacheDir, list.name, rt.containerId, rt.ifName);
    if (cached?.result === undefined) {
      throw new CniError({ code: 'UNKNOWN_CONTAINER', msg: `no cached result for ${rt.containerId}/${rt.ifName} on network "${list.name}"` });
    }
    const prevResult = convertResult(cached.result as unknown as AnyResult, version);
    for (const plugin of list.plugins) {
      await this.#invoke(String(plugin['type']), this.#call('CHECK', rt), buildConfig(list, version, plugin, rt, prevResult));
    }
  }

  /** DEL through the plugins in reverse order, with the cached result (0.4.0+), then drops the cache entry. */
  async delNetworkList(list: NetConfList, rt: RuntimeConf): Promise<void> {
    const version = effectiveVersion(list);
    const cached = await readCache(this.options.cacheDir, list.name, rt.containerId, rt.ifName);
    const prevResult =
      atLeast(version, '0.4.0') && cached?.result !== undefined ? convertResult(cached.result as unknown as AnyResult, version) : undefined;
    for (const plugin of [...list.plugins].reverse()) {
      await this.#invoke(String(plugin['type']), this.#call('DEL', rt), buildConfig(list, version, plugin, rt, prevResult));
    }
    await deleteCache(this.options.cacheDir, list.name, rt.containerId, rt.ifName);
  }

  /**
   * GC (1.1.0+): DEL every cached attachment that is not valid any more, then
   * GC each plugin with `cni.dev/valid-attachments`, as libcni does.
   */
  async gcNetworkList(list: NetConfList, validAttachments: readonly Attachment[]): Promise<void> {
    const version = effectiveVersion(list);
    const valid = new Set(validAttachments.map((a) => `${a.containerID}\u0000${a.ifname}`));
    const errors: CniError[] = [];
    for (const cached of await listCache(this.options.cacheDir, list.name)) {
      if (valid.has(`${cached.containerId}\u0000${cached.ifName}`)) continue;
      try {
        await this.delNetworkList(list, {
          containerId: cached.containerId,
          ifName: cached.ifName,
          netns: cached.netns ?? '',
          ...(cached.cniArgs === undefined ? {} : { args: cached.cniArgs }),
          ...(cached.capabilityArgs === undefined ? {} : { capabilityArgs: cached.capabilityArgs }),
        });
      } catch (error) {
        errors.push(CniError.from(error));
      }
    }
    if (atLeast(version, '1.1.0') && list.disableGC !== true) {
      for (const plugin of list.plugins) {
        const conf = { ...buildConfig(list, version, plugin, undefined, undefined), 'cni.dev/valid-attachments': validAttachments };
        try {
          await this.#invoke(String(plugin['type']), { verb: 'GC', cniPath: this.options.cniPath }, conf);
        } catch (error) {
          errors.push(CniError.from(error));
        }
      }
    }
    if (errors.length > 0) throw errors[0];
  }

  /** STATUS (1.1.0+) of every plugin in the list; the first failure is thrown. */
  async statusNetworkList(list: NetConfList): Promise<void> {
    const version = effectiveVersion(list);
    if (!atLeast(version, '1.1.0')) return;
    for (const plugin of list.plugins) {
      await this.#invoke(String(plugin['type']), { verb: 'STATUS', cniPath: this.options.cniPath }, buildConfig(list, version, plugin, undefined, undefined));
    }
  }

  #call(verb: CniVerb, rt: RuntimeConf): PluginCall {
    return {
      verb,
      containerId: rt.containerId,
      netns: rt.netns,
      ifName: rt.ifName,
      ...(rt.args === undefined ? {} : { args: rt.args }),
      cniPath: this.options.cniPath,
    };
  }

  async #invoke(type: string, call: PluginCall, conf: JsonObject): Promise<unknown> {
    const pluginPath = await this.findPlugin(type);
    const started = performance.now();
    try {
      const { result } = await execPlugin(pluginPath, call, JSON.stringify(conf), this.options.exec);
      this.#emit({ plugin: type, verb: call.verb, stdin: conf, ok: true, result, durationMs: performance.now() - started });
      return result;
    } catch (thrown) {
      const error = CniError.from(thrown);
      this.#emit({
        plugin: type,
        verb: call.verb,
        stdin: conf,
        ok: false,
        error: { code: error.code, msg: error.msg, ...(error.details === undefined ? {} : { details: error.details }) },
        durationMs: performance.now() - started,
      });
      throw error;
    }
  }

  #emit(record: InvocationRecord): void {
    for (const listener of this.#listeners) listener(record);
  }
}

/** The version a list runs at: the highest of `cniVersions` kubeplug knows, else `cniVersion` (SPEC.md 1.1.0). */
export function effectiveVersion(list: NetConfList): string {
  const known = (list.cniVersions ?? []).filter(isCniVersion).sort(compareVersions);
  const version = known[known.length - 1] ?? list.cniVersion;
  if (!isCniVersion(version)) {
    throw new CniError({ code: 'INCOMPATIBLE_VERSION', msg: `unknown CNI version "${version}" in network "${list.name}"` });
  }
  return version;
}

/**
 * One plugin's stdin as libcni builds it: the plugin's own object plus the
 * list's name and version, runtimeConfig for the capabilities it declares,
 * and prevResult.
 */
export function buildConfig(
  list: NetConfList,
  version: string,
  plugin: JsonObject,
  rt: RuntimeConf | undefined,
  prevResult: unknown,
): JsonObject {
  const conf: JsonObject = { ...plugin, name: list.name, cniVersion: version };
  const declared = plugin['capabilities'];
  if (rt?.capabilityArgs !== undefined && declared !== null && typeof declared === 'object') {
    const runtimeConfig: JsonObject = {};
    for (const [capability, enabled] of Object.entries(declared as Record<string, unknown>)) {
      if (enabled === true && rt.capabilityArgs[capability] !== undefined) runtimeConfig[capability] = rt.capabilityArgs[capability];
    }
    if (Object.keys(runtimeConfig).length > 0) conf['runtimeConfig'] = runtimeConfig;
  }
  if (prevResult !== undefined) conf['prevResult'] = prevResult;
  return conf;
}

/** Reads a `.conflist` file, or wraps a single-plugin `.conf` file into a list as libcni does. */
export async function loadNetworkConfig(file: string): Promise<NetConfList> {
  const { decodeJsonObject, validateNetConf, validateNetConfList } = await import('./validate.js');
  const object = decodeJsonObject(await fs.readFile(file, 'utf8'), `network configuration ${file}`);
  if (Array.isArray(object['plugins'])) return validateNetConfList(object);
  const conf = validateNetConf(object);
  return { cniVersion: conf.cniVersion, name: conf.name, plugins: [object] };
}
