import fs from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { PluginRun } from '../../../specs/cni/exec-plugin.js';
import type { FileLocker } from '../host-local/file-lock.js';

const here = path.dirname(fileURLToPath(import.meta.url));
// The executables that are kubeplug-host-local: its Node entry and what dist/cni-bin holds for it (a link or the exec shim).
const ownHostLocalEntries = [path.join(here, '../host-local/kubeplug-host-local.js'), path.join(here, '../../../cni-bin/kubeplug-host-local')];

let ownRealPaths: Promise<Set<string>> | undefined;

/**
 * Whether the IPAM executable found on CNI_PATH is this package's own
 * kubeplug-host-local. Then the bridge runs it in its own process, which
 * saves a process start per verb (the largest cost of an ADD) and changes
 * nothing else: the handler gets the same environment and stdin a child
 * would. A copy installed elsewhere is not recognised and runs as a child.
 */
export async function isOwnHostLocal(pluginPath: string): Promise<boolean> {
  ownRealPaths ??= Promise.all(ownHostLocalEntries.map((entry) => fs.realpath(entry).catch(() => entry))).then((paths) => new Set(paths));
  const resolved = await fs.realpath(pluginPath).catch(() => pluginPath);
  return (await ownRealPaths).has(resolved);
}

/** Runs kubeplug-host-local's dispatcher in this process (with the host's locker, if any), answering as a child process would. */
export async function runOwnHostLocal(env: Readonly<Record<string, string>>, stdin: string, locker?: FileLocker): Promise<PluginRun> {
  const started = performance.now();
  const [{ dispatch }, { createHostLocalPlugin }] = await Promise.all([import('../../../specs/cni/skeleton.js'), import('../host-local/host-local-handlers.js')]);
  const outcome = await dispatch(createHostLocalPlugin(locker === undefined ? {} : { locker }), { env, stdin });
  return { ...outcome, signal: null, durationMs: performance.now() - started };
}
