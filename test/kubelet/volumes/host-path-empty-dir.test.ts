import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import t from 'tap';
import type { Pod } from '../../../kubelet/api/pod-types.js';
import { PodVolumes } from '../../../kubelet/volumes/pod-volumes.js';
import { prepareHostPath } from '../../../kubelet/volumes/host-path.js';
import { VolumeError } from '../../../kubelet/volumes/volume-error.js';
import { tempDir } from '../../helpers/temp-dir.js';

function podWith(uid: string, volumes: NonNullable<Pod['spec']['volumes']>): Pod {
  return { metadata: { name: 'p', namespace: 'default', uid }, spec: { containers: [{ name: 'c', image: 'x' }], volumes } };
}

t.test('emptyDir is a fresh folder per pod under the pod folder, kept across set-ups and removed with the pod', async (t) => {
  const root = tempDir(t, 'kp-vol-');
  const volumes = new PodVolumes({ rootDir: root, csi: new Map() });
  const paths = await volumes.setUp(podWith('u1', [{ name: 'scratch', emptyDir: {} }]));
  const dir = path.join(root, 'pods', 'u1', 'volumes', 'kubernetes.io~empty-dir', 'scratch');
  t.equal(paths.get('scratch'), dir);
  t.equal(fs.statSync(dir).mode & 0o777, 0o777, 'world-writable as upstream');
  fs.writeFileSync(path.join(dir, 'shared'), 'hello');
  await volumes.setUp(podWith('u1', [{ name: 'scratch', emptyDir: {} }]));
  t.equal(fs.readFileSync(path.join(dir, 'shared'), 'utf8'), 'hello', 'a second set-up keeps the content');
  const other = await volumes.setUp(podWith('u2', [{ name: 'scratch', emptyDir: {} }]));
  t.same(fs.readdirSync(other.get('scratch')!), [], 'another pod gets its own empty folder');
  t.same((await volumes.podsOnDisk()).sort(), ['u1', 'u2']);
  await volumes.tearDown('u1');
  t.notOk(fs.existsSync(path.join(root, 'pods', 'u1')), 'the pod folder is gone');
  t.ok(fs.existsSync(other.get('scratch')!), 'the other pod keeps its own');
  await volumes.tearDown('u1');
  t.pass('tearing down twice is fine');
});

t.test('hostPath types are checked, and the *OrCreate types create what is missing', async (t) => {
  const dir = tempDir(t, 'kp-hp-');
  const file = path.join(dir, 'file');
  fs.writeFileSync(file, '');
  const socketPath = path.join(dir, 's.sock');
  const server = net.createServer().listen(socketPath);
  await new Promise((resolve) => server.once('listening', resolve));
  t.teardown(() => new Promise<void>((resolve) => server.close(() => resolve())));

  const ok = [
    { path: path.join(dir, 'anything-goes'), type: '' },
    { path: dir, type: 'Directory' },
    { path: dir, type: 'DirectoryOrCreate' },
    { path: path.join(dir, 'new', 'deep'), type: 'DirectoryOrCreate' },
    { path: file, type: 'File' },
    { path: file, type: 'FileOrCreate' },
    { path: path.join(dir, 'new-file'), type: 'FileOrCreate' },
    { path: socketPath, type: 'Socket' },
    { path: '/dev/null', type: 'CharDevice' },
  ] as const;
  for (const entry of ok) t.equal(await prepareHostPath('v', entry.path, entry.type), entry.path, `${entry.type || '(none)'} ${entry.path}`);
  t.ok(fs.statSync(path.join(dir, 'new', 'deep')).isDirectory(), 'DirectoryOrCreate made the folder');
  t.ok(fs.statSync(path.join(dir, 'new-file')).isFile(), 'FileOrCreate made the file');

  const refused = [
    { path: path.join(dir, 'missing'), type: 'Directory', message: /does not exist/ },
    { path: file, type: 'Directory', message: /is not a directory/ },
    { path: file, type: 'DirectoryOrCreate', message: /is not a directory/ },
    { path: dir, type: 'File', message: /is not a file/ },
    { path: dir, type: 'FileOrCreate', message: /is not a file/ },
    { path: path.join(dir, 'no-parent', 'f'), type: 'FileOrCreate', message: /cannot create file/ },
    { path: file, type: 'Socket', message: /is not a socket/ },
    { path: file, type: 'BlockDevice', message: /is not a block device/ },
  ] as const;
  for (const entry of refused) {
    await t.rejects(prepareHostPath('v', entry.path, entry.type), { name: 'VolumeError', volume: 'v', message: entry.message }, `${entry.type} ${entry.path}`);
  }
});

t.test('a volume of an unsupported kind or an unknown CSI driver is refused naming the volume', async (t) => {
  const volumes = new PodVolumes({ rootDir: tempDir(t, 'kp-vol-'), csi: new Map() });
  await t.rejects(volumes.setUp(podWith('u', [{ name: 'odd' }])), new VolumeError({ volume: 'odd', message: 'unsupported volume source (emptyDir, hostPath and csi are supported)' }));
  await t.rejects(volumes.setUp(podWith('u', [{ name: 'data', csi: { driver: 'nope.example' } }])), { volume: 'data', message: /driver name nope.example not found/ });
});
