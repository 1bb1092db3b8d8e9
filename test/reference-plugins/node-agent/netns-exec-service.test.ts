/**
 * The node agent's exec server (netns-exec-server.c) through
 * NetnsExecService: commands run in the namespace asked for with their
 * sysctls written there, exit status and output come back as a child
 * process's would, only the network tools run, locks exclude util-linux
 * flock and expire, and a killed server is replaced while commands fall
 * back to child processes.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import t from 'tap';
import { NetnsExecService } from '../../../reference-plugins/host-local-bridge/node-agent/netns-exec-service.js';
import { packageRoot } from '../../../specs/registry/index.js';
import { createNamespace, missingPrerequisites, tempFolder, type TestLike } from '../bridge/fixtures/bridge-harness.js';

const executable = path.join(packageRoot(), 'dist/reference-plugins/host-local-bridge/node-agent/kubeplug-netns-exec');
const skip = missingPrerequisites() ?? (fs.existsSync(executable) ? false : 'needs the compiled exec server (a C compiler at build time)');
const path_ = '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin';

/** A started service whose server is stopped (by pid, via stop()) in teardown. */
async function startService(t: TestLike, options: { restartDelayMs?: number; log?: (line: string) => void } = {}): Promise<NetnsExecService> {
  const dir = tempFolder(t);
  fs.chmodSync(dir, 0o700);
  const service = new NetnsExecService({ executable, socketPath: path.join(dir, 'exec.sock'), ...options });
  t.teardown(() => service.stop());
  await service.start();
  return service;
}

t.test('a command runs inside the namespace asked for, after that namespace\'s sysctls are written', { skip }, async (t) => {
  const service = await startService(t);
  const ns = await createNamespace(t, 'xsrv');
  const before = fs.readFileSync('/proc/sys/net/ipv4/ip_forward', 'utf8');
  const outcome = await service.launch({
    argv: ['ip', '-j', 'link', 'show'],
    path: path_,
    netns: ns.path,
    sysctls: [{ path: '/proc/sys/net/ipv4/ip_forward', value: '1' }],
  });
  t.equal(outcome.exitCode, 0, outcome.stderr);
  t.same((JSON.parse(outcome.stdout) as { ifname: string }[]).map((link) => link.ifname), ['lo'], 'a fresh namespace holds only lo');
  t.equal(execFileSync('nsenter', [`--net=${ns.path}`, 'cat', '/proc/sys/net/ipv4/ip_forward'], { encoding: 'utf8' }).trim(), '1', 'written in the namespace');
  t.equal(fs.readFileSync('/proc/sys/net/ipv4/ip_forward', 'utf8'), before, 'our own namespace untouched');
});

t.test('stdin reaches the command; exit status and stderr of a failure come back', { skip }, async (t) => {
  const service = await startService(t);
  const ns = await createNamespace(t, 'xsrv');
  const made = await service.launch({ argv: ['ip', '-batch', '-'], path: path_, netns: ns.path, input: 'link add kpx0 type veth peer name kpx1\nlink set dev kpx0 up\n' });
  const failed = await service.launch({ argv: ['ip', 'link', 'show', 'dev', 'kpnothere'], path: path_, netns: ns.path });
  t.equal(made.exitCode, 0, made.stderr);
  t.match(execFileSync('nsenter', [`--net=${ns.path}`, 'ip', 'link', 'show', 'dev', 'kpx0'], { encoding: 'utf8' }), /kpx0@kpx1: <[^>]*\bUP\b/, 'both lines of stdin ran, in that namespace');
  t.equal(failed.exitCode, 1);
  t.match(failed.stderr, /does not exist|Cannot find device/);
});

t.test('a tool outside the network tools is refused and not run', { skip }, async (t) => {
  const service = await startService(t);
  const marker = path.join(tempFolder(t), 'ran');
  const outcome = await service.launch({ argv: ['sh', '-c', `touch ${marker}`], path: path_ });
  t.equal(outcome.exitCode, null);
  t.match(outcome.stderr, /kubeplug-netns-exec: sh: Operation not permitted/);
  t.notOk(fs.existsSync(marker));
  const missing = await service.launch({ argv: ['ip', 'link'], path: '/nonexistent' });
  t.equal(missing.exitCode, null, 'a tool not on PATH is reported as not run');
  t.match(missing.stderr, /No such file or directory/);
});

t.test('a lock taken through the server excludes util-linux flock until released, and a second wait expires', { skip }, async (t) => {
  const service = await startService(t);
  const file = path.join(tempFolder(t), 'lock');
  const held = await service.lock(file, { waitSeconds: 5 });
  t.equal(fs.statSync(file).mode & 0o777, 0o750, 'created as go-filemutex creates it');
  t.equal(spawnSync('flock', ['--nonblock', file, 'true']).status, 1, 'flock(1) sees it held');
  await t.rejects(service.lock(file, { waitSeconds: 1 }), { code: 11, msg: /stayed locked for 1 s/ });
  await held.release();
  await held.release();
  t.equal(spawnSync('flock', ['--nonblock', file, 'true']).status, 0, 'free after release');
  const again = await service.lock(file, { waitSeconds: 1 });
  await again.release();
});

t.test('a waiting lock is granted as soon as the holder releases', { skip }, async (t) => {
  const service = await startService(t);
  const file = path.join(tempFolder(t), 'lock');
  const first = await service.lock(file, { waitSeconds: 5 });
  let granted = false;
  const second = service.lock(file, { waitSeconds: 5 }).then((lock) => ((granted = true), lock));
  await sleep(200);
  t.notOk(granted, 'still waiting while held');
  await first.release();
  await (await second).release();
  t.ok(granted);
});

t.test('a killed server is started again; meanwhile commands run as child processes', { skip }, async (t) => {
  const lines: string[] = [];
  const service = await startService(t, { restartDelayMs: 200, log: (line) => lines.push(line) });
  const firstPid = service.pid;
  t.ok(firstPid !== undefined);
  process.kill(firstPid as number, 'SIGKILL');
  while (service.ready) await sleep(10);
  const fallback = await service.launch({ argv: ['ip', '-j', 'link', 'show', 'dev', 'lo'], path: path_ });
  t.equal(fallback.exitCode, 0, 'served by a child process while the server is down');
  const deadline = Date.now() + 10_000;
  while (!service.ready && Date.now() < deadline) await sleep(20);
  t.ok(service.ready, 'ready again');
  t.not(service.pid, firstPid);
  const served = await service.launch({ argv: ['ip', '-j', 'link', 'show', 'dev', 'lo'], path: path_ });
  t.equal(served.exitCode, 0);
  t.match(lines.join('\n'), /kubeplug-netns-exec exited \(SIGKILL\)/);
});
