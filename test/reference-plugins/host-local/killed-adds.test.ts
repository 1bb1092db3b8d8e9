import { spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import t from 'tap';
import { cniEnvironment, type JsonObject } from '../../../specs/cni/index.js';
import { tempDir } from '../../helpers/temp-dir.js';
import { addressesOf, missingBuild, netConf, ourHostLocal, reservationFiles, runHostLocal } from './host-local-fixture.js';

const skip = missingBuild;

// This file starts hundreds of Node processes, which on a loaded two-CPU machine can outlast the 120 s a file
// gets: extend this process's own timeout and, through tap's `# timeout=` comment, the runner's.
t.setTimeout(300_000);
t.comment('timeout=300000');
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
type KilledOrNot = { killed: true } | { killed: false; exitCode: number | null; stdout: string; durationMs: number };

/** Runs our ADD and kills it with SIGKILL after `delayMs` unless it finished first. */
function addKilledAfter(conf: JsonObject, containerId: string, delayMs: number): Promise<KilledOrNot> {
  const started = performance.now();
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
      resolve(signal === 'SIGKILL' ? { killed: true } : { killed: false, exitCode, stdout: Buffer.concat(stdout).toString('utf8'), durationMs: performance.now() - started });
    });
  });
}

t.test('ADDs killed at random moments leave no duplicate, no unreadable file, and nothing DEL and GC cannot clean', { skip, timeout: 290_000 }, async (t) => {
  const dataDir = tempDir(t);
  const conf = netConf({ ipam: dualStack(dataDir) });
  const seed = Number(process.env['KP_CRASH_SEED'] ?? Date.now() % 1_000_000);
  t.comment(`seed ${seed} (set KP_CRASH_SEED to repeat)`);
  const random = randomSource(seed);
  const completed = new Map<string, string[]>();
  const killed: string[] = [];
  // Kill times spread around how long a batch takes here (machines and load differ), updated as unkilled ADDs finish.
  let span = 0;
  const remember = (containerId: string, outcome: KilledOrNot): void => {
    if (outcome.killed) killed.push(containerId);
    else if (outcome.exitCode === 0) {
      completed.set(containerId, addressesOf(JSON.parse(outcome.stdout)));
      span = Math.max(span * 0.8, outcome.durationMs);
    } else t.fail(`${containerId} failed without being killed: ${outcome.stdout}`);
  };
  const calibration = await Promise.all([0, 1, 2, 3].map((slot) => addKilledAfter(conf, `calibrate${slot}`, 60_000)));
  calibration.forEach((outcome, slot) => remember(`calibrate${slot}`, outcome));
  // Rounds until 20 or the time budget runs out, whichever comes first (the file has 120 s in all).
  const deadline = performance.now() + 30_000;
  for (let round = 0; round < 20 && performance.now() < deadline; round += 1) {
    // Four at once, so kills also land while others hold or wait for the lock.
    const batch = Array.from({ length: 4 }, (_, slot) => ({ containerId: `r${round}s${slot}`, delayMs: Math.floor(span * (0.3 + 1.2 * random())) }));
    const outcomes = await Promise.all(batch.map(({ containerId, delayMs }) => addKilledAfter(conf, containerId, delayMs)));
    outcomes.forEach((outcome, slot) => remember(batch[slot]!.containerId, outcome));
  }
  t.comment(`${completed.size} ADDs completed, ${killed.length} killed, in ${Math.round(performance.now() - deadline + 30_000)} ms`);
  t.ok(killed.length > 0 && completed.size > 0, 'some ADDs were killed and some completed');

  const all = [...completed.values()].flat();
  t.equal(new Set(all).size, all.length, 'no address was handed out twice');
  const dir = path.join(dataDir, 'kp-net');
  const ipFiles = [...reservationFiles(dataDir)];
  t.same(ipFiles.filter(([, content]) => !/^(r\d+s|calibrate)\d\r\neth0$/.test(content)), [], 'every reservation file is complete, even right after the kills');
  for (const [containerId, addresses] of completed) {
    for (const address of addresses) t.equal(reservationFiles(dataDir).get(address.split('/')[0]!), `${containerId}\r\neth0`);
  }
  const heldByKilled = ipFiles.map(([, content]) => content.split('\r\n')[0]!).filter((holder) => killed.includes(holder));
  t.comment(`${new Set(heldByKilled).size} killed ADDs had reserved something (${heldByKilled.length} addresses), ${fs.readdirSync(dir).filter((name) => name.startsWith('.')).length} temp files left`);
  const completedFiles = ipFiles.filter(([, content]) => completed.has(content.split('\r\n')[0]!));
  t.equal(completedFiles.length, completed.size * 2, 'each completed ADD holds exactly its two addresses');

  // A runtime DELs some killed attachments; GC sweeps the rest.
  const [viaDel, viaGc] = [killed.filter((_, index) => index % 2 === 0), killed.filter((_, index) => index % 2 === 1)];
  const deleted = await Promise.all(viaDel.map((containerId) => runHostLocal(ourHostLocal, 'DEL', conf, { containerId })));
  t.same(deleted.filter((answer) => answer.error !== undefined).map((answer) => answer.error?.message), [], `${viaDel.length} DELs of killed ADDs succeed`);
  const valid = [...completed.keys()].map((containerId) => ({ containerID: containerId, ifname: 'eth0' }));
  t.equal((await runHostLocal(ourHostLocal, 'GC', { ...conf, 'cni.dev/valid-attachments': valid })).error, undefined, `GC (sweeping ${viaGc.length} killed)`);
  t.same([...reservationFiles(dataDir).values()].filter((content) => !completed.has(content.split('\r\n')[0]!)), [], 'only completed attachments hold addresses');
  t.same(fs.readdirSync(dir).filter((name) => name.startsWith('.')), [], 'no temp file survives a locked operation');

  await Promise.all([...completed.keys()].map((containerId) => runHostLocal(ourHostLocal, 'DEL', conf, { containerId })));
  t.same([...reservationFiles(dataDir)], [], 'nothing leaked');
});
