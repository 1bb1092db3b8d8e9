import { spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import t from 'tap';
import { cniEnvironment, type JsonObject } from '../../../specs/cni/index.js';
import { tempDir } from '../../helpers/temp-dir.js';
import { addressesOf, missingBuild, netConf, ourHostLocal, reservationFiles, runHostLocal } from './host-local-fixture.js';

const skip = missingBuild;
const dualStack = (dataDir: string): JsonObject => ({ dataDir, ranges: [[{ subnet: '10.1.0.0/24' }], [{ subnet: '2001:db8::/64' }]] });

/** A small seeded generator, so a failing run can be repeated with the seed it prints. */
function randomSource(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (Math.imul(state, 1664525) + 1013904223) >>> 0;
    return state / 2 ** 32;
  };
}

/** How an ADD that may be killed ended. */
type KilledOrNot = { killed: true } | { killed: false; exitCode: number | null; stdout: string };

/** Runs our ADD and kills it with SIGKILL after `delayMs` unless it finished first. */
function addKilledAfter(conf: JsonObject, containerId: string, delayMs: number): Promise<KilledOrNot> {
  return new Promise((resolve, reject) => {
    const env = cniEnvironment({ verb: 'ADD', containerId, ifName: 'eth0', netns: '/run/netns/kp-none', cniPath: [] });
    const child = spawn(ourHostLocal, [], { env: { PATH: process.env['PATH'] ?? '/usr/bin:/bin', ...env }, stdio: ['pipe', 'pipe', 'ignore'] });
    const stdout: Buffer[] = [];
    child.stdout.on('data', (chunk: Buffer) => stdout.push(chunk));
    child.stdin.on('error', () => undefined);
    child.stdin.end(JSON.stringify(conf));
    const timer = setTimeout(() => child.kill('SIGKILL'), delayMs);
    child.once('error', reject);
    child.once('close', (exitCode, signal) => {
      clearTimeout(timer);
      resolve(signal === 'SIGKILL' ? { killed: true } : { killed: false, exitCode, stdout: Buffer.concat(stdout).toString('utf8') });
    });
  });
}

t.test('100 concurrent ADDs get 100 distinct addresses per family and DEL frees them all', { skip, timeout: 240_000 }, async (t) => {
  const dataDir = tempDir(t);
  const conf = netConf({ ipam: dualStack(dataDir) });
  const containers = Array.from({ length: 100 }, (_, index) => `ctr${index}`);
  const added = await Promise.all(containers.map((containerId) => runHostLocal(ourHostLocal, 'ADD', conf, { containerId })));
  t.same(added.filter((answer) => answer.error !== undefined).map((answer) => answer.error?.message), [], 'every ADD succeeds');
  const addresses = added.flatMap((answer) => addressesOf(answer.result));
  t.equal(new Set(addresses.filter((address) => address.includes('.'))).size, 100, '100 distinct IPv4 addresses');
  t.equal(new Set(addresses.filter((address) => address.includes(':'))).size, 100, '100 distinct IPv6 addresses');
  const files = reservationFiles(dataDir);
  t.equal(files.size, 200);
  added.forEach((answer, index) => {
    for (const address of addressesOf(answer.result)) t.equal(files.get(address.split('/')[0]!), `ctr${index}\r\neth0`, `${address} is ctr${index}'s`);
  });
  const deleted = await Promise.all(containers.map((containerId) => runHostLocal(ourHostLocal, 'DEL', conf, { containerId })));
  t.same(deleted.filter((answer) => answer.error !== undefined).map((answer) => answer.error?.message), [], 'every DEL succeeds');
  t.same([...reservationFiles(dataDir)], []);
});

t.test('ADDs killed at random moments leave no duplicate, no unreadable file, and nothing DEL and GC cannot clean', { skip, timeout: 240_000 }, async (t) => {
  const dataDir = tempDir(t);
  const conf = netConf({ ipam: dualStack(dataDir) });
  const seed = Number(process.env['KP_CRASH_SEED'] ?? Date.now() % 1_000_000);
  t.comment(`seed ${seed} (set KP_CRASH_SEED to repeat)`);
  const random = randomSource(seed);
  const completed = new Map<string, string[]>();
  const killed: string[] = [];
  for (let round = 0; round < 30; round += 1) {
    // Four at once, so kills also land while others wait for the lock.
    const batch = Array.from({ length: 4 }, (_, slot) => ({ containerId: `r${round}s${slot}`, delayMs: 20 + Math.floor(random() * 260) }));
    const outcomes = await Promise.all(batch.map(({ containerId, delayMs }) => addKilledAfter(conf, containerId, delayMs)));
    outcomes.forEach((outcome, slot) => {
      const { containerId } = batch[slot]!;
      if (outcome.killed) killed.push(containerId);
      else if (outcome.exitCode === 0) completed.set(containerId, addressesOf(JSON.parse(outcome.stdout)));
      else t.fail(`${containerId} failed without being killed: ${outcome.stdout}`);
    });
  }
  t.comment(`${completed.size} ADDs completed, ${killed.length} killed`);
  t.ok(killed.length > 0 && completed.size > 0, 'some ADDs were killed and some completed');

  const all = [...completed.values()].flat();
  t.equal(new Set(all).size, all.length, 'no address was handed out twice');
  const dir = path.join(dataDir, 'kp-net');
  const ipFiles = [...reservationFiles(dataDir)];
  t.same(ipFiles.filter(([, content]) => !/^r\d+s\d\r\neth0$/.test(content)), [], 'every reservation file is complete, even right after the kills');
  for (const [containerId, addresses] of completed) {
    for (const address of addresses) t.equal(reservationFiles(dataDir).get(address.split('/')[0]!), `${containerId}\r\neth0`);
  }
  const completedFiles = ipFiles.filter(([, content]) => completed.has(content.split('\r\n')[0]!));
  t.equal(completedFiles.length, completed.size * 2, 'each completed ADD holds exactly its two addresses');

  // A runtime DELs some killed attachments; GC sweeps the rest.
  const [viaDel, viaGc] = [killed.filter((_, index) => index % 2 === 0), killed.filter((_, index) => index % 2 === 1)];
  for (const containerId of viaDel) t.equal((await runHostLocal(ourHostLocal, 'DEL', conf, { containerId })).error, undefined, `DEL ${containerId}`);
  const valid = [...completed.keys()].map((containerId) => ({ containerID: containerId, ifname: 'eth0' }));
  t.equal((await runHostLocal(ourHostLocal, 'GC', { ...conf, 'cni.dev/valid-attachments': valid })).error, undefined, `GC (sweeping ${viaGc.length} killed)`);
  t.same([...reservationFiles(dataDir).values()].filter((content) => !completed.has(content.split('\r\n')[0]!)), [], 'only completed attachments hold addresses');
  t.same(fs.readdirSync(dir).filter((name) => name.startsWith('.')), [], 'no temp file survives a locked operation');

  for (const containerId of completed.keys()) await runHostLocal(ourHostLocal, 'DEL', conf, { containerId });
  t.same([...reservationFiles(dataDir)], [], 'nothing leaked');
});
