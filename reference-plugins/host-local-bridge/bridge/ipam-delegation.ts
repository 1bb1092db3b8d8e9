import fs from 'node:fs/promises';
import path from 'node:path';
import { CniError } from '../../../specs/cni/cni-error.js';
import { pluginFailure, runPluginProcess } from '../../../specs/cni/exec-plugin.js';
import { toResult100 } from '../../../specs/cni/result-conversion.js';
import type { PluginRequest } from '../../../specs/cni/skeleton.js';
import type { AnyResult, Result100 } from '../../../specs/cni/types.js';
import type { CniVerb } from '../../../specs/cni/versions.js';
import { bridgeError, invalidConfig } from './bridge-errors.js';
import type { FileLocker } from '../host-local/file-lock.js';
import type { BridgePluginOptions } from './bridge-plugin.js';
import type { CommandRunner } from './command-runner.js';
import { parseCidr } from './ip-address.js';
import { isOwnHostLocal, runOwnHostLocal } from './own-ipam.js';

/**
 * The IPAM plugin named by `ipam.type`, run as CNI's delegation protocol
 * says (SPEC.md § Section 4): found on CNI_PATH, run as a child process with
 * the environment and stdin this plugin received (only CNI_COMMAND varies),
 * its stderr passed on to ours. Every verb is as idempotent as the IPAM
 * plugin makes it; DEL of an unknown attachment succeeds for host-local.
 * Our own kubeplug-host-local runs in this process instead (see own-ipam.ts).
 */
export class IpamDelegate {
  readonly #type: string;
  readonly #request: PluginRequest;
  readonly #runner: CommandRunner;
  readonly #locker: FileLocker | undefined;

  constructor(options: { type: string; request: PluginRequest; runner: CommandRunner; services?: BridgePluginOptions }) {
    this.#type = options.type;
    this.#request = options.request;
    this.#runner = options.runner;
    this.#locker = options.services?.locker;
  }

  /** Allocates addresses: the result in the 1.0.0 shape, checked to hold at least one address. */
  async add(): Promise<Result100> {
    const raw = await this.#invoke('ADD');
    if (raw === null || typeof raw !== 'object' || Array.isArray(raw)) {
      throw bridgeError('IPAM_RESULT_UNUSABLE', `IPAM plugin "${this.#type}" printed no result object`);
    }
    const withVersion = { cniVersion: this.#request.conf.cniVersion, ...(raw as object) } as AnyResult;
    const result = toResult100(withVersion);
    if (result.ips === undefined || result.ips.length === 0) throw bridgeError('IPAM_RESULT_UNUSABLE', 'IPAM plugin returned missing IP config');
    for (const ip of result.ips) {
      if (typeof ip?.address !== 'string' || parseCidr(ip.address) === undefined) {
        throw bridgeError('IPAM_RESULT_UNUSABLE', `IPAM plugin "${this.#type}" returned an address that is not a CIDR`, { details: JSON.stringify(ip) });
      }
    }
    return result;
  }

  /** Releases the attachment's addresses. */
  async del(): Promise<void> {
    await this.#invoke('DEL');
  }

  /** Asks the IPAM plugin whether the attachment's addresses are still held. */
  async check(): Promise<void> {
    await this.#invoke('CHECK');
  }

  /** Forwards GC with `cni.dev/valid-attachments`, as SPEC.md § GC requires of delegating plugins. */
  async gc(): Promise<void> {
    await this.#invoke('GC');
  }

  /** Forwards STATUS: the bridge can serve ADD exactly when its IPAM plugin can. */
  async status(): Promise<void> {
    await this.#invoke('STATUS');
  }

  async #find(): Promise<string> {
    const type = this.#type;
    if (type.includes('/') || type === '.' || type === '..') throw invalidConfig(`invalid network configuration: IPAM type "${type}" is not a plain name`);
    for (const dir of this.#request.cniPath) {
      const candidate = path.join(dir, type);
      try {
        await fs.access(candidate, fs.constants.X_OK);
        return candidate;
      } catch {
        // Not in this folder; try the next.
      }
    }
    throw invalidConfig(`failed to find plugin "${type}" in path [${this.#request.cniPath.join(' ')}]`);
  }

  async #invoke(verb: CniVerb): Promise<unknown> {
    const pluginPath = await this.#find();
    const env: Record<string, string> = {};
    for (const [key, value] of Object.entries(this.#request.env)) if (value !== undefined) env[key] = value;
    env['CNI_COMMAND'] = verb;
    const startMs = this.#runner.elapsed();
    const inProcess = await isOwnHostLocal(pluginPath);
    const run = inProcess ? await runOwnHostLocal(env, this.#request.stdin, this.#locker) : await runPluginProcess(pluginPath, env, this.#request.stdin);
    this.#runner.record({ argv: [pluginPath, `(CNI_COMMAND=${verb}${inProcess ? ', in process' : ''})`], startMs, durationMs: run.durationMs, exitCode: run.exitCode, inProcess });
    if (run.stderr !== '') process.stderr.write(run.stderr);
    if (run.exitCode !== 0) throw pluginFailure(pluginPath, run);
    if (run.stdout.trim() === '') return undefined;
    try {
      return JSON.parse(run.stdout) as unknown;
    } catch (error) {
      throw new CniError({ code: 'DECODE_FAILURE', msg: `IPAM plugin "${this.#type}" printed a result that is not JSON`, details: (error as Error).message });
    }
  }
}
