/**
 * Issue 4, done when: a driver killed with SIGKILL in the middle of each
 * mutating RPC, then restarted, passes the suite again with nothing leaked.
 *
 * One driver root and one socket for the whole file, as on a real node: at
 * every crash point in turn the driver is started with KUBEPLUG_CSI_CRASH_AT,
 * the test (as the CO, over gRPC) makes the call that reaches the point, the
 * driver dies by SIGKILL, a plain driver is started on the same root, and the
 * CO retries the same request, as a CO does after a call that got no answer.
 * Then `kubeplug certify csi` runs the whole suite against that driver, with
 * a restart command that SIGKILLs it by pid and starts it again on the same
 * root, and afterwards nothing may be left: no mount, loop device, image,
 * record, temp file or process.
 */
import { type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import fs from 'node:fs';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import t, { type Test } from 'tap';
import { crashPoints, type CrashPoint } from '../../reference-plugins/dir-volume/index.js';
import { tempPrefix } from '../../reference-plugins/dir-volume/durable-files.js';
import { crashAtVariable } from '../../runner/commands/serve.js';
import { createCsiSuite } from '../../conformance/csi/index.js';
import { GrpcStatusError } from '../../specs/csi/index.js';
import { blockCapability, clientsFor, codeOf, filesUnder, loopsUnder, mountCapability, mountsUnder, rpcs, skipUnlessRoot } from '../reference-plugins/dir-volume/dir-volume-fixture.js';
import { releaseDriverLeftovers } from '../helpers/csi-driver-cleanup.js';
import { csiDriverFolders, type CsiDriverFolders } from '../helpers/csi-driver-folders.js';
import { cliPath, csiDriverArgs, runCli, startCsiDriverProcess } from '../helpers/run-cli.js';

// Thirteen crash-and-restart rounds and one whole-suite run with real mounts: about a minute here.
t.setTimeout(300_000);
t.comment('timeout=300000');

const MiB = 1n << 20n;
/** Set on every driver this file starts (and so inherited by its mount server): how the leak check finds their processes. */
const ownerVariable = 'KUBEPLUG_TEST_OWNER';

const skip = skipUnlessRoot !== false ? skipUnlessRoot : fs.existsSync(cliPath) ? false : 'needs the build (npm run build)';

type Csi = ReturnType<typeof rpcs>;

/** What the CO knows between rounds, and the paths it owns on the node. */
interface CoState {
  csi: Csi;
  readonly root: string;
  volumeA: string;
  volumeB: string;
  snapshotA: string;
  loopsBeforeBlockStage: string[];
  readonly paths: { readonly stageA: string; readonly stageB: string; readonly targetA: string; readonly deviceB: string };
}

/** One crash point: the request that reaches it (sent once to the crashing driver, then again to the restarted one) and what must hold after the retry. */
interface CrashRound {
  readonly point: CrashPoint;
  /** Anything to note before the call (it must not reach the point). */
  readonly before?: (co: CoState) => void;
  readonly call: (co: CoState) => Promise<unknown>;
  readonly after: (t: Test, co: CoState, answer: unknown) => Promise<void>;
}

const volumeRequest = (name: string, capability = mountCapability()) => ({ name, volumeCapabilities: [capability], capacityRange: { requiredBytes: 8n * MiB, limitBytes: 0n } });
const stageA = (co: CoState) => ({ volumeId: co.volumeA, stagingTargetPath: co.paths.stageA, volumeCapability: mountCapability() });
const stageB = (co: CoState) => ({ volumeId: co.volumeB, stagingTargetPath: co.paths.stageB, volumeCapability: blockCapability() });
const expandA = (co: CoState, mib: bigint) => co.csi.expandVolume({ volumeId: co.volumeA, capacityRange: { requiredBytes: mib * MiB, limitBytes: 0n } });
const volumeIdsOf = async (csi: Csi) => (await csi.listVolumes()).entries.map((entry) => entry.volume!.volumeId).sort();

// A CO's day with two volumes (A mounted, B raw block published read-only), cut short once at every crash point.
const rounds: CrashRound[] = [
  {
    point: 'create-volume:after-temp-image',
    call: (co) => co.csi.createVolume(volumeRequest('crash-a')),
    after: async (t, co, answer) => {
      co.volumeA = (answer as Awaited<ReturnType<Csi['createVolume']>>).volume!.volumeId;
      t.same(await volumeIdsOf(co.csi), [co.volumeA], 'exactly the one volume exists');
    },
  },
  {
    point: 'create-volume:after-image',
    call: (co) => co.csi.createVolume(volumeRequest('crash-b', blockCapability())),
    after: async (t, co, answer) => {
      co.volumeB = (answer as Awaited<ReturnType<Csi['createVolume']>>).volume!.volumeId;
      t.same(await volumeIdsOf(co.csi), [co.volumeA, co.volumeB].sort(), 'exactly the two volumes exist');
    },
  },
  ...([['expand-volume:after-record', 16n], ['expand-volume:after-truncate', 24n]] as const).map(
    ([point, mib]): CrashRound => ({
      point,
      call: (co) => expandA(co, mib),
      after: async (t, co, answer) => {
        t.match(answer, { capacityBytes: mib * MiB }, `the retried expand answers ${mib} MiB`);
        t.equal((await co.csi.getVolume(co.volumeA)).volume?.capacityBytes, mib * MiB, 'ControllerGetVolume agrees');
      },
    }),
  ),
  {
    point: 'create-snapshot:after-image',
    call: (co) => co.csi.createSnapshot({ name: 'crash-snap', sourceVolumeId: co.volumeA }),
    after: async (t, co, answer) => {
      co.snapshotA = (answer as Awaited<ReturnType<Csi['createSnapshot']>>).snapshot!.snapshotId;
      const listed = (await co.csi.listSnapshots()).entries.map((entry) => entry.snapshot);
      t.match(listed, [{ snapshotId: co.snapshotA, sourceVolumeId: co.volumeA, readyToUse: true }], 'exactly the one snapshot exists, ready');
      t.equal(listed.length, 1);
    },
  },
  {
    point: 'delete-snapshot:after-unlink',
    call: (co) => co.csi.deleteSnapshot(co.snapshotA),
    after: async (t, co) => {
      t.same((await co.csi.listSnapshots()).entries, [], 'no snapshot is listed');
    },
  },
  {
    point: 'node-stage:after-record',
    call: (co) => co.csi.stage(stageA(co)),
    after: async (t, co) => {
      t.equal(mountsUnder(co.paths.stageA).length, 1, 'the staging path holds exactly one mount');
    },
  },
  {
    point: 'node-stage:after-mount',
    before: (co) => void (co.loopsBeforeBlockStage = loopsUnder(co.root)),
    call: (co) => co.csi.stage(stageB(co)),
    after: async (t, co) => {
      const added = loopsUnder(co.root).filter((name) => !co.loopsBeforeBlockStage.includes(name));
      t.equal(added.length, 1, `staging the block volume attached exactly one loop device, the retry none (${added.join(', ')})`);
    },
  },
  {
    point: 'node-publish:after-record',
    call: (co) => co.csi.publish({ ...stageA(co), targetPath: co.paths.targetA, readonly: false }),
    after: async (t, co) => {
      t.equal(mountsUnder(co.paths.targetA).length, 1, 'the target holds exactly one mount');
    },
  },
  {
    point: 'node-publish:after-mount',
    call: (co) => co.csi.publish({ ...stageB(co), targetPath: co.paths.deviceB, readonly: true }),
    after: async (t, co) => {
      t.equal(mountsUnder(co.paths.deviceB).length, 1, 'the retried publish stacked no second mount on the device target');
    },
  },
  {
    point: 'node-unpublish:after-unmount',
    call: (co) => co.csi.unpublish(co.volumeA, co.paths.targetA),
    after: async (t, co) => {
      t.same(mountsUnder(co.paths.targetA), [], 'no mount is left at the target');
      t.notOk(fs.existsSync(co.paths.targetA), 'the target the driver made is gone');
    },
  },
  {
    point: 'node-unstage:after-unmount',
    call: (co) => co.csi.unstage(co.volumeA, co.paths.stageA),
    after: async (t, co) => {
      t.same(mountsUnder(co.paths.stageA), [], 'no mount is left at the staging path');
      // The CO is done with B on this node too.
      t.equal(await codeOf(co.csi.unpublish(co.volumeB, co.paths.deviceB)), 'OK', 'B is unpublished');
      t.equal(await codeOf(co.csi.unstage(co.volumeB, co.paths.stageB)), 'OK', 'B is unstaged');
      t.same(mountsUnder(path.dirname(co.paths.stageA)), [], 'no mount is left on the node');
      for (const staging of [co.paths.stageA, co.paths.stageB]) fs.rmdirSync(staging);
    },
  },
  {
    point: 'delete-volume:after-unlink',
    call: (co) => co.csi.deleteVolume(co.volumeA),
    after: async (t, co) => {
      t.same(await volumeIdsOf(co.csi), [co.volumeB], 'only B is left');
      t.equal(await codeOf(co.csi.deleteVolume(co.volumeB)), 'OK', 'B is deleted');
      t.same(await volumeIdsOf(co.csi), [], 'no volume is left');
    },
  },
];

/** Whether a pid names a process that still runs (a zombie holds no socket, mount or file). */
function isRunning(pid: number): boolean {
  try {
    return !/^\d+ \(.*\) Z/.test(fs.readFileSync(`/proc/${pid}/stat`, 'utf8'));
  } catch {
    return false;
  }
}

/** Live processes carrying `owner` in their environment: the drivers this file started and their mount servers. */
function processesOf(owner: string): { pid: number; command: string }[] {
  const found: { pid: number; command: string }[] = [];
  for (const name of fs.readdirSync('/proc').filter((entry) => /^\d+$/.test(entry))) {
    try {
      if (!fs.readFileSync(`/proc/${name}/environ`, 'utf8').split('\0').includes(owner) || !isRunning(Number(name))) continue;
      found.push({ pid: Number(name), command: fs.readFileSync(`/proc/${name}/cmdline`, 'utf8').split('\0').join(' ').trim() });
    } catch {
      // Gone while we looked.
    }
  }
  return found;
}

async function waitUntil(condition: () => boolean, timeoutMs: number): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) return false;
    await sleep(50);
  }
  return true;
}

/**
 * The `--restart-command` script: SIGKILL the driver named in the pid file,
 * wait until it is gone, start it again on the same root and endpoint (in
 * the background, its pid written back), and return once it prints `ready`.
 */
function writeRestartScript(options: { dir: string; folders: CsiDriverFolders; pidFile: string }): string {
  const quote = (word: string): string => `'${word.replaceAll("'", `'\\''`)}'`;
  const command = [process.execPath, ...csiDriverArgs(options.folders.endpoint, options.folders.root)].map(quote).join(' ');
  const script = path.join(options.dir, 'restart-driver.sh');
  fs.writeFileSync(
    script,
    `#!/bin/sh
# Written by test/runner/certify-csi-after-crashes.test.ts for kubeplug certify csi --restart-command.
set -eu
old=$(cat ${quote(options.pidFile)})
kill -KILL "$old" 2>/dev/null || true
i=0
while [ -r "/proc/$old/stat" ] && ! grep -q '^[0-9]* (.*) Z' "/proc/$old/stat"; do
  i=$((i + 1)); [ "$i" -lt 200 ] || { echo "driver $old still runs 10 s after SIGKILL" >&2; exit 1; }
  sleep 0.05
done
out=${quote(options.dir)}/driver-$(date +%s%N).out
${ownerVariable}=${quote(options.dir)} ${crashAtVariable}= ${command} >"$out" 2>>${quote(path.join(options.dir, 'driver.log'))} </dev/null &
echo $! >${quote(options.pidFile)}
i=0
until grep -q '^ready ' "$out"; do
  i=$((i + 1)); [ "$i" -lt 600 ] || { echo "the driver printed no ready line in 30 s" >&2; exit 1; }
  kill -0 $! 2>/dev/null || { echo "the driver exited at start" >&2; exit 1; }
  sleep 0.05
done
`,
  );
  return script;
}

t.test('a driver SIGKILLed in the middle of every mutating RPC and restarted on the same root is certified by the whole suite, restarts included, and leaks nothing', { skip }, async (t) => {
  const started = performance.now();
  const folders = csiDriverFolders(t);
  const dir = path.dirname(folders.root);
  const nodeDir = path.join(dir, 'node');
  fs.mkdirSync(nodeDir);
  const pidFile = path.join(dir, 'driver.pid');
  const owner = `${ownerVariable}=${dir}`;
  // Teardowns run last-registered first: every process this test started is killed by pid, then what they left mounted is undone.
  t.teardown(() => releaseDriverLeftovers({ dirs: [nodeDir], driverRoot: folders.root }));
  t.teardown(async () => {
    const pids = new Set(processesOf(owner).map((process) => process.pid));
    const lastPid = fs.existsSync(pidFile) ? Number(fs.readFileSync(pidFile, 'utf8').trim()) : 0;
    if (lastPid > 0 && isRunning(lastPid)) pids.add(lastPid);
    for (const pid of pids) {
      try {
        process.kill(pid, 'SIGKILL');
      } catch {
        // Already gone.
      }
    }
    await waitUntil(() => [...pids].every((pid) => !isRunning(pid)), 10_000);
  });

  const driverEnv = (crashAt?: CrashPoint) => ({ [ownerVariable]: dir, ...(crashAt === undefined ? {} : { [crashAtVariable]: crashAt }) });
  const startDriver = async (crashAt?: CrashPoint): Promise<{ child: ChildProcess; exited: Promise<unknown[]> }> => {
    const child = await startCsiDriverProcess(t, folders.endpoint, folders.root, { env: driverEnv(crashAt) });
    fs.writeFileSync(pidFile, `${child.pid}\n`);
    return { child, exited: once(child, 'exit') };
  };

  t.same(new Set(rounds.map((round) => round.point)), new Set(crashPoints), 'every crash point has a round');
  const co: CoState = {
    csi: undefined as unknown as Csi,
    root: folders.root,
    volumeA: '',
    volumeB: '',
    snapshotA: '',
    loopsBeforeBlockStage: [],
    paths: { stageA: path.join(nodeDir, 'stage-a'), stageB: path.join(nodeDir, 'stage-b'), targetA: path.join(nodeDir, 'target-a'), deviceB: path.join(nodeDir, 'device-b') },
  };
  // The CO makes its staging folders; the driver makes publish targets.
  for (const staging of [co.paths.stageA, co.paths.stageB]) fs.mkdirSync(staging);

  let running: { child: ChildProcess; exited: Promise<unknown[]> } | undefined;
  for (const round of rounds) {
    await t.test(round.point, async (t) => {
      if (running !== undefined) {
        running.child.kill('SIGTERM');
        await running.exited;
      }
      const crashing = await startDriver(round.point);
      running = crashing;
      co.csi = rpcs(clientsFor(t, folders.endpoint));
      round.before?.(co);
      t.not(await codeOf(round.call(co)), 'OK', 'the call at the crash point gets no answer');
      const [exitCode, signal] = await crashing.exited;
      t.same({ exitCode, signal }, { exitCode: null, signal: 'SIGKILL' }, 'the driver died by SIGKILL at the crash point');

      running = await startDriver();
      // A fresh channel: the old one backs off after its server vanished.
      co.csi = rpcs(clientsFor(t, folders.endpoint));
      const answer = await round.call(co).catch((error: unknown) => {
        const status = GrpcStatusError.from(error);
        throw new Error(`the retried ${round.point} request failed: ${status.code}: ${status.message}`, { cause: error });
      });
      t.pass('the CO\'s retry of the same request succeeds');
      await round.after(t, co, answer);
      t.same(filesUnder(folders.root).filter((file) => path.basename(file).startsWith(tempPrefix)), [], 'no temp file is left in the root');
    });
    // Each round starts from where the last left the root: after a failure the rest would only repeat it.
    if (!t.passing()) break;
  }
  t.comment(`${rounds.length} crash points in ${Math.round(performance.now() - started)} ms`);
  if (!t.passing()) return;

  const restartScript = writeRestartScript({ dir, folders, pidFile });
  const pidBeforeCertify = fs.readFileSync(pidFile, 'utf8').trim();
  const report = path.join(dir, 'certificate.json');
  const certifyStarted = performance.now();
  const { code, stdout, stderr } = await runCli(
    ['certify', 'csi', '--endpoint', folders.endpoint, '--mount-dir', folders.mountDir, '--staging-dir', folders.stagingDir, '--restart-command', `sh ${restartScript}`, '--report', `json=${report}`],
    { timeoutMs: 240_000 },
  );
  t.comment(`certify csi: exit ${code} in ${Math.round(performance.now() - certifyStarted)} ms`);
  t.equal(code, 0, 'kubeplug certify csi exits 0', { stdout: stdout.slice(-4000), stderr: stderr.slice(-4000) });
  t.match(stdout, /certified: every applicable MUST requirement in scope passed/);
  const certificate = JSON.parse(fs.readFileSync(report, 'utf8')) as { verdict: { certified: boolean }; runs: { cases: { title: string; outcome: string; reason?: string }[] }[] };
  t.equal(certificate.verdict.certified, true, 'the certificate says certified');
  const cases = certificate.runs[0]!.cases;
  t.equal(cases.length, createCsiSuite().cases.length, 'every declared case ran');
  t.same(cases.filter((c) => !['pass', 'not-applicable'].includes(c.outcome)).map((c) => `${c.outcome}: ${c.title} ${c.reason ?? ''}`), [], 'every case passed or was not applicable: the restart cases ran too');
  const restartCases = cases.filter((c) => /restart/i.test(c.title));
  t.ok(restartCases.length > 0 && restartCases.every((c) => c.outcome === 'pass'), `the ${restartCases.length} restart cases passed`);
  t.not(fs.readFileSync(pidFile, 'utf8').trim(), pidBeforeCertify, 'the suite restarted the driver with the script');
  t.comment(`cases: ${cases.length}, pass ${cases.filter((c) => c.outcome === 'pass').length}, restart cases ${restartCases.length}`);

  // The suite cleaned up after itself: the driver knows of nothing.
  const last = rpcs(clientsFor(t, folders.endpoint));
  t.same(await volumeIdsOf(last), [], 'no volume is left');
  t.same((await last.listSnapshots()).entries, [], 'no snapshot is left');

  const driverPid = Number(fs.readFileSync(pidFile, 'utf8').trim());
  process.kill(driverPid, 'SIGTERM');
  t.ok(await waitUntil(() => !isRunning(driverPid), 10_000), 'the driver stops on SIGTERM');
  // The mount server goes when its pipe closes; give it a moment.
  await waitUntil(() => processesOf(owner).length === 0, 5_000);
  t.same(processesOf(owner), [], 'no driver, mount server or worker process is left');
  t.same(mountsUnder(dir), [], 'no mount is left under the test\'s folders');
  t.same(loopsUnder(folders.root), [], 'no loop device is backed by a file under the root');
  t.same(filesUnder(folders.root), [], 'no image, record or temp file is left in the root');
  t.same(fs.readdirSync(nodeDir), [], 'nothing is left on the CO\'s node folder');
  t.comment(`total ${Math.round(performance.now() - started)} ms`);
  if (!t.passing() && fs.existsSync(path.join(dir, 'driver.log'))) t.comment(`driver log (restarts by the suite):\n${fs.readFileSync(path.join(dir, 'driver.log'), 'utf8').slice(-4000)}`);
});
