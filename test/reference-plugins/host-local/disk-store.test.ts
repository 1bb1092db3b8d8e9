import { spawn, spawnSync } from 'node:child_process';
import { once } from 'node:events';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import t from 'tap';
import { openDiskStore, withDiskStore } from '../../../reference-plugins/host-local-bridge/host-local/disk-store.js';
import { parseIp } from '../../../reference-plugins/host-local-bridge/host-local/ip-address.js';
import { reservationsToRelease, type Reservation } from '../../../reference-plugins/host-local-bridge/host-local/reservation.js';
import { tempDir } from '../../helpers/temp-dir.js';
import { missingBuild } from './host-local-fixture.js';

const ip = (text: string) => parseIp(text)!;
const owner = { containerId: 'c1', ifName: 'eth0' };
const mode = (file: string): number => fs.statSync(file).mode & 0o777;
// Modes are asked for at create time, so the process umask applies, as it does upstream.
const umask = process.umask();
const created = (requested: number): number => requested & ~umask;
const lockIsFree = (lockFile: string): boolean => spawnSync('flock', ['--exclusive', '--nonblock', lockFile, 'true']).status === 0;

t.test('a reservation is laid out byte for byte as upstream lays it out', async (t) => {
  const dataDir = tempDir(t);
  const reservation = await withDiskStore({ dataDir, network: 'net1' }, (store) => store.reserve({ ip: ip('2001:db8::a'), owner, rangeSetIndex: 1 }));
  const dir = path.join(dataDir, 'net1');
  t.same(reservation, { ip: ip('2001:db8::a'), key: '2001:db8::a', containerId: 'c1', ifName: 'eth0' });
  t.equal(fs.readFileSync(path.join(dir, '2001:db8::a'), 'utf8'), 'c1\r\neth0');
  t.equal(fs.readFileSync(path.join(dir, 'last_reserved_ip.1'), 'utf8'), '2001:db8::a');
  t.equal(mode(dir), created(0o755));
  t.equal(mode(path.join(dir, '2001:db8::a')), created(0o600));
  t.equal(mode(path.join(dir, 'last_reserved_ip.1')), created(0o600));
  t.equal(fs.statSync(path.join(dir, 'lock')).size, 0);
  t.same(fs.readdirSync(dir).sort(), ['2001:db8::a', 'last_reserved_ip.1', 'lock'], 'no temp file is left behind');
});

t.test('an address already reserved cannot be reserved again', async (t) => {
  const dataDir = tempDir(t);
  await withDiskStore({ dataDir, network: 'net1' }, async (store) => {
    t.ok(await store.reserve({ ip: ip('10.1.0.2'), owner, rangeSetIndex: 0 }));
    t.equal(await store.reserve({ ip: ip('10.1.0.2'), owner: { containerId: 'c2', ifName: 'eth0' }, rangeSetIndex: 0 }), undefined);
  });
  t.equal(fs.readFileSync(path.join(dataDir, 'net1', '10.1.0.2'), 'utf8'), 'c1\r\neth0', 'the first holder keeps it');
});

t.test('a scan reads current, ID-only and padded files and skips what is not a reservation', async (t) => {
  const dataDir = tempDir(t);
  const dir = path.join(dataDir, 'net1');
  fs.mkdirSync(dir);
  fs.writeFileSync(path.join(dir, '10.1.0.2'), 'c1\r\neth0');
  fs.writeFileSync(path.join(dir, '10.1.0.3'), 'old-container');
  fs.writeFileSync(path.join(dir, '10.1.0.4'), '  c3\r\neth1\n');
  fs.writeFileSync(path.join(dir, 'last_reserved_ip.0'), '10.1.0.4');
  fs.writeFileSync(path.join(dir, 'notes.txt'), 'c1\r\neth0');
  fs.mkdirSync(path.join(dir, '10.1.0.9'));
  const found = await withDiskStore({ dataDir, network: 'net1' }, (store) => store.scan());
  const byKey = Object.fromEntries(found.map((reservation) => [reservation.key, [reservation.containerId, reservation.ifName]]));
  t.same(byKey, { '10.1.0.2': ['c1', 'eth0'], '10.1.0.3': ['old-container', undefined], '10.1.0.4': ['c3', 'eth1'] });
});

t.test('a scan removes what interrupted writes left: empty reservations and temp files', async (t) => {
  const dataDir = tempDir(t);
  const dir = path.join(dataDir, 'net1');
  fs.mkdirSync(dir);
  fs.writeFileSync(path.join(dir, '10.1.0.2'), '');
  fs.writeFileSync(path.join(dir, '10.1.0.3'), ' \r\n');
  fs.writeFileSync(path.join(dir, '.kubeplug-tmp-123-abc'), 'c9\r\neth0');
  fs.writeFileSync(path.join(dir, '10.1.0.4'), 'c1\r\neth0');
  const found = await withDiskStore({ dataDir, network: 'net1' }, (store) => store.scan());
  t.same(found.map((reservation) => reservation.key), ['10.1.0.4']);
  t.same(fs.readdirSync(dir).sort(), ['10.1.0.4', 'lock']);
});

t.test('an unreadable or foreign last_reserved_ip reads as unknown', async (t) => {
  const dataDir = tempDir(t);
  fs.mkdirSync(path.join(dataDir, 'net1'));
  fs.writeFileSync(path.join(dataDir, 'net1', 'last_reserved_ip.0'), '10.1.0.');
  await withDiskStore({ dataDir, network: 'net1' }, async (store) => {
    t.equal(await store.lastReserved(0), undefined, 'torn');
    t.equal(await store.lastReserved(1), undefined, 'missing');
  });
});

t.test('releasing is idempotent', async (t) => {
  const dataDir = tempDir(t);
  await withDiskStore({ dataDir, network: 'net1' }, async (store) => {
    const reservation = (await store.reserve({ ip: ip('10.1.0.2'), owner, rangeSetIndex: 0 }))!;
    await store.release(reservation);
    await store.release(reservation);
    t.same(await store.scan(), []);
  });
});

t.test('DEL releases exact reservations, and ID-only ones only when there is no exact one', async (t) => {
  const held = (key: string, containerId: string, ifName?: string): Reservation => ({ ip: ip(key), key, containerId, ...(ifName === undefined ? {} : { ifName }) });
  const reservations = [held('10.1.0.2', 'c1', 'eth0'), held('10.1.0.3', 'c1'), held('10.1.0.4', 'c1', 'eth1'), held('10.1.0.5', 'c2')];
  t.same(reservationsToRelease(reservations, { containerId: 'c1', ifName: 'eth0' }).map((r) => r.key), ['10.1.0.2']);
  t.same(reservationsToRelease(reservations, { containerId: 'c1', ifName: 'eth9' }).map((r) => r.key), ['10.1.0.3']);
  t.same(reservationsToRelease(reservations, { containerId: 'c3', ifName: 'eth0' }).map((r) => r.key), []);
});

t.test('the store holds an exclusive flock on the lock file from open to close', async (t) => {
  const dataDir = tempDir(t);
  const lockFile = path.join(dataDir, 'net1', 'lock');
  const store = await openDiskStore({ dataDir, network: 'net1' });
  t.teardown(() => store.close());
  t.equal(mode(lockFile), created(0o750), 'created with go-filemutex mode');
  t.notOk(lockIsFree(lockFile), 'flock(1) in another process cannot take it');
  await store.close();
  t.ok(lockIsFree(lockFile), 'closing releases it');
});

t.test('opening waits for another holder of the lock, and gives up with TRY_AGAIN_LATER (11)', async (t) => {
  const dataDir = tempDir(t);
  fs.mkdirSync(path.join(dataDir, 'net1'));
  const lockFile = path.join(dataDir, 'net1', 'lock');
  const holder = spawn('flock', ['--exclusive', lockFile, 'sh', '-c', 'echo locked; exec cat'], { stdio: ['pipe', 'pipe', 'ignore'] });
  t.teardown(() => {
    holder.kill('SIGKILL');
  });
  await once(holder.stdout, 'data');
  await t.rejects(openDiskStore({ dataDir, network: 'net1', lockWaitSeconds: 1 }), { code: 11 });
  const waiting = openDiskStore({ dataDir, network: 'net1', lockWaitSeconds: 30 });
  let opened = false;
  void waiting.then(() => {
    opened = true;
  });
  await new Promise((resolve) => setTimeout(resolve, 300));
  t.notOk(opened, 'still waiting while the other holds it');
  holder.stdin.end();
  const store = await waiting;
  await store.close();
  t.ok(opened);
});

t.test('a holder killed with SIGKILL leaves the lock free', { skip: missingBuild }, async (t) => {
  const dataDir = tempDir(t);
  const module = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../../dist/reference-plugins/host-local-bridge/host-local/disk-store.js');
  const script = `const { openDiskStore } = await import(${JSON.stringify(module)}); await openDiskStore({ dataDir: ${JSON.stringify(dataDir)}, network: 'net1' }); console.log('locked'); setInterval(() => {}, 1000);`;
  const child = spawn(process.execPath, ['--input-type=module', '-e', script], { stdio: ['ignore', 'pipe', 'inherit'] });
  t.teardown(() => {
    child.kill('SIGKILL');
  });
  await once(child.stdout, 'data');
  const lockFile = path.join(dataDir, 'net1', 'lock');
  t.notOk(lockIsFree(lockFile), 'held by the child');
  child.kill('SIGKILL');
  await once(child, 'exit');
  t.ok(lockIsFree(lockFile), 'the kernel dropped it with the process');
});
