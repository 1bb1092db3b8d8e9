import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import t, { type Test } from 'tap';
import { allCapabilities, containerCapabilities, defaultCapabilities } from '../../../../reference-plugins/process-runtime/oci/capabilities.js';
import { ContainerUserError, readFileInRootfs, resolveContainerUser } from '../../../../reference-plugins/process-runtime/oci/container-user.js';
import {
  buildContainerSpec, buildExecProcess, buildSandboxSpec, containerArgs, containerEnv, ociResourcesFrom, type ContainerSpecInput,
} from '../../../../reference-plugins/process-runtime/oci/runtime-spec.js';

function fakeRootfs(t: Test): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'kubeplug-spec-'));
  t.teardown(() => fs.rmSync(dir, { recursive: true, force: true }));
  fs.mkdirSync(path.join(dir, 'etc'));
  fs.writeFileSync(path.join(dir, 'etc', 'passwd'), 'root:x:0:0:root:/root:/bin/sh\napp:x:1000:1000::/home/app:/bin/sh\nweb:x:33:33::/var/www:/bin/false\n');
  fs.writeFileSync(path.join(dir, 'etc', 'group'), 'root:x:0:\napp:x:1000:\nweb:x:33:\nvideo:x:44:app\naudio:x:29:app,web\n');
  return dir;
}

const image = { env: ['PATH=/usr/bin:/bin', 'LANG=C', 'EMPTY='], entrypoint: ['/entry'], cmd: ['default-arg'], workingDir: '/srv', user: '' };

t.test('args follow the kubelet: command replaces the entrypoint, args replace cmd', async (t) => {
  const cases: [string, { command?: string[]; args?: string[] }, string[]][] = [
    ['nothing set: entrypoint + cmd', {}, ['/entry', 'default-arg']],
    ['args only: entrypoint + args', { args: ['x'] }, ['/entry', 'x']],
    ['command only: command without cmd', { command: ['/bin/sh'] }, ['/bin/sh']],
    ['command and args', { command: ['/bin/sh'], args: ['-c', 'true'] }, ['/bin/sh', '-c', 'true']],
  ];
  for (const [name, input, wanted] of cases) t.same(containerArgs({ image, ...input }), wanted, name);
  t.same(containerArgs({ image: { ...image, entrypoint: [] }, args: [] }), ['default-arg'], 'no entrypoint: cmd alone');
});

t.test('env: the image\'s, overridden by key by the config\'s, in order, with HOSTNAME first and PATH kept', async (t) => {
  t.same(containerEnv({ image, envs: [{ key: 'LANG', value: 'en_US.UTF-8' }, { key: 'NEW', value: 'a=b' }], hostname: 'pod-1' }), [
    'HOSTNAME=pod-1', 'PATH=/usr/bin:/bin', 'LANG=en_US.UTF-8', 'EMPTY=', 'NEW=a=b',
  ]);
  t.same(containerEnv({ image: { ...image, env: [] } }), ['PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin'], 'a default PATH when none is set');
});

t.test('the user is resolved from run_as_user, run_as_username or the image\'s User through the rootfs\'s passwd and group', async (t) => {
  const rootfs = fakeRootfs(t);
  const cases: [string, Parameters<typeof resolveContainerUser>[1], object][] = [
    ['no user: root', {}, { uid: 0, gid: 0 }],
    ['image user by name: its passwd gid and its groups', { imageUser: 'app' }, { uid: 1000, gid: 1000, additionalGids: [44, 29] }],
    ['image user uid:gid', { imageUser: '1234:5678' }, { uid: 1234, gid: 5678 }],
    ['image user name:group', { imageUser: 'app:web' }, { uid: 1000, gid: 33, additionalGids: [44, 29] }],
    ['image user uid known to passwd', { imageUser: '33' }, { uid: 33, gid: 33, additionalGids: [29] }],
    ['run_as_user overrides the image', { imageUser: 'app', runAsUser: 33n }, { uid: 33, gid: 33, additionalGids: [29] }],
    ['run_as_user unknown to passwd: gid 0', { runAsUser: 4242 }, { uid: 4242, gid: 0 }],
    ['run_as_group', { runAsUser: 1000, runAsGroup: 7n }, { uid: 1000, gid: 7, additionalGids: [44, 29] }],
    ['run_as_username', { runAsUsername: 'web' }, { uid: 33, gid: 33, additionalGids: [29] }],
    ['supplemental groups appended once', { runAsUser: 1000, supplementalGroups: [29n, 500n] }, { uid: 1000, gid: 1000, additionalGids: [44, 29, 500] }],
  ];
  for (const [name, input, wanted] of cases) t.same(resolveContainerUser(rootfs, input), wanted, name);
  t.throws(() => resolveContainerUser(rootfs, { imageUser: 'ghost' }), ContainerUserError, 'an unknown image user name');
  t.throws(() => resolveContainerUser(rootfs, { imageUser: 'app:ghosts' }), ContainerUserError, 'an unknown group name');
  t.throws(() => resolveContainerUser(rootfs, { runAsUsername: 'ghost' }), ContainerUserError, 'an unknown run_as_username');
});

t.test('rootfs files are read through symlinks resolved inside the rootfs, never the host\'s', async (t) => {
  const rootfs = fakeRootfs(t);
  fs.renameSync(path.join(rootfs, 'etc', 'passwd'), path.join(rootfs, 'etc', 'passwd.real'));
  fs.symlinkSync('/etc/passwd.real', path.join(rootfs, 'etc', 'passwd'));
  t.match(readFileInRootfs(rootfs, '/etc/passwd'), /^root:x:0:0/, 'an absolute link is taken inside the rootfs');
  fs.rmSync(path.join(rootfs, 'etc', 'group'));
  fs.symlinkSync('../../../../../../../etc/hostname', path.join(rootfs, 'etc', 'group'));
  t.equal(readFileInRootfs(rootfs, '/etc/group'), undefined, '.. never climbs out of the rootfs');
  fs.symlinkSync('loop', path.join(rootfs, 'loop'));
  t.equal(readFileInRootfs(rootfs, '/loop'), undefined, 'a symlink loop ends');
});

t.test('capabilities: the default set, add and drop, ALL on either side, privileged', async (t) => {
  t.same(containerCapabilities({}).effective, defaultCapabilities, 'the default set');
  const changed = containerCapabilities({ add: ['NET_ADMIN', 'CAP_SYS_TIME'], drop: ['chown'] }).effective;
  t.ok(changed.includes('CAP_NET_ADMIN') && changed.includes('CAP_SYS_TIME'), 'added with or without the CAP_ prefix');
  t.notOk(changed.includes('CAP_CHOWN'), 'dropped, whatever the case');
  t.same(containerCapabilities({ drop: ['ALL'], add: ['NET_BIND_SERVICE'] }).effective, ['CAP_NET_BIND_SERVICE'], 'drop ALL then add one');
  t.same(containerCapabilities({ add: ['ALL'], drop: ['SYS_ADMIN'], available: allCapabilities }).effective, allCapabilities.filter((name) => name !== 'CAP_SYS_ADMIN'), 'add ALL then drop one');
  t.same(containerCapabilities({ privileged: true, drop: ['ALL'], available: allCapabilities }).bounding, allCapabilities, 'privileged has every capability');
  const held = allCapabilities.filter((name) => name !== 'CAP_SYS_RESOURCE');
  t.same(containerCapabilities({ privileged: true, available: held }).effective, held, 'every capability this process holds, not one it lacks');
  t.same(containerCapabilities({ add: ['ALL'], available: held }).bounding, held, 'add ALL is bounded the same way');
  const sets = containerCapabilities({});
  t.same(sets.bounding, sets.permitted, 'bounding = permitted');
  t.same(sets.inheritable, [], 'nothing inheritable');
});

t.test('resources: CRI fields become linux.resources, zero fields are left out', async (t) => {
  t.same(ociResourcesFrom(undefined), {});
  t.same(ociResourcesFrom({ cpuPeriod: 0n, cpuQuota: 0n, cpuShares: 0n, memoryLimitInBytes: 0n, cpusetCpus: '' }), {});
  t.same(ociResourcesFrom({ cpuPeriod: 100000n, cpuQuota: 50000n, cpuShares: 1024n, memoryLimitInBytes: 1n << 26n, memorySwapLimitInBytes: 1n << 27n, cpusetCpus: '0', cpusetMems: '0' }), {
    cpu: { shares: 1024, quota: 50000, period: 100000, cpus: '0', mems: '0' },
    memory: { limit: 1 << 26, swap: 1 << 27 },
  });
  t.same(ociResourcesFrom({ cpuQuota: -1n }), { cpu: { quota: -1 } }, 'a quota of -1 (unlimited) is kept');
});

function containerInput(rootfs: string, overrides: Partial<ContainerSpecInput> = {}): ContainerSpecInput {
  return {
    rootfs,
    image,
    sandbox: { pausePid: 4242, namespaces: { network: 'pod', pid: 'container', ipc: 'pod' }, hostsPath: '/pod/hosts', hostnamePath: '/pod/hostname', resolvConfPath: '/pod/resolv.conf' },
    cgroupsPath: '/kubeplug/c1',
    ...overrides,
  };
}

t.test('container namespaces are the pause process\'s, joined by path, as the pod\'s namespace options say', async (t) => {
  const rootfs = fakeRootfs(t);
  const namespacesOf = (namespaces: ContainerSpecInput['sandbox']['namespaces'], targetPid?: number): string[] =>
    buildContainerSpec(containerInput(rootfs, { sandbox: { pausePid: 4242, namespaces, ...(targetPid === undefined ? {} : { targetPid }) } })).linux.namespaces.map(
      (ns) => `${ns.type}${ns.path === undefined ? '' : `=${ns.path}`}`,
    );
  t.same(namespacesOf({ network: 'pod', pid: 'container', ipc: 'pod' }), ['mount', 'network=/proc/4242/ns/net', 'uts=/proc/4242/ns/uts', 'ipc=/proc/4242/ns/ipc', 'pid']);
  t.same(namespacesOf({ network: 'pod', pid: 'pod', ipc: 'pod' }).at(-1), 'pid=/proc/4242/ns/pid', 'pod-level PID joins the pause process\'s');
  t.same(namespacesOf({ network: 'node', pid: 'node', ipc: 'node' }), ['mount'], 'host network, PID and IPC: only a mount namespace');
  t.same(namespacesOf({ network: 'pod', pid: 'target', ipc: 'pod' }, 777).at(-1), 'pid=/proc/777/ns/pid', 'target PID joins the target\'s');
});

t.test('container mounts: defaults, the pod\'s files, CRI mounts with propagation, a CRI mount replacing a default', async (t) => {
  const rootfs = fakeRootfs(t);
  const spec = buildContainerSpec(containerInput(rootfs, {
    mounts: [
      { containerPath: '/data/inner', hostPath: '/host/inner', propagation: 'host-to-container' },
      { containerPath: '/data', hostPath: '/host/data', readonly: true },
      { containerPath: '/shared', hostPath: '/host/shared', propagation: 'bidirectional' },
      { containerPath: '/etc/resolv.conf', hostPath: '/custom/resolv.conf' },
    ],
  }));
  const byDestination = new Map(spec.mounts.map((mount) => [mount.destination, mount]));
  for (const destination of ['/proc', '/dev', '/dev/pts', '/dev/shm', '/dev/mqueue', '/sys', '/sys/fs/cgroup', '/etc/hosts', '/etc/hostname']) {
    t.ok(byDestination.has(destination), `${destination} is mounted`);
  }
  t.same(byDestination.get('/etc/hosts')?.options, ['rbind', 'rprivate', 'rw'], 'the pod\'s hosts file, writable');
  t.equal(byDestination.get('/etc/resolv.conf')?.source, '/custom/resolv.conf', 'a CRI mount replaces the pod\'s resolv.conf');
  t.equal(spec.mounts.filter((mount) => mount.destination === '/etc/resolv.conf').length, 1, 'once');
  t.same(byDestination.get('/data')?.options, ['rbind', 'rprivate', 'ro'], 'read-only, private');
  t.same(byDestination.get('/data/inner')?.options, ['rbind', 'rslave', 'rw'], 'host-to-container is rslave');
  t.same(byDestination.get('/shared')?.options, ['rbind', 'rshared', 'rw'], 'bidirectional is rshared');
  const order = spec.mounts.map((mount) => mount.destination);
  t.ok(order.indexOf('/data') < order.indexOf('/data/inner'), 'a parent mount comes before a mount inside it');
  t.equal(spec.linux.rootfsPropagation, 'rshared', 'a bidirectional mount makes the rootfs rshared');
  t.ok(byDestination.get('/sys')?.options?.includes('ro'), '/sys is read-only');
  const readOnly = buildContainerSpec(containerInput(rootfs, { readonlyRootfs: true }));
  t.equal(readOnly.root.readonly, true, 'read-only rootfs');
  t.same(readOnly.mounts.find((mount) => mount.destination === '/etc/hosts')?.options, ['rbind', 'rprivate', 'ro'], 'with a read-only rootfs the pod files are read-only');
  const hostNetwork = buildContainerSpec(containerInput(rootfs, { sandbox: { pausePid: 1, namespaces: { network: 'node', pid: 'pod', ipc: 'pod' }, shmPath: '/pod/shm' } }));
  t.equal(hostNetwork.mounts.find((mount) => mount.destination === '/sys')?.type, 'bind', 'with host networking /sys is the host\'s, bound');
  t.equal(hostNetwork.mounts.find((mount) => mount.destination === '/dev/shm')?.source, '/pod/shm', 'the pod\'s shared /dev/shm');
});

t.test('container process: args, env, cwd, user, no_new_privs, oom_score_adj, masked paths, sysctls; privileged drops the masks', async (t) => {
  const rootfs = fakeRootfs(t);
  const spec = buildContainerSpec(containerInput(rootfs, {
    args: ['x'], envs: [{ key: 'A', value: '1' }], user: { runAsUser: 1000 }, noNewPrivileges: true,
    resources: { oomScoreAdj: 999n, memoryLimitInBytes: 1n << 26n }, sysctls: { 'net.ipv4.ip_forward': '1' }, annotations: { a: 'b' },
  }));
  t.same(spec.process.args, ['/entry', 'x']);
  t.ok(spec.process.env?.includes('A=1'));
  t.equal(spec.process.cwd, '/srv', 'the image\'s working dir');
  t.equal(spec.process.user.uid, 1000);
  t.equal(spec.process.noNewPrivileges, true);
  t.equal(spec.process.oomScoreAdj, 999);
  t.same(spec.linux.resources?.memory, { limit: 1 << 26 });
  t.ok(spec.linux.maskedPaths?.includes('/proc/kcore'), 'default masked paths');
  t.ok(spec.linux.readonlyPaths?.includes('/proc/sys'), 'default read-only paths');
  t.same(spec.linux.sysctl, { 'net.ipv4.ip_forward': '1' });
  t.same(spec.annotations, { a: 'b' });
  t.equal(spec.linux.cgroupsPath, '/kubeplug/c1');
  t.equal(buildContainerSpec(containerInput(rootfs, { workingDir: '/w' })).process.cwd, '/w', 'the config\'s working dir wins');
  t.equal(buildContainerSpec(containerInput(rootfs, { image: { ...image, workingDir: '' } })).process.cwd, '/', '/ when neither sets one');
  const privileged = buildContainerSpec(containerInput(rootfs, { privileged: true }));
  t.equal(privileged.linux.maskedPaths, undefined, 'privileged: nothing masked');
  t.notOk(privileged.mounts.find((mount) => mount.destination === '/sys')?.options?.includes('ro'), 'privileged: /sys writable');
  const exec = buildExecProcess(spec.process, ['ls']);
  t.same(exec.args, ['ls']);
  t.equal(exec.user.uid, 1000, 'exec runs as the container\'s user');
  t.equal(exec.oomScoreAdj, undefined, 'exec does not reset the OOM score');
});

t.test('sandbox spec: /pause read-only, hostname, namespaces by the pod\'s options', async (t) => {
  const spec = buildSandboxSpec({ pauseRootfs: '/pause-root', hostname: 'pod-a', namespaces: { network: 'pod', pid: 'pod', ipc: 'pod' }, netnsPath: '/run/netns/x', cgroupsPath: '/kubeplug/s1', oomScoreAdj: -998 });
  t.same(spec.process.args, ['/pause']);
  t.same(spec.root, { path: '/pause-root', readonly: true });
  t.equal(spec.hostname, 'pod-a');
  t.equal(spec.process.oomScoreAdj, -998);
  t.same(spec.process.capabilities?.bounding, [], 'the pause process has no capability');
  t.same(spec.linux.namespaces, [{ type: 'mount' }, { type: 'network', path: '/run/netns/x' }, { type: 'uts' }, { type: 'ipc' }, { type: 'pid' }]);
  const host = buildSandboxSpec({ pauseRootfs: '/p', hostname: 'h', namespaces: { network: 'node', pid: 'node', ipc: 'node' }, cgroupsPath: '/k/s' });
  t.same(host.linux.namespaces, [{ type: 'mount' }], 'host network, PID and IPC');
  t.equal(host.hostname, undefined, 'no hostname without a UTS namespace of its own');
  t.throws(() => buildSandboxSpec({ pauseRootfs: '/p', hostname: 'h', namespaces: { network: 'pod', pid: 'pod', ipc: 'pod' }, cgroupsPath: '/k/s' }), 'a pod network needs a netns path');
});
