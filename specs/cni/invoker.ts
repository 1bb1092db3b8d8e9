import fs from 'node:fs/promises';
import path from 'node:path';
import { CniError } from './cni-error.js';
import { execPlugin, type ExecPluginOptions, type PluginCall } from './exec-plugin.js';
import { deleteCache, listCache, readCache, writeCache } from './result-cache.js';
import { convertResult } from './result-conversion.js';
import type { AnyResult, Attachment, JsonObject, NetConfList, VersionResult } from './types.js';
import { atLeast, compareVersions, isCniVersion, type CniVerb } from './versions.js';
import { containerIdPattern, interfaceNameProblem } from './validate.js';

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
  /** The operation in flight per attachment: one container's operations never overlap (CNI-RT-003). */
  readonly #inFlight = new Map<string, Promise<unknown>>();
  /** GC in flight: it runs alone (CNI-RT-004). */
  #gc: Promise<unknown> | undefined;

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
  addNetworkList(list: NetConfList, rt: RuntimeConf): Promise<AnyResult> {
    return this.#serialized(list, rt, () => this.#add(list, rt));
  }

  async #add(list: NetConfList, rt: RuntimeConf): Promise<AnyResult> {
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
  checkNetworkList(list: NetConfList, rt: RuntimeConf): Promise<void> {
    return this.#serialized(list, rt, () => this.#check(list, rt));
  }

  async #check(list: NetConfList, rt: RuntimeConf): Promise<void> {
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
  delNetworkList(list: NetConfList, rt: RuntimeConf): Promise<void> {
    return this.#serialized(list, rt, () => this.#del(list, rt));
  }

  async #del(list: NetConfList, rt: RuntimeConf): Promise<void> {
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
    while (this.#gc !== undefined) await this.#gc.catch(() => {});
    const running = Promise.allSettled([...this.#inFlight.values()]).then(() => this.#collect(list, validAttachments));
    this.#gc = running;
    try {
      await running;
    } finally {
      this.#gc = undefined;
    }
  }

  async #collect(list: NetConfList, validAttachments: readonly Attachment[]): Promise<void> {
    const version = effectiveVersion(list);
    const valid = new Set(validAttachments.map((a) => `${a.containerID}\u0000${a.ifname}`));
    const errors: CniError[] = [];
    for (const cached of await listCache(this.options.cacheDir, list.name)) {
      if (valid.has(`${cached.containerId}\u0000${cached.ifName}`)) continue;
      try {
        await this.#del(list, {
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

  /**
   * Runs one attachment's operation after any earlier one on the same
   * attachment and after a running GC; parameters are validated first so a
   * malformed one never reaches a plugin.
   */
  async #serialized<T>(list: NetConfList, rt: RuntimeConf, operation: () => Promise<T>): Promise<T> {
    validateRuntimeConf(rt);
    const key = `${list.name}\u0000${rt.containerId}\u0000${rt.ifName}`;
    const previous = this.#inFlight.get(key) ?? Promise.resolve();
    const gc = this.#gc ?? Promise.resolve();
    const next = Promise.allSettled([previous, gc]).then(operation);
    this.#inFlight.set(key, next);
    try {
      return await next;
    } finally {
      if (this.#inFlight.get(key) === next) this.#inFlight.delete(key);
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

/**
 * Refuses attachment parameters the spec does not allow before any plugin
 * runs: container ID and interface name shapes, CNI_ARGS pairs.
 *
 * @see CNI-PROTO-006 CNI-PROTO-010 CNI-PROTO-012
 */
export function validateRuntimeConf(rt: RuntimeConf): void {
  if (!containerIdPattern.test(rt.containerId)) {
    throw new CniError({ code: 'INVALID_ENVIRONMENT', msg: `container ID "${rt.containerId}" must start with [a-zA-Z0-9] and hold only [a-zA-Z0-9_.-]` });
  }
  const problem = interfaceNameProblem(rt.ifName);
  if (rt.ifName === '' || problem !== undefined) {
    throw new CniError({ code: 'INVALID_ENVIRONMENT', msg: `interface name "${rt.ifName}" is not valid`, ...(problem === undefined ? {} : { details: problem }) });
  }
  for (const [key, value] of rt.args ?? []) {
    if (key === '' || /[;=]/.test(key) || value.includes(';')) {
      throw new CniError({ code: 'INVALID_ENVIRONMENT', msg: `CNI_ARGS pair "${key}=${value}" cannot be encoded` });
    }
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
 * One plugin's stdin: the plugin's own object plus the list's name and
 * version, runtimeConfig for the capabilities it declares (the declaration
 * itself is left out, as the spec says and libcni does not), and prevResult.
 */
export function buildConfig(
  list: NetConfList,
  version: string,
  plugin: JsonObject,
  rt: RuntimeConf | undefined,
  prevResult: unknown,
): JsonObject {
  // The request carries the values (runtimeConfig), never the declaration (CNI-CONF-023).
  const { capabilities: declared, ...rest } = plugin;
  const conf: JsonObject = { ...rest, name: list.name, cniVersion: version };
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

/**
 * Reads a `.conflist` file, or wraps a single-plugin `.conf` file into a list
 * as libcni does. Unless `loadOnlyInlinedPlugins` is true, plugin objects in
 * `<folder of the file>/<network name>/*.conf` are appended after the inlined
 * ones, in file-name order; an invalid one fails the whole load.
 *
 * @see CNI-CONF-011 CNI-CONF-012 CNI-CONF-015 CNI-CONF-016
 */
export async function loadNetworkConfig(file: string): Promise<NetConfList> {
  const { decodeJsonObject, validateNetConf, validateNetConfList } = await import('./validate.js');
  const object = decodeJsonObject(await fs.readFile(file, 'utf8'), `network configuration ${file}`);
  if (!Array.isArray(object['plugins'])) {
    if (object['loadOnlyInlinedPlugins'] === true) {
      throw new CniError({ code: 'INVALID_NETWORK_CONFIG', msg: `invalid network configuration ${file}: "loadOnlyInlinedPlugins" needs a "plugins" list` });
    }
    const conf = validateNetConf(object);
    return { cniVersion: conf.cniVersion, name: conf.name, plugins: [object] };
  }
  const list = validateNetConfList(object);
  if (list.loadOnlyInlinedPlugins === true) return list;
  const folder = path.join(path.dirname(file), list.name);
  let names: string[];
  try {
    names = (await fs.readdir(folder)).filter((name) => name.endsWith('.conf')).sort();
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT' || (error as NodeJS.ErrnoException).code === 'ENOTDIR') return list;
    throw error;
  }
  const gathered: JsonObject[] = [];
  for (const name of names) {
    const plugin = decodeJsonObject(await fs.readFile(path.join(folder, name), 'utf8'), `plugin configuration ${path.join(folder, name)}`);
    if (typeof plugin['type'] !== 'string' || plugin['type'] === '') {
      throw new CniError({ code: 'INVALID_NETWORK_CONFIG', msg: `invalid plugin configuration ${path.join(folder, name)}: field "type" is required` });
    }
    gathered.push(plugin);
  }
  return { ...list, plugins: [...list.plugins, ...gathered] };
}
