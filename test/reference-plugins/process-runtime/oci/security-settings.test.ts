import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import t from 'tap';
import { ContainerUserError, validateUserSettings } from '../../../../reference-plugins/process-runtime/oci/container-user.js';
import { containerDevices, DeviceError, hostDevices } from '../../../../reference-plugins/process-runtime/oci/devices.js';
import { checkMountPropagation, mountOf, MountPropagationError } from '../../../../reference-plugins/process-runtime/oci/mount-propagation.js';
import {
  containerSeccomp, loadLocalhostSeccompProfile, runtimeDefaultSeccomp, SeccompProfileError, seccompChoiceFromCri, seccompFromProfile,
} from '../../../../reference-plugins/process-runtime/oci/seccomp-profile.js';

t.test('run_as_group needs run_as_user or run_as_username', async (t) => {
  const cases: [string, Parameters<typeof validateUserSettings>[0], boolean][] = [
    ['nothing set', {}, true],
    ['no context', undefined, true],
    ['group with user', { runAsUser: { value: 1n }, runAsGroup: { value: 2n } }, true],
    ['group with user 0', { runAsUser: { value: 0n }, runAsGroup: { value: 2n } }, true],
    ['group with username', { runAsUsername: 'app', runAsGroup: { value: 2n } }, true],
    ['group alone', { runAsGroup: { value: 2n } }, false],
    ['group with an empty username', { runAsUsername: '', runAsGroup: 2 }, false],
  ];
  for (const [name, context, accepted] of cases) {
    if (accepted) t.doesNotThrow(() => validateUserSettings(context), name);
    else t.throws(() => validateUserSettings(context), ContainerUserError, name);
  }
});

t.test('seccomp choice: the SecurityProfile message first, then the deprecated path, else unconfined', async (t) => {
  const cases: [string, Parameters<typeof seccompChoiceFromCri>[0], unknown][] = [
    ['nothing', {}, { kind: 'unconfined' }],
    ['RuntimeDefault', { seccomp: { profileType: 0, localhostRef: '' } }, { kind: 'runtime-default' }],
    ['Unconfined', { seccomp: { profileType: 1, localhostRef: '' } }, { kind: 'unconfined' }],
    ['Localhost', { seccomp: { profileType: 2, localhostRef: '/p.json' } }, { kind: 'localhost', path: '/p.json' }],
    ['the message wins over the path', { seccomp: { profileType: 1, localhostRef: '' }, seccompProfilePath: 'runtime/default' }, { kind: 'unconfined' }],
    ['path runtime/default', { seccompProfilePath: 'runtime/default' }, { kind: 'runtime-default' }],
    ['path docker/default', { seccompProfilePath: 'docker/default' }, { kind: 'runtime-default' }],
    ['path unconfined', { seccompProfilePath: 'unconfined' }, { kind: 'unconfined' }],
    ['path localhost/', { seccompProfilePath: 'localhost//etc/p.json' }, { kind: 'localhost', path: '/etc/p.json' }],
  ];
  for (const [name, input, wanted] of cases) t.same(seccompChoiceFromCri(input), wanted, name);
  t.throws(() => seccompChoiceFromCri({ seccomp: { profileType: 2, localhostRef: 'relative.json' } }), SeccompProfileError, 'a relative localhost ref');
  t.throws(() => seccompChoiceFromCri({ seccompProfilePath: 'bogus' }), SeccompProfileError, 'an unknown path form');
  t.throws(() => seccompChoiceFromCri({ seccomp: { profileType: 7, localhostRef: '' } }), SeccompProfileError, 'an unknown type');
});

t.test('a Docker-format profile becomes linux.seccomp: names, archMap, args, errnoRet, includes and excludes', async (t) => {
  const profile = {
    defaultAction: 'SCMP_ACT_ERRNO',
    defaultErrnoRet: 1,
    archMap: [
      { architecture: 'SCMP_ARCH_X86_64', subArchitectures: ['SCMP_ARCH_X86', 'SCMP_ARCH_X32'] },
      { architecture: 'SCMP_ARCH_AARCH64', subArchitectures: ['SCMP_ARCH_ARM'] },
    ],
    syscalls: [
      { names: ['read', 'write'], action: 'SCMP_ACT_ALLOW' },
      { name: 'personality', action: 'SCMP_ACT_ALLOW', args: [{ index: 0, value: 0, valueTwo: 0, op: 'SCMP_CMP_EQ' }] },
      { names: ['mount'], action: 'SCMP_ACT_ALLOW', includes: { caps: ['CAP_SYS_ADMIN'] } },
      { names: ['arch_prctl'], action: 'SCMP_ACT_ALLOW', includes: { arches: ['amd64'] } },
      { names: ['ptrace'], action: 'SCMP_ACT_ERRNO', errnoRet: 38, excludes: { caps: ['SYS_PTRACE'] } },
    ],
  };
  const x86 = seccompFromProfile(profile, { capabilities: ['CAP_CHOWN'], architectures: ['SCMP_ARCH_X86_64', 'SCMP_ARCH_X86'] });
  t.equal(x86.defaultAction, 'SCMP_ACT_ERRNO');
  t.equal(x86.defaultErrnoRet, 1);
  t.same(x86.architectures, ['SCMP_ARCH_X86_64', 'SCMP_ARCH_X86', 'SCMP_ARCH_X32'], 'this machine\'s archMap entry');
  t.same(x86.syscalls?.map((rule) => rule.names.join(',')), ['read,write', 'personality', 'arch_prctl', 'ptrace'], 'mount needs CAP_SYS_ADMIN; arch_prctl is for amd64');
  t.same(x86.syscalls?.[1]?.args, [{ index: 0, value: 0, op: 'SCMP_CMP_EQ' }]);
  t.equal(x86.syscalls?.[3]?.errnoRet, 38);
  const arm = seccompFromProfile(profile, { capabilities: ['CAP_SYS_ADMIN', 'CAP_SYS_PTRACE'], architectures: ['SCMP_ARCH_AARCH64'] });
  t.same(arm.architectures, ['SCMP_ARCH_AARCH64', 'SCMP_ARCH_ARM']);
  t.same(arm.syscalls?.map((rule) => rule.names.join(',')), ['read,write', 'personality', 'mount'], 'with the capabilities: mount kept, ptrace excluded');
  t.same(seccompFromProfile({ defaultAction: 'SCMP_ACT_ALLOW', architectures: ['SCMP_ARCH_X86_64'] }, { capabilities: [] }), { defaultAction: 'SCMP_ACT_ALLOW', architectures: ['SCMP_ARCH_X86_64'] }, 'explicit architectures, no rules');
  const invalid: [string, unknown][] = [
    ['not an object', []],
    ['no defaultAction', { syscalls: [] }],
    ['an unknown action', { defaultAction: 'SCMP_ACT_MAYBE' }],
    ['a rule without names', { defaultAction: 'SCMP_ACT_ALLOW', syscalls: [{ action: 'SCMP_ACT_ERRNO' }] }],
    ['a bad operator', { defaultAction: 'SCMP_ACT_ALLOW', syscalls: [{ names: ['x'], action: 'SCMP_ACT_ERRNO', args: [{ index: 0, value: 1, op: 'EQ' }] }] }],
    ['an argument index past 5', { defaultAction: 'SCMP_ACT_ALLOW', syscalls: [{ names: ['x'], action: 'SCMP_ACT_ERRNO', args: [{ index: 6, value: 1, op: 'SCMP_CMP_EQ' }] }] }],
    ['an unknown flag', { defaultAction: 'SCMP_ACT_ALLOW', flags: ['SECCOMP_FILTER_FLAG_NOPE'] }],
  ];
  for (const [name, value] of invalid) t.throws(() => seccompFromProfile(value, { capabilities: [] }), SeccompProfileError, name);
});

t.test('a localhost profile file that is missing or not JSON is a SeccompProfileError', async (t) => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'kubeplug-seccomp-'));
  t.teardown(() => fs.rmSync(dir, { recursive: true, force: true }));
  t.throws(() => loadLocalhostSeccompProfile(path.join(dir, 'missing.json'), { capabilities: [] }), SeccompProfileError, 'missing');
  fs.writeFileSync(path.join(dir, 'bad.json'), '{ not json');
  t.throws(() => loadLocalhostSeccompProfile(path.join(dir, 'bad.json'), { capabilities: [] }), SeccompProfileError, 'not JSON');
  fs.writeFileSync(path.join(dir, 'good.json'), JSON.stringify({ defaultAction: 'SCMP_ACT_ALLOW', syscalls: [{ names: ['mkdir'], action: 'SCMP_ACT_ERRNO' }] }));
  t.same(loadLocalhostSeccompProfile(path.join(dir, 'good.json'), { capabilities: [] }).syscalls, [{ names: ['mkdir'], action: 'SCMP_ACT_ERRNO' }], 'a valid one');
});

t.test('the runtime default refuses dangerous calls with EPERM, mount and namespaces only without CAP_SYS_ADMIN; privileged always runs unconfined', async (t) => {
  const plain = runtimeDefaultSeccomp({ capabilities: ['CAP_CHOWN'] });
  t.equal(plain.defaultAction, 'SCMP_ACT_ALLOW');
  const refused = plain.syscalls?.[0];
  t.equal(refused?.action, 'SCMP_ACT_ERRNO');
  t.equal(refused?.errnoRet, 1, 'EPERM');
  for (const name of ['kexec_load', 'init_module', 'bpf', 'keyctl', 'mount', 'unshare', 'setns']) t.ok(refused?.names.includes(name), `${name} refused`);
  for (const name of ['ptrace', 'clone', 'mkdir', 'execve']) t.notOk(refused?.names.includes(name), `${name} allowed`);
  const admin = runtimeDefaultSeccomp({ capabilities: ['CAP_SYS_ADMIN'] }).syscalls?.[0]?.names ?? [];
  t.notOk(admin.includes('mount'), 'with CAP_SYS_ADMIN mount is left to the capability');
  t.equal(containerSeccomp({ kind: 'runtime-default' }, { privileged: true, capabilities: [] }), undefined, 'privileged: no RuntimeDefault');
  t.equal(containerSeccomp({ kind: 'localhost', path: '/kp-no-such-profile.json' }, { privileged: true, capabilities: [] }), undefined, 'privileged: no localhost profile either (not even read)');
  t.equal(containerSeccomp({ kind: 'unconfined' }, { privileged: false, capabilities: [] }), undefined, 'unconfined: none');
  t.equal(containerSeccomp(undefined, { privileged: false, capabilities: [] }), undefined, 'not asked: none');
});

t.test('CRI devices: a node, a folder of nodes, bad permissions, a missing path, a non-device', async (t) => {
  const single = containerDevices([{ hostPath: '/dev/null', containerPath: '/dev/kp-null', permissions: 'rw' }]);
  t.match(single.devices, [{ path: '/dev/kp-null', type: 'c', major: 1, minor: 3 }]);
  t.same(single.rules, [{ allow: true, type: 'c', major: 1, minor: 3, access: 'rw' }]);
  t.equal(containerDevices([{ hostPath: '/dev/zero', containerPath: '/dev/z' }]).rules[0]?.access, 'rwm', 'no permissions means rwm');
  if (fs.existsSync('/dev/net/tun')) {
    const folder = containerDevices([{ hostPath: '/dev/net', containerPath: '/dev/kp-net', permissions: 'r' }]);
    t.ok(folder.devices.some((device) => device.path === '/dev/kp-net/tun'), 'a folder gives each of its devices under the container path');
  }
  t.throws(() => containerDevices([{ hostPath: '/dev/null', containerPath: '/dev/x', permissions: 'rwx' }]), DeviceError, 'x is no permission');
  t.throws(() => containerDevices([{ hostPath: '/dev/kp-no-such-device', containerPath: '/dev/x' }]), DeviceError, 'missing');
  t.throws(() => containerDevices([{ hostPath: '/etc/hostname', containerPath: '/dev/x' }]), DeviceError, 'not a device');
  t.throws(() => containerDevices([{ hostPath: '/dev/null', containerPath: 'dev/x' }]), DeviceError, 'a relative container path');
  const host = hostDevices();
  t.ok(host.some((device) => device.path === '/dev/null'), 'the host\'s /dev/null');
  t.notOk(host.some((device) => device.path.startsWith('/dev/pts/') || device.path === '/dev/console'), 'no pts or console');
});

t.test('mount propagation: bidirectional needs a shared mount, host-to-container a shared or slave one', async (t) => {
  const mountinfo = [
    '27 1 254:0 / / rw,relatime - ext4 /dev/vda rw',
    '50 27 0:40 / /shared rw,relatime shared:5 - tmpfs tmpfs rw',
    '51 27 0:41 / /slave rw,relatime master:5 - tmpfs tmpfs rw',
    '52 27 0:42 / /with\\040space rw,relatime shared:7 master:5 - tmpfs tmpfs rw',
  ].join('\n');
  t.same(mountOf('/', mountinfo), { mountPoint: '/', propagation: [] });
  const check = (hostPath: string, propagation: 'private' | 'host-to-container' | 'bidirectional'): void => checkMountPropagation({ hostPath, propagation, mountinfo });
  // realpath of these must exist: use / itself with crafted mountinfo.
  t.throws(() => check('/', 'bidirectional'), MountPropagationError, 'a private / refuses bidirectional');
  t.throws(() => check('/', 'host-to-container'), MountPropagationError, 'and host-to-container');
  t.doesNotThrow(() => check('/', 'private'), 'private needs nothing');
  const sharedRoot = '27 1 254:0 / / rw,relatime shared:1 - ext4 /dev/vda rw';
  t.doesNotThrow(() => checkMountPropagation({ hostPath: '/tmp', propagation: 'bidirectional', mountinfo: sharedRoot }), 'under a shared mount');
  const slaveRoot = '27 1 254:0 / / rw,relatime master:1 - ext4 /dev/vda rw';
  t.doesNotThrow(() => checkMountPropagation({ hostPath: '/tmp', propagation: 'host-to-container', mountinfo: slaveRoot }), 'host-to-container under a slave mount');
  t.throws(() => checkMountPropagation({ hostPath: '/tmp', propagation: 'bidirectional', mountinfo: slaveRoot }), MountPropagationError, 'bidirectional under a slave mount');
  t.doesNotThrow(() => checkMountPropagation({ hostPath: '/kp-no-such-path', propagation: 'bidirectional', mountinfo }), 'a missing host path is left to the runtime');
});
