import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import t from 'tap';
import { createCommandVolumeSystem } from '../../../reference-plugins/dir-volume/command-volume-system.js';
import { createMountServerSystem } from '../../../reference-plugins/dir-volume/mount-server/mount-server-system.js';
import { mountFlagsOf, VolumeSystemError, type VolumeSystem } from '../../../reference-plugins/dir-volume/volume-system.js';
import { packageRoot } from '../../../specs/registry/index.js';
import { tempDir } from '../../helpers/temp-dir.js';
import { skipUnlessRoot } from './dir-volume-fixture.js';

const binary = path.join(packageRoot(), 'dist/reference-plugins/dir-volume/mount-server/kubeplug-mount-server');

function mountInfoAt(target: string): string[] {
  return fs
    .readFileSync('/proc/self/mountinfo', 'utf8')
    .split('\n')
    .filter((line) => line.split(' ')[4] === target);
}

function formattedImage(dir: string): string {
  const image = path.join(dir, 'disk.img');
  fs.writeFileSync(image, '');
  fs.truncateSync(image, 16 * 1024 * 1024);
  const mkfs = spawnSync('mkfs.ext4', ['-q', '-F', '-O', '^has_journal', image], { encoding: 'utf8' });
  if (mkfs.status !== 0) throw new Error(`mkfs.ext4: ${mkfs.stderr}`);
  return image;
}

/** Unmounts whatever is still mounted under dir and detaches loops of its files, so a failed test leaves nothing. */
function cleanupUnder(dir: string): void {
  const lines = fs.readFileSync('/proc/self/mountinfo', 'utf8').split('\n');
  for (const mountPoint of lines.map((line) => line.split(' ')[4] ?? '').filter((point) => point.startsWith(`${dir}/`)).reverse()) {
    spawnSync('umount', ['-l', mountPoint]);
  }
  for (const name of fs.readdirSync('/sys/block').filter((entry) => entry.startsWith('loop'))) {
    if (readBacking(name).startsWith(`${dir}/`)) spawnSync('losetup', ['-d', `/dev/${name}`]);
  }
}

function readBacking(name: string): string {
  try {
    return fs.readFileSync(`/sys/block/${name}/loop/backing_file`, 'utf8').trim();
  } catch {
    return '';
  }
}

t.test('mount(8) options split into mount(2) flags and filesystem data', async (t) => {
  t.same(mountFlagsOf({ source: 's', target: 't', bind: true, options: ['ro'] }), { flags: 4096 | 1, data: '' });
  t.same(mountFlagsOf({ source: 's', target: 't', fsType: 'ext4', options: ['noexec', 'errors=remount-ro', 'constructor'] }), {
    flags: 8,
    data: 'errors=remount-ro,constructor',
  });
});

const implementations: [string, () => VolumeSystem][] = [
  ['the mount server', () => createMountServerSystem({ binary })],
  ['mount(8) and losetup(8)', () => createCommandVolumeSystem()],
];

for (const [label, create] of implementations) {
  t.test(`${label}: loop attach, mount, read-only bind, unmount and detach leave nothing behind`, { skip: skipUnlessRoot }, async (t) => {
    const dir = tempDir(t);
    t.teardown(() => cleanupUnder(dir));
    const system = create();
    t.teardown(() => system.close());
    const image = formattedImage(dir);
    const staging = path.join(dir, 'staging');
    const target = path.join(dir, 'target');
    fs.mkdirSync(staging);
    fs.mkdirSync(target);

    const device = await system.attachLoop(image, { readOnly: false });
    t.match(device, /^\/dev\/loop\d+$/);
    t.equal(readBacking(path.basename(device)), image, 'sysfs shows the image behind the device');
    await system.mount({ source: device, target: staging, fsType: 'ext4' });
    t.match(mountInfoAt(staging)[0] ?? '', / - ext4 /);
    fs.writeFileSync(path.join(staging, 'data'), 'hello');

    await system.mount({ source: staging, target, bind: true, options: ['ro'] });
    const bound = mountInfoAt(target)[0] ?? '';
    t.match(bound.split(' ')[5] ?? '', /^ro\b/, 'the bind is read-only in the mount table');
    t.equal(fs.readFileSync(path.join(target, 'data'), 'utf8'), 'hello');
    t.throws(() => fs.writeFileSync(path.join(target, 'other'), 'x'), { code: 'EROFS' });

    await system.unmount(target);
    await system.unmount(staging);
    await system.detachLoop(device);
    t.same(mountInfoAt(target), []);
    t.same(mountInfoAt(staging), []);
    t.not(readBacking(path.basename(device)), image, 'the loop device is detached');
    await system.detachLoop(device);
    t.pass('detaching a detached device succeeds');
  });

  t.test(`${label}: failures carry the errno name and the path`, { skip: skipUnlessRoot }, async (t) => {
    const dir = tempDir(t);
    const system = create();
    t.teardown(() => system.close());
    const notMounted = await system.unmount(dir).catch((error: unknown) => error);
    t.ok(notMounted instanceof VolumeSystemError && notMounted.code === 'EINVAL' && notMounted.message.includes(dir), String(notMounted));
    const missing = await system.mount({ source: path.join(dir, 'missing'), target: dir, bind: true }).catch((error: unknown) => error);
    t.ok(missing instanceof VolumeSystemError && missing.code === 'ENOENT', String(missing));
    t.ok((await system.run(['false']).catch((error: unknown) => error)) instanceof VolumeSystemError);
    t.match(await system.run(['sh', '-c', 'echo out']), /^out\n/);
  });
}

t.test('the mount server serves concurrent calls, refuses NUL, and comes back after being killed', { skip: skipUnlessRoot }, async (t) => {
  t.ok(fs.existsSync(binary), 'npm run build compiled the server');
  const dir = tempDir(t);
  t.teardown(() => cleanupUnder(dir));
  const system = createMountServerSystem({ binary });
  t.teardown(() => system.close());
  t.equal(system.usesServer, true);

  const source = path.join(dir, 'source');
  fs.mkdirSync(source);
  const targets = Array.from({ length: 20 }, (_, index) => path.join(dir, `t${index}`));
  targets.forEach((target) => fs.mkdirSync(target));
  await Promise.all(targets.map((target) => system.mount({ source, target, bind: true })));
  t.equal(targets.filter((target) => mountInfoAt(target).length === 1).length, 20, 'twenty binds made at once');
  await Promise.all(targets.map((target) => system.unmount(target)));
  t.equal(targets.filter((target) => mountInfoAt(target).length > 0).length, 0);

  const withNul = await system.mount({ source: `${source}\0x`, target: targets[0] ?? '', bind: true }).catch((error: unknown) => error);
  t.ok(withNul instanceof VolumeSystemError && withNul.code === 'EINVAL', String(withNul));

  const pid = system.serverPid;
  t.type(pid, 'number');
  process.kill(pid ?? 0, 'SIGKILL');
  await new Promise((resolve) => setTimeout(resolve, 100));
  await system.mount({ source, target: targets[0] ?? '', bind: true });
  t.not(system.serverPid, pid, 'a new server serves after the old one was killed');
  await system.unmount(targets[0] ?? '');
  t.same(mountInfoAt(targets[0] ?? ''), []);
});
