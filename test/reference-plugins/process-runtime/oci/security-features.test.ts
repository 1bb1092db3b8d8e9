import { execFileSync, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import t, { type Test } from 'tap';
import { readCgroupProcessCount } from '../../../../reference-plugins/process-runtime/oci/cgroups.js';
import { currentProcessCapabilities } from '../../../../reference-plugins/process-runtime/oci/capabilities.js';
import { ContainerUserError } from '../../../../reference-plugins/process-runtime/oci/container-user.js';
import type { OciSpec } from '../../../../reference-plugins/process-runtime/oci/oci-spec.js';
import { buildExecProcess } from '../../../../reference-plugins/process-runtime/oci/runtime-spec.js';
import { MountPropagationError } from '../../../../reference-plugins/process-runtime/oci/mount-propagation.js';
import { cleanup, newTestRuntime, prepareTestContainer, runTestContainer, skipReason, startTestSandbox, tempDir, type TestContainer, type TestRuntime } from './oci-fixture.js';

const skip = skipReason;

/** Runs argv in the container as its own process does; returns exit code, stdout and stderr. */
async function run(env: TestRuntime, container: TestContainer, args: string[]): Promise<{ exitCode: number; stdout: string; stderr: string }> {
  const spec = JSON.parse(fs.readFileSync(path.join(container.bundle, 'config.json'), 'utf8')) as OciSpec;
  const result = await env.runtime.exec(container.id, buildExecProcess(spec.process, args), { timeoutMs: 10_000 });
  return { exitCode: result.exitCode, stdout: result.stdout.toString(), stderr: result.stderr.toString() };
}

/** A field of the container's first process's /proc status, read from the host. */
async function statusField(container: TestContainer, field: string): Promise<string> {
  const line = fs.readFileSync(`/proc/${container.pid}/status`, 'utf8').split('\n').find((candidate) => candidate.startsWith(`${field}:`));
  return line?.slice(field.length + 1).trim() ?? '';
}

function ownStatusField(field: string): string {
  const line = fs.readFileSync('/proc/self/status', 'utf8').split('\n').find((candidate) => candidate.startsWith(`${field}:`));
  return line?.slice(field.length + 1).trim() ?? '';
}

t.test('a privileged container gets every capability this process holds and the host\'s devices', { skip }, async (t) => {
  const env = newTestRuntime(t);
  const sandbox = await startTestSandbox(t, env);
  const container = await runTestContainer(t, env, sandbox, { command: ['sleep', '1000'], privileged: true });
  const held = (BigInt(`0x${ownStatusField('CapEff')}`) & BigInt(`0x${ownStatusField('CapBnd')}`)).toString(16).padStart(16, '0');
  t.equal(await statusField(container, 'CapEff'), held, 'effective = what this process holds');
  t.equal(await statusField(container, 'CapBnd'), held, 'bounding = what this process holds');
  const devices = ['/dev/loop-control', '/dev/kmsg', '/dev/loop0'].filter((device) => fs.existsSync(device));
  for (const device of devices) t.equal((await run(env, container, ['test', '-e', device])).exitCode, 0, `${device} is present`);
  if (devices[0] !== undefined) t.equal((await run(env, container, ['sh', '-c', `: < ${devices[0]}`])).exitCode, 0, `${devices[0]} opens`);
  t.equal((await run(env, container, ['sh', '-c', 'grep -c " /sys .*rw," /proc/self/mountinfo'])).stdout.trim(), '1', '/sys is writable');
});

t.test('a CRI device is created at its container path and allowed with its permissions; others stay denied', { skip }, async (t) => {
  const env = newTestRuntime(t);
  const sandbox = await startTestSandbox(t, env);
  const container = await runTestContainer(t, env, sandbox, { command: ['sleep', '1000'], devices: [{ hostPath: '/dev/null', containerPath: '/dev/kp-null', permissions: 'rw' }] });
  const used = await run(env, container, ['sh', '-c', 'test -c /dev/kp-null && echo written > /dev/kp-null && head -c 1 /dev/kp-null | wc -c']);
  t.equal(used.exitCode, 0, `the device is a character device and can be written (stderr: ${used.stderr})`);
  t.equal(used.stdout.trim(), '0', 'and reads as /dev/null');
  if (fs.existsSync('/dev/loop-control')) {
    const denied = await run(env, container, ['sh', '-c', 'mknod /dev/kp-loop c 10 237 && cat /dev/kp-loop']);
    t.not(denied.exitCode, 0, 'a device node the container makes for itself is refused by the device cgroup');
  }
});

t.test('a localhost profile refusing mkdir makes mkdir fail with EPERM while other calls work', { skip }, async (t) => {
  const env = newTestRuntime(t);
  const dir = tempDir(t, 'kubeplug-seccomp-');
  const profile = path.join(dir, 'deny-mkdir.json');
  fs.writeFileSync(profile, JSON.stringify({ defaultAction: 'SCMP_ACT_ALLOW', archMap: [{ architecture: 'SCMP_ARCH_X86_64', subArchitectures: ['SCMP_ARCH_X86', 'SCMP_ARCH_X32'] }], syscalls: [{ names: ['mkdir', 'mkdirat'], action: 'SCMP_ACT_ERRNO', errnoRet: 1 }] }));
  const sandbox = await startTestSandbox(t, env);
  const container = await runTestContainer(t, env, sandbox, { command: ['sleep', '1000'], seccomp: { kind: 'localhost', path: profile } });
  const made = await run(env, container, ['mkdir', '/tmp/kp-seccomp']);
  t.not(made.exitCode, 0, 'mkdir fails');
  t.match(made.stderr, /not permitted/i, `with EPERM (${made.stderr.trim()})`);
  t.equal((await run(env, container, ['sh', '-c', 'echo ok > /tmp/kp-file && cat /tmp/kp-file'])).stdout.trim(), 'ok', 'writing a file still works');
  t.equal(await statusField(container, 'Seccomp'), '2', 'the process is in seccomp filter mode');
});

t.test('RuntimeDefault filters (Seccomp: 2) and busybox basics still work; unconfined has no filter', { skip }, async (t) => {
  const env = newTestRuntime(t);
  const sandbox = await startTestSandbox(t, env, { namespaces: { network: 'pod', pid: 'pod', ipc: 'pod' } });
  const filtered = await runTestContainer(t, env, sandbox, { command: ['sleep', '1000'], seccomp: { kind: 'runtime-default' } });
  t.equal(await statusField(filtered, 'Seccomp'), '2', 'RuntimeDefault: filter mode');
  const basics = await run(env, filtered, ['sh', '-c', 'mkdir -p /tmp/a/b && echo hi > /tmp/a/b/f && cat /tmp/a/b/f && ls / >/dev/null && ps >/dev/null && id -u && hostname >/dev/null && wc -l /proc/mounts >/dev/null && ip -o link >/dev/null && (sleep 0.1 &) && wait && echo done']);
  t.equal(basics.exitCode, 0, `shell, files, ps, ip, background jobs work (stderr: ${basics.stderr.trim()})`);
  t.match(basics.stdout, /hi\n0\ndone/);
  const unshared = await run(env, filtered, ['unshare', '-U', 'true']);
  t.not(unshared.exitCode, 0, 'a new user namespace is refused');
  const mounted = await run(env, filtered, ['mount', '-t', 'tmpfs', 'x', '/mnt']);
  t.not(mounted.exitCode, 0, 'mount is refused');
  const unconfined = await runTestContainer(t, env, sandbox, { command: ['sleep', '1000'], seccomp: { kind: 'unconfined' } });
  t.equal(await statusField(unconfined, 'Seccomp'), '0', 'unconfined: no filter');
  const none = await runTestContainer(t, env, sandbox, { command: ['sleep', '1000'] });
  t.equal(await statusField(none, 'Seccomp'), '0', 'no profile asked: no filter');
  const privileged = await runTestContainer(t, env, sandbox, { command: ['sleep', '1000'], privileged: true, seccomp: { kind: 'runtime-default' } });
  t.equal(await statusField(privileged, 'Seccomp'), '0', 'privileged: RuntimeDefault is not applied');
});

t.test('a group without a user is refused before any bundle is written', { skip }, async (t) => {
  const env = newTestRuntime(t);
  const sandbox = await startTestSandbox(t, env);
  await t.rejects(prepareTestContainer(t, env, sandbox, { user: { runAsGroup: 2345 } }), ContainerUserError, 'run_as_group alone');
  const container = await runTestContainer(t, env, sandbox, { command: ['sleep', '1000'], user: { runAsUser: 1234, runAsGroup: 2345 } });
  t.equal((await run(env, container, ['sh', '-c', 'id -u; id -g'])).stdout, '1234\n2345\n', 'with a user it runs');
});

t.test('the process count of a pod cgroup counts the processes of its containers', { skip }, async (t) => {
  const env = newTestRuntime(t);
  const sandbox = await startTestSandbox(t, env);
  await runTestContainer(t, env, sandbox, { command: ['sh', '-c', 'sleep 1000 & sleep 1000 & sleep 1000 & wait'] });
  const deadline = Date.now() + 5000;
  let count = await readCgroupProcessCount(env.cgroupParent);
  while (count !== 5 && Date.now() < deadline) {
    await new Promise((resolve) => setTimeout(resolve, 50));
    count = await readCgroupProcessCount(env.cgroupParent);
  }
  t.equal(count, 5, 'the pause process, the shell and its three sleeps');
  t.equal(await readCgroupProcessCount(`${env.cgroupParent}/no-such-cgroup`), undefined, 'an absent cgroup has no count');
});

/** A folder bind-mounted on itself and made shared; unmounted in teardown. */
function sharedFolder(t: Test, name: string): string {
  const dir = tempDir(t, `kubeplug-${name}-`);
  execFileSync('mount', ['--bind', dir, dir]);
  cleanup(t, () => spawnSync('umount', ['--recursive', '--lazy', dir]));
  execFileSync('mount', ['--make-rshared', dir]);
  return dir;
}

t.test('a bidirectional mount of a privileged container propagates both ways when its source is on a shared mount', { skip }, async (t) => {
  const env = newTestRuntime(t);
  const dir = sharedFolder(t, 'bidirectional');
  fs.mkdirSync(path.join(dir, 'from-container'));
  cleanup(t, () => spawnSync('umount', ['--lazy', path.join(dir, 'from-container')]));
  const sandbox = await startTestSandbox(t, env);
  const container = await runTestContainer(t, env, sandbox, { command: ['sleep', '1000'], privileged: true, mounts: [{ hostPath: dir, containerPath: '/mnt/both', propagation: 'bidirectional' }] });
  const mounted = await run(env, container, ['sh', '-c', 'mount -t tmpfs -o size=1m kp-inner /mnt/both/from-container && echo inside > /mnt/both/from-container/marker.txt']);
  t.equal(mounted.exitCode, 0, `the container mounts a tmpfs (stderr: ${mounted.stderr.trim()})`);
  t.equal(fs.readFileSync(path.join(dir, 'from-container', 'marker.txt'), 'utf8'), 'inside\n', 'it appears on the host');
  fs.mkdirSync(path.join(dir, 'from-host'));
  execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=1m', 'kp-host', path.join(dir, 'from-host')]);
  cleanup(t, () => spawnSync('umount', ['--lazy', path.join(dir, 'from-host')]));
  fs.writeFileSync(path.join(dir, 'from-host', 'marker.txt'), 'host\n');
  t.equal((await run(env, container, ['cat', '/mnt/both/from-host/marker.txt'])).stdout, 'host\n', 'a later host mount appears in the container');
});

t.test('a bidirectional mount whose source is not on a shared mount is refused', { skip }, async (t) => {
  const env = newTestRuntime(t);
  const dir = tempDir(t, 'kubeplug-private-');
  execFileSync('mount', ['--bind', dir, dir]);
  cleanup(t, () => spawnSync('umount', ['--lazy', dir]));
  execFileSync('mount', ['--make-private', dir]);
  const sandbox = await startTestSandbox(t, env);
  await t.rejects(prepareTestContainer(t, env, sandbox, { privileged: true, mounts: [{ hostPath: dir, containerPath: '/mnt/both', propagation: 'bidirectional' }] }), MountPropagationError);
});

t.test('currentProcessCapabilities reads the effective and bounding sets of /proc/self/status', async (t) => {
  const status = 'Name:\tx\nCapEff:\t0000000000000005\nCapBnd:\t0000000000000007\n';
  t.same(currentProcessCapabilities(status), ['CAP_CHOWN', 'CAP_DAC_READ_SEARCH'], 'bits 0 and 2, held in both');
  t.ok(currentProcessCapabilities().length > 0, 'this process holds some');
});

t.test('the sandbox\'s namespaced sysctls (network and IPC) hold inside its containers', { skip }, async (t) => {
  const env = newTestRuntime(t);
  const sysctls = { 'net.ipv4.ip_unprivileged_port_start': '1000', 'kernel.shm_rmid_forced': '1' };
  const sandbox = await startTestSandbox(t, env, { namespaces: { network: 'pod', pid: 'pod', ipc: 'pod' }, sysctls });
  const container = await runTestContainer(t, env, sandbox, { command: ['sleep', '1000'] });
  for (const [key, value] of Object.entries(sysctls)) {
    t.equal((await run(env, container, ['cat', `/proc/sys/${key.replaceAll('.', '/')}`])).stdout.trim(), value, `${key} = ${value}`);
  }
});
