import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import http from 'node:http';
import net from 'node:net';
import path from 'node:path';

import { htpasswdLine, type RegistryCredentials } from './registry-htpasswd.js';

/** Where Debian's docker-registry package installs the registry. */
export const debianDockerRegistry = '/usr/bin/docker-registry';

/** util-linux's setpriv, used to give the registry a parent-death signal. */
const setpriv = '/usr/bin/setpriv';

/** What {@link startLoopbackRegistry} starts. */
export interface LoopbackRegistryOptions {
  /** A folder the registry owns: its config, htpasswd file, storage and log go here. */
  readonly dir: string;
  /** Require HTTP basic auth with these credentials. */
  readonly htpasswd?: RegistryCredentials;
  /** The registry binary; {@link debianDockerRegistry} when unset. */
  readonly binary?: string;
  /** How long to wait for `GET /v2/` to answer; 15 s when unset. */
  readonly readyTimeoutMs?: number;
}

/** A running registry on 127.0.0.1. */
export interface LoopbackRegistry {
  /** `127.0.0.1:PORT`, the registry host of image references. */
  readonly host: string;
  /** `http://127.0.0.1:PORT`. */
  readonly url: string;
  readonly pid: number;
  /** The folder blobs and manifests are stored under. */
  readonly storageDir: string;
  /** Ends the registry process (only that pid) and waits for it to exit; idempotent. */
  stop(): Promise<void>;
}

/** Why a loopback registry cannot be started here, or undefined when it can. */
export function registryUnavailable(binary = debianDockerRegistry): string | undefined {
  try {
    fs.accessSync(binary, fs.constants.X_OK);
  } catch {
    return `needs ${binary} (Debian package docker-registry)`;
  }
  return undefined;
}

/** A port the kernel just handed out on 127.0.0.1; free unless someone takes it before the registry binds it. */
function freeLoopbackPort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      const port = typeof address === 'object' && address !== null ? address.port : 0;
      server.close(() => (port > 0 ? resolve(port) : reject(new Error('no port assigned'))));
    });
  });
}

/** The registry's config.yml; YAML is a superset of JSON, so JSON needs no YAML writer. */
function registryConfig(options: { port: number; storageDir: string; htpasswdFile?: string }): string {
  const config = {
    version: 0.1,
    log: { level: 'warn', formatter: 'text', accesslog: { disabled: true } },
    storage: {
      filesystem: { rootdirectory: options.storageDir },
      delete: { enabled: true },
      maintenance: { uploadpurging: { enabled: false } },
    },
    http: { addr: `127.0.0.1:${options.port}`, secret: 'kubeplug-loopback-registry' },
    ...(options.htpasswdFile === undefined ? {} : { auth: { htpasswd: { realm: 'kubeplug-test', path: options.htpasswdFile } } }),
  };
  return `${JSON.stringify(config, null, 2)}\n`;
}

/** The status of `GET /v2/`, or undefined when nothing answers yet. */
function probeStatus(url: string): Promise<number | undefined> {
  return new Promise((resolve) => {
    const request = http.get(`${url}/v2/`, { timeout: 1000, agent: false }, (response) => {
      response.resume();
      resolve(response.statusCode);
    });
    request.on('timeout', () => request.destroy());
    request.on('error', () => resolve(undefined));
  });
}

/** Whether setpriv is there to set a parent-death signal. */
function canSetParentDeathSignal(): boolean {
  try {
    fs.accessSync(setpriv, fs.constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

/** Resolves when the child has exited (at once if it already has). */
function exited(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => child.once('exit', () => resolve()));
}

const delay = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * Starts Debian's docker-registry on a free 127.0.0.1 port with filesystem
 * storage in `dir`, deletes enabled and, when asked, htpasswd basic auth;
 * resolves once `GET /v2/` answers (200, or 401 with auth). A port taken
 * between choosing and binding is retried with another one.
 */
export async function startLoopbackRegistry(options: LoopbackRegistryOptions): Promise<LoopbackRegistry> {
  const binary = options.binary ?? debianDockerRegistry;
  const unavailable = registryUnavailable(binary);
  if (unavailable !== undefined) throw new Error(unavailable);
  const storageDir = path.join(options.dir, 'storage');
  fs.mkdirSync(storageDir, { recursive: true });
  let htpasswdFile: string | undefined;
  if (options.htpasswd !== undefined) {
    htpasswdFile = path.join(options.dir, 'htpasswd');
    fs.writeFileSync(htpasswdFile, `${htpasswdLine(options.htpasswd)}\n`, { mode: 0o600 });
  }
  const deadline = Date.now() + (options.readyTimeoutMs ?? 15_000);
  let lastFailure = '';
  for (let attempt = 1; attempt <= 3; attempt += 1) {
    const port = await freeLoopbackPort();
    const configFile = path.join(options.dir, 'config.yml');
    fs.writeFileSync(configFile, registryConfig({ port, storageDir, htpasswdFile }));
    const logFile = path.join(options.dir, 'registry.log');
    const log = fs.openSync(logFile, 'a');
    const env = Object.fromEntries(Object.entries(process.env).filter(([key]) => !key.startsWith('REGISTRY_')));
    // setpriv execs the registry (same pid) with SIGKILL as its parent-death signal, so a test process that dies
    // without running its teardown does not leave a registry behind.
    const command = canSetParentDeathSignal()
      ? { file: setpriv, args: ['--pdeathsig', 'KILL', '--', binary, 'serve', configFile] }
      : { file: binary, args: ['serve', configFile] };
    const child = spawn(command.file, command.args, { stdio: ['ignore', log, log], env });
    fs.closeSync(log);
    const pid = child.pid;
    if (pid === undefined) {
      await new Promise((resolve) => child.once('error', resolve));
      throw new Error(`could not start ${binary}`);
    }
    const url = `http://127.0.0.1:${port}`;
    const stop = async (): Promise<void> => {
      if (child.exitCode !== null || child.signalCode !== null) return;
      child.kill('SIGTERM');
      const stopped = await Promise.race([exited(child).then(() => true), delay(5000).then(() => false)]);
      if (!stopped) {
        child.kill('SIGKILL');
        await exited(child);
      }
    };
    while (Date.now() < deadline && child.exitCode === null && child.signalCode === null) {
      const status = await probeStatus(url);
      if (status === 200 || status === 401) return { host: `127.0.0.1:${port}`, url, pid, storageDir, stop };
      await delay(50);
    }
    await stop();
    lastFailure = fs.readFileSync(logFile, 'utf8').slice(-2000);
    if (Date.now() >= deadline) break;
  }
  throw new Error(`docker-registry did not answer GET /v2/ in time; its log ends with:\n${lastFailure}`);
}
