import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';

/** A command about network namespaces failed. */
export class NetnsCommandError extends Error {
  constructor(readonly command: string, readonly stderr: string, readonly exitCode: number | null) {
    super(`${command} failed (exit ${exitCode}): ${stderr.trim()}`);
    this.name = 'NetnsCommandError';
  }
}

/** Output of a command that succeeded. */
export interface CommandOutput {
  readonly stdout: string;
  readonly stderr: string;
}

/** Runs a command, rejecting with its stderr when it fails. */
export function run(command: string, args: readonly string[], options: { input?: string; timeoutMs?: number } = {}): Promise<CommandOutput> {
  return new Promise((resolve, reject) => {
    const child = execFile(command, [...args], { timeout: options.timeoutMs ?? 30_000, maxBuffer: 16 * 1024 * 1024 }, (error, stdout, stderr) => {
      if (error === null) resolve({ stdout, stderr });
      else reject(new NetnsCommandError(`${command} ${args.join(' ')}`, stderr || error.message, typeof error.code === 'number' ? error.code : null));
    });
    if (options.input !== undefined) child.stdin?.end(options.input);
  });
}

/** The folder `ip netns` keeps named namespaces in. */
export const netnsRunDir = '/run/netns';

/** Prefix of every namespace kubeplug creates, so a leak is easy to spot and attribute. */
export const netnsPrefix = 'kp-';

/** A named network namespace this process created. */
export interface NetworkNamespace {
  readonly name: string;
  /** `/run/netns/<name>`: what CNI_NETNS and nsenter take. */
  readonly path: string;
  /** Runs a command inside the namespace. */
  exec(command: string, args: readonly string[], options?: { input?: string; timeoutMs?: number }): Promise<CommandOutput>;
  /** Deletes the namespace (and with it every link inside); a second call is a no-op. */
  remove(): Promise<void>;
}

/** A unique namespace name with kubeplug's prefix: `kp-<role>-<hex>`, short enough for `ip`. */
export function uniqueNetnsName(role: string): string {
  return `${netnsPrefix}${role.slice(0, 8)}-${randomBytes(4).toString('hex')}`;
}

/**
 * Creates a named network namespace with its loopback up. The caller owns it
 * and must remove it (register the removal before using the namespace).
 */
export async function createNetworkNamespace(name: string): Promise<NetworkNamespace> {
  await run('ip', ['netns', 'add', name]);
  const namespace = handleFor(name);
  try {
    await namespace.exec('ip', ['link', 'set', 'lo', 'up']);
  } catch (error) {
    await namespace.remove();
    throw error;
  }
  return namespace;
}

function handleFor(name: string): NetworkNamespace {
  const path = `${netnsRunDir}/${name}`;
  let removed = false;
  return {
    name,
    path,
    exec: (command, args, options) => run('nsenter', [`--net=${path}`, '--', command, ...args], options ?? {}),
    async remove() {
      if (removed) return;
      removed = true;
      if (!fs.existsSync(path)) return;
      await run('ip', ['netns', 'delete', name]);
    },
  };
}

/** Names of the namespaces kubeplug created that still exist (for leak checks). */
export function listKubeplugNamespaces(): string[] {
  try {
    return fs.readdirSync(netnsRunDir).filter((name) => name.startsWith(netnsPrefix));
  } catch {
    return [];
  }
}
