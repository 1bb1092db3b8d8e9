// Shared setup for the OCI layer's tests: a busybox rootfs, a runtime with a
// private state root, a pause sandbox on the host network, and containers
// in overlays on the busybox rootfs. Everything made is released in t.teardown.
import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import type { Test } from 'tap';
import { pauseBinary, shimBinary } from '../../../../reference-plugins/process-runtime/oci/binaries.js';
import { removeCgroup } from '../../../../reference-plugins/process-runtime/oci/cgroups.js';
import { readExitRecord, type ExitRecord } from '../../../../reference-plugins/process-runtime/oci/exit-record.js';
import { OciRuntime } from '../../../../reference-plugins/process-runtime/oci/oci-runtime.js';
import { preparePauseRootfs } from '../../../../reference-plugins/process-runtime/oci/pause-rootfs.js';
import { mountOverlay, unmountIfMounted } from '../../../../reference-plugins/process-runtime/oci/rootfs.js';
import {
  buildContainerSpec, buildSandboxSpec, type ContainerSpecInput, type PodNamespaces,
} from '../../../../reference-plugins/process-runtime/oci/runtime-spec.js';
import { readShimPid } from '../../../../reference-plugins/process-runtime/oci/shim-process.js';

function commandExists(name: string): boolean {
  return spawnSync(name, ['--version'], { stdio: 'ignore', env: { PATH: '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' } }).status === 0;
}

const isRoot = process.getuid?.() === 0;
export const hasRunc = commandExists('runc');
export const hasCrun = commandExists('crun');

/** Why the tests cannot run here, or false. */
export const skipReason: string | false = !isRoot
  ? 'needs root'
  : !hasRunc
    ? 'needs runc (apt-get install runc)'
    : !fs.existsSync('/bin/busybox')
      ? 'needs /bin/busybox (apt-get install busybox-static)'
      : !fs.existsSync(shimBinary) || !fs.existsSync(pauseBinary)
        ? 'needs kubeplug-shim and kubeplug-pause (npm run build)'
        : false;

/**
 * Registers a release step. tap runs teardowns last-registered first and
 * skips the rest after one throws, so each step reports its own failure
 * (as a test failure) and lets the others run.
 */
export function cleanup(t: Test, release: () => unknown): void {
  t.teardown(async () => {
    try {
      await release();
    } catch (error) {
      process.stderr.write(`teardown failed: ${String(error)}\n`);
      process.exitCode = 1;
    }
  });
}

/** A folder under the system temp folder, removed in teardown. */
export function tempDir(t: Test, prefix = 'kubeplug-oci-'): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), prefix));
  cleanup(t, () => fs.rmSync(dir, { recursive: true, force: true }));
  return dir;
}

/** Writes a busybox userland into `dir`: every applet as a symlink, plus passwd and group with a few users. */
export function writeBusyboxRootfs(dir: string): void {
  for (const folder of ['bin', 'etc', 'proc', 'sys', 'dev', 'tmp', 'root', 'home/app']) fs.mkdirSync(path.join(dir, folder), { recursive: true });
  fs.copyFileSync('/bin/busybox', path.join(dir, 'bin', 'busybox'));
  fs.chmodSync(path.join(dir, 'bin', 'busybox'), 0o755);
  const applets = spawnSync('/bin/busybox', ['--list'], { encoding: 'utf8' }).stdout.split('\n').filter((name) => name !== '' && name !== 'busybox');
  for (const applet of applets) fs.symlinkSync('busybox', path.join(dir, 'bin', applet));
  fs.chmodSync(path.join(dir, 'tmp'), 0o1777);
  fs.writeFileSync(path.join(dir, 'etc', 'passwd'), 'root:x:0:0:root:/root:/bin/sh\napp:x:1000:1000:app:/home/app:/bin/sh\nnobody:x:65534:65534:nobody:/:/bin/false\n');
  fs.writeFileSync(path.join(dir, 'etc', 'group'), 'root:x:0:\napp:x:1000:\nvideo:x:44:app\naudio:x:29:app,root\nnogroup:x:65534:\n');
}

/** One test's runtime: its own state root and cgroup parent, all removed in teardown. */
export interface TestRuntime {
  runtime: OciRuntime;
  root: string;
  busybox: string;
  cgroupParent: string;
}

export function newTestRuntime(t: Test, binary = 'runc'): TestRuntime {
  const root = tempDir(t);
  const busybox = path.join(root, 'busybox');
  writeBusyboxRootfs(busybox);
  const cgroupParent = `/kubeplug-oci-test-${randomBytes(4).toString('hex')}`;
  // Registered first, so it runs last: after every container of the test is gone.
  cleanup(t, () => removeCgroup(cgroupParent));
  const runtime = new OciRuntime({ binary, stateRoot: path.join(root, 'oci') });
  return { runtime, root, busybox, cgroupParent };
}

/** Files of one container or sandbox, laid out as the runtime service lays them out. */
export interface TestContainer {
  id: string;
  dir: string;
  bundle: string;
  exitFile: string;
  shimPidFile: string;
  logPath: string;
  cgroupsPath: string;
  pid: number;
}

async function waitForShimExit(shimPidFile: string, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const pid = await readShimPid(shimPidFile);
    if (pid === undefined || !fs.existsSync(`/proc/${pid}`)) return;
    if (Date.now() > deadline) {
      // Our own shim (it wrote this file for this test): stop it.
      process.kill(pid, 'SIGKILL');
      return;
    }
    await sleep(10);
  }
}

/** Releases a container: the runtime's record (killing it), its shim, its rootfs mount and its cgroup. */
function releaseOnTeardown(t: Test, env: TestRuntime, c: Omit<TestContainer, 'pid'>, rootfs?: string): void {
  cleanup(t, async () => {
    await env.runtime.delete(c.id, true);
    await waitForShimExit(c.shimPidFile, 5000);
    if (rootfs !== undefined) await unmountIfMounted(rootfs);
    await removeCgroup(c.cgroupsPath);
  });
}

function containerFiles(env: TestRuntime, kind: string): Omit<TestContainer, 'pid'> {
  const id = randomBytes(32).toString('hex');
  const dir = path.join(env.root, kind, id);
  fs.mkdirSync(path.join(dir, 'bundle'), { recursive: true });
  return {
    id,
    dir,
    bundle: path.join(dir, 'bundle'),
    exitFile: path.join(dir, 'exit'),
    shimPidFile: path.join(dir, 'shim.pid'),
    logPath: path.join(env.root, 'logs', kind, `${id}.log`),
    cgroupsPath: `${env.cgroupParent}/${id}`,
  };
}

/** What a test sandbox differs in. */
export interface TestSandboxOptions {
  namespaces?: PodNamespaces;
  sysctls?: Record<string, string>;
  hostname?: string;
}

/**
 * A started pause sandbox: on the host network with its own IPC and PID
 * namespaces unless told otherwise; with network 'pod' it gets a fresh
 * network namespace (ip netns), removed in teardown.
 */
export async function startTestSandbox(t: Test, env: TestRuntime, options: TestSandboxOptions = {}): Promise<TestSandbox> {
  const namespaces = options.namespaces ?? { network: 'node', pid: 'pod', ipc: 'pod' };
  const files = containerFiles(env, 'sandboxes');
  const pauseRootfs = path.join(env.root, 'pause-rootfs');
  await preparePauseRootfs(pauseRootfs);
  let netnsPath: string | undefined;
  if (namespaces.network === 'pod') {
    const name = `kubeplug-oci-${files.id.slice(0, 12)}`;
    const added = spawnSync('ip', ['netns', 'add', name], { encoding: 'utf8' });
    if (added.status !== 0) throw new Error(`ip netns add ${name}: ${added.stderr}`);
    cleanup(t, () => spawnSync('ip', ['netns', 'delete', name]));
    netnsPath = `/run/netns/${name}`;
  }
  fs.writeFileSync(path.join(files.dir, 'hosts'), '127.0.0.1 localhost\n10.9.8.7 test-pod\n');
  fs.writeFileSync(path.join(files.dir, 'hostname'), `${options.hostname ?? 'test-pod'}\n`);
  fs.writeFileSync(path.join(files.dir, 'resolv.conf'), 'nameserver 10.9.8.53\nsearch test.local\n');
  const spec = buildSandboxSpec({
    pauseRootfs, hostname: options.hostname ?? 'test-pod', namespaces, cgroupsPath: files.cgroupsPath,
    ...(netnsPath === undefined ? {} : { netnsPath }), ...(options.sysctls === undefined ? {} : { sysctls: options.sysctls }),
  });
  fs.writeFileSync(path.join(files.bundle, 'config.json'), JSON.stringify(spec));
  releaseOnTeardown(t, env, files);
  const { pid } = await env.runtime.create({ id: files.id, bundle: files.bundle, exitFile: files.exitFile, shimPidFile: files.shimPidFile });
  await env.runtime.start(files.id);
  return { ...files, pid, namespaces, ...(netnsPath === undefined ? {} : { netnsPath }) };
}

/** A running sandbox and how its containers join it. */
export interface TestSandbox extends TestContainer {
  namespaces: PodNamespaces;
  netnsPath?: string;
}

/** What a test container differs in; the rest comes from the fixture. */
export type TestContainerInput = Partial<Omit<ContainerSpecInput, 'sandbox' | 'rootfs' | 'cgroupsPath'>> & {
  start?: boolean;
  sandboxExtras?: Partial<ContainerSpecInput['sandbox']>;
};

/** A container's bundle (config.json and an overlay rootfs over busybox), ready for create; released in teardown. */
export async function prepareTestContainer(t: Test, env: TestRuntime, sandbox: TestSandbox, input: TestContainerInput = {}): Promise<Omit<TestContainer, 'pid'>> {
  const files = containerFiles(env, 'containers');
  const rootfs = path.join(files.bundle, 'rootfs');
  releaseOnTeardown(t, env, files, rootfs);
  await mountOverlay({ lowerDirs: [env.busybox], upperDir: path.join(files.dir, 'upper'), workDir: path.join(files.dir, 'work'), target: rootfs });
  const { start: _start, sandboxExtras: _extras, ...specInput } = input;
  const spec = buildContainerSpec({
    image: { env: ['PATH=/bin'], entrypoint: [], cmd: ['sh'], workingDir: '', user: '' },
    ...specInput,
    rootfs,
    sandbox: {
      pausePid: sandbox.pid,
      namespaces: sandbox.namespaces,
      hostsPath: path.join(sandbox.dir, 'hosts'),
      hostnamePath: path.join(sandbox.dir, 'hostname'),
      resolvConfPath: path.join(sandbox.dir, 'resolv.conf'),
      ...input.sandboxExtras,
    },
    cgroupsPath: files.cgroupsPath,
  });
  fs.writeFileSync(path.join(files.bundle, 'config.json'), JSON.stringify(spec));
  return files;
}

/** A container of the sandbox in an overlay over the busybox rootfs; started unless `start` is false. */
export async function runTestContainer(t: Test, env: TestRuntime, sandbox: TestSandbox, input: TestContainerInput = {}): Promise<TestContainer> {
  const files = await prepareTestContainer(t, env, sandbox, input);
  const { pid } = await env.runtime.create({ id: files.id, bundle: files.bundle, exitFile: files.exitFile, shimPidFile: files.shimPidFile, logPath: files.logPath });
  if (input.start !== false) await env.runtime.start(files.id);
  return { ...files, pid };
}

/** Polls until `check` holds; throws after `timeoutMs`. */
export async function waitUntil(what: string, check: () => boolean | Promise<boolean>, timeoutMs = 5000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting until ${what}`);
    await sleep(10);
  }
}

/** Waits for the shim's exit record. */
export async function waitForExit(c: { exitFile: string }, timeoutMs = 10_000): Promise<ExitRecord> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const record = await readExitRecord(c.exitFile);
    if (record !== undefined) return record;
    if (Date.now() > deadline) throw new Error(`no exit record in ${c.exitFile} after ${timeoutMs} ms`);
    await sleep(5);
  }
}

/** The CRI log's records as [stream, tag, text]; the timestamps are checked to be RFC 3339. */
export function readCriLog(file: string): { stream: string; tag: string; text: string; time: string }[] {
  if (!fs.existsSync(file)) return [];
  return fs
    .readFileSync(file, 'utf8')
    .split('\n')
    .filter((line) => line !== '')
    .map((line) => {
      const match = /^(\S+) (stdout|stderr) ([PF]) (.*)$/s.exec(line);
      if (match === null) throw new Error(`not a CRI log line: ${JSON.stringify(line)}`);
      return { time: match[1] ?? '', stream: match[2] ?? '', tag: match[3] ?? '', text: match[4] ?? '' };
    });
}
