import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import t, { type Test } from 'tap';
import type { OciSpec } from '../../../../reference-plugins/process-runtime/oci/oci-spec.js';
import { unmountIfMounted } from '../../../../reference-plugins/process-runtime/oci/rootfs.js';
import { buildExecProcess } from '../../../../reference-plugins/process-runtime/oci/runtime-spec.js';
import { cleanup, newTestRuntime, runTestContainer, skipReason, startTestSandbox, tempDir, waitForExit, type TestContainer, type TestRuntime } from './oci-fixture.js';

const skip = skipReason;

/** Runs a shell script in the container and returns its stdout (exit code checked to be 0). */
async function shell(t: Test, env: TestRuntime, container: TestContainer, script: string): Promise<string> {
  const spec = JSON.parse(fs.readFileSync(path.join(container.bundle, 'config.json'), 'utf8')) as OciSpec;
  const result = await env.runtime.exec(container.id, buildExecProcess(spec.process, ['sh', '-c', script]), { timeoutMs: 10_000 });
  t.equal(result.exitCode, 0, `\`${script}\` exits 0${result.stderr.length > 0 ? ` (stderr: ${result.stderr.toString().trim()})` : ''}`);
  return result.stdout.toString().trim();
}

function inode(file: string): number {
  return fs.statSync(file).ino;
}

t.test('a container joins the pod\'s network, UTS, IPC and PID namespaces and sees its hosts, hostname and resolv.conf', { skip }, async (t) => {
  const env = newTestRuntime(t);
  const sandbox = await startTestSandbox(t, env, { namespaces: { network: 'pod', pid: 'pod', ipc: 'pod' }, sysctls: { 'kernel.shm_rmid_forced': '1' } });
  const container = await runTestContainer(t, env, sandbox, { command: ['sleep', '1000'], hostname: 'test-pod' });
  for (const kind of ['net', 'uts', 'ipc', 'pid']) {
    t.equal(inode(`/proc/${container.pid}/ns/${kind}`), inode(`/proc/${sandbox.pid}/ns/${kind}`), `${kind} namespace shared with the pause process`);
  }
  t.equal(inode(`/proc/${container.pid}/ns/net`), inode(sandbox.netnsPath!), 'the pod\'s network namespace');
  t.not(inode(`/proc/${container.pid}/ns/net`), inode('/proc/self/ns/net'), 'not the host\'s');
  t.equal(await shell(t, env, container, 'hostname'), 'test-pod', 'the pod\'s hostname');
  t.equal(await shell(t, env, container, 'echo $HOSTNAME'), 'test-pod', 'HOSTNAME in the env');
  t.match(await shell(t, env, container, 'cat /etc/hosts'), /10\.9\.8\.7 test-pod/, 'the pod\'s /etc/hosts');
  t.match(await shell(t, env, container, 'cat /etc/resolv.conf'), /nameserver 10\.9\.8\.53/, 'the pod\'s resolv.conf');
  t.equal(await shell(t, env, container, 'cat /proc/sys/kernel/shm_rmid_forced'), '1', 'the sandbox\'s IPC sysctl is seen in the shared IPC namespace');
  t.equal(await shell(t, env, container, 'tr "\\0" " " < /proc/1/cmdline'), '/pause', 'PID 1 is the pause process (pod-level PID)');
  t.equal(await shell(t, env, container, 'ip -o link | grep -vc " lo:" || true'), '0', 'only a loopback in the fresh network namespace');
});

t.test('a container with its own PID namespace is PID 1 there', { skip }, async (t) => {
  const env = newTestRuntime(t);
  const sandbox = await startTestSandbox(t, env, { namespaces: { network: 'node', pid: 'container', ipc: 'pod' } });
  const container = await runTestContainer(t, env, sandbox, { command: ['sleep', '1000'] });
  t.equal(await shell(t, env, container, 'cat /proc/1/cmdline | tr "\\0" " "'), 'sleep 1000');
});

t.test('user, groups and capabilities reach the process', { skip }, async (t) => {
  const env = newTestRuntime(t);
  const sandbox = await startTestSandbox(t, env);
  const app = await runTestContainer(t, env, sandbox, { command: ['sleep', '1000'], image: { env: [], entrypoint: [], cmd: [], workingDir: '', user: 'app' }, user: { supplementalGroups: [500] } });
  t.equal(await shell(t, env, app, 'id -u; id -g'), '1000\n1000', 'the image user\'s uid and gid');
  const groups = (await shell(t, env, app, 'id -G')).split(' ').map(Number).sort((a, b) => a - b);
  t.same(groups, [29, 44, 500, 1000], 'its /etc/group groups and the supplemental one');
  const root = await runTestContainer(t, env, sandbox, { command: ['sleep', '1000'], capabilities: { drop: ['ALL'], add: ['NET_ADMIN'] } });
  t.equal(await shell(t, env, root, 'grep CapEff /proc/self/status | cut -f2'), (1n << 12n).toString(16).padStart(16, '0'), 'only CAP_NET_ADMIN (12) is effective');
  const defaults = await runTestContainer(t, env, sandbox, { command: ['sleep', '1000'] });
  t.equal(await shell(t, env, defaults, 'grep CapBnd /proc/self/status | cut -f2'), '00000000a80425fb', 'the default set bounds the process (as Docker and containerd)');
});

t.test('read-only rootfs and read-only mounts refuse writes; a writable mount is shared with the host', { skip }, async (t) => {
  const env = newTestRuntime(t);
  const sandbox = await startTestSandbox(t, env);
  const host = tempDir(t);
  fs.mkdirSync(path.join(host, 'rw'));
  fs.mkdirSync(path.join(host, 'ro'));
  fs.writeFileSync(path.join(host, 'ro', 'file'), 'host data');
  // rslave only follows a source that is itself a shared mount (containerd refuses a private one).
  const shared = path.join(host, 'ro');
  const bind = spawnSync('sh', ['-c', 'mount --bind "$0" "$0" && mount --make-shared "$0"', shared], { encoding: 'utf8' });
  t.equal(bind.status, 0, `the source is made a shared mount ${bind.stderr}`);
  cleanup(t, () => unmountIfMounted(shared));
  const container = await runTestContainer(t, env, sandbox, {
    command: ['sleep', '1000'],
    readonlyRootfs: true,
    mounts: [
      { containerPath: '/data/rw', hostPath: path.join(host, 'rw') },
      { containerPath: '/data/ro', hostPath: path.join(host, 'ro'), readonly: true, propagation: 'host-to-container' },
    ],
  });
  t.equal(await shell(t, env, container, 'touch /new 2>&1 || echo refused'), 'touch: /new: Read-only file system\nrefused', 'the rootfs is read-only');
  t.equal(await shell(t, env, container, 'cat /data/ro/file; echo; touch /data/ro/x 2>/dev/null || echo refused'), 'host data\nrefused', 'a read-only mount');
  await shell(t, env, container, 'echo from the container > /data/rw/out');
  t.equal(fs.readFileSync(path.join(host, 'rw', 'out'), 'utf8'), 'from the container\n', 'a writable mount reaches the host');
  t.match(await shell(t, env, container, 'grep " /data/ro " /proc/self/mountinfo'), /master:/, 'host-to-container propagation is rslave');
});

t.test('the pause sandbox exits 0 on SIGTERM and reaps orphans of a shared PID namespace', { skip }, async (t) => {
  const env = newTestRuntime(t);
  const sandbox = await startTestSandbox(t, env);
  // The container's shell leaves a background child that dies after it; the pause process must reap it.
  const container = await runTestContainer(t, env, sandbox, { command: ['sh', '-c', '(sleep 0.2; exit 0) & exit 0'] });
  await new Promise((resolve) => setTimeout(resolve, 600));
  const zombies = fs.readdirSync('/proc').filter((pid) => /^\d+$/.test(pid)).filter((pid) => {
    try {
      const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
      return stat.split(') ')[1]?.startsWith('Z') === true && stat.split(') ')[1]?.split(' ')[1] === String(sandbox.pid);
    } catch {
      return false;
    }
  });
  t.same(zombies, [], 'no zombie child of the pause process');
  t.ok(container.pid > 0);
  await env.runtime.kill(sandbox.id, 'SIGTERM');
  t.equal((await waitForExit(sandbox)).exitCode, 0, 'pause exits 0 on SIGTERM');
});
