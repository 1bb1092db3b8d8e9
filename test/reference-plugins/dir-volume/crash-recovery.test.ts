import { spawn } from 'node:child_process';
import { once } from 'node:events';
import fs from 'node:fs';
import path from 'node:path';
import t, { type Test } from 'tap';
import { VolumeCapability_AccessMode_Mode as Mode, type VolumeCapability } from '../../../specs/csi/index.js';
import { crashPoints, startDirVolumeDriver, type CrashPoint, type RecoveryReport } from '../../../reference-plugins/dir-volume/index.js';
import { packageRoot } from '../../../specs/registry/index.js';
import { blockCapability, clientsFor, codeOf, filesUnder, loopsUnder, mountCapability, mountsUnder, rpcs, scratch, skipUnlessRoot } from './dir-volume-fixture.js';

const root = packageRoot();
const cli = path.join(root, 'dist', 'runner', 'cli.js');
const MiB = 1n << 20n;

/** Skips unless the built CLI is newer than every source of the driver (the child runs what `kubeplug` users run). */
function buildProblem(): string | false {
  if (skipUnlessRoot !== false) return skipUnlessRoot;
  if (!fs.existsSync(cli)) return 'needs the build (npm run build)';
  const built = fs.statSync(path.join(root, 'dist', 'reference-plugins', 'dir-volume', 'index.js'), { throwIfNoEntry: false })?.mtimeMs ?? 0;
  const sources = [...fs.readdirSync(path.join(root, 'reference-plugins', 'dir-volume')).map((name) => path.join(root, 'reference-plugins', 'dir-volume', name)), path.join(root, 'runner', 'commands', 'serve.ts')];
  return sources.some((file) => fs.statSync(file).mtimeMs > built) ? 'dist/ is older than the driver sources (npm run build)' : false;
}
const skip = buildProblem();

type Csi = ReturnType<typeof rpcs>;
interface Paths {
  readonly staging: string;
  readonly target: string;
}

/** One crash point: what to set up, the call that crashes, and what must hold after a restart (which then tidies up through the API). */
interface CrashScenario {
  readonly point: CrashPoint;
  readonly title?: string;
  readonly capability?: VolumeCapability;
  readonly readonly?: boolean;
  readonly setup: Array<'create' | 'stage' | 'publish' | 'snapshot'>;
  readonly crash: (csi: Csi, volumeId: string, paths: Paths, scenario: CrashScenario) => Promise<unknown>;
  readonly after: (t: Test, csi: Csi, volumeId: string, paths: Paths, report: RecoveryReport, scenario: CrashScenario) => Promise<void>;
}

const createRequest = (scenario: CrashScenario) => ({ name: 'crashy', volumeCapabilities: [scenario.capability ?? mountCapability()], capacityRange: { requiredBytes: 8n * MiB, limitBytes: 0n } });
const stageRequest = (volumeId: string, paths: Paths, scenario: CrashScenario) => ({ volumeId, stagingTargetPath: paths.staging, volumeCapability: scenario.capability ?? mountCapability() });
const publishRequest = (volumeId: string, paths: Paths, scenario: CrashScenario) => ({ ...stageRequest(volumeId, paths, scenario), targetPath: paths.target, readonly: scenario.readonly ?? false });

const scenarios: CrashScenario[] = [
  {
    point: 'create-volume:after-temp-image',
    setup: [],
    crash: (csi, _, __, scenario) => csi.createVolume(createRequest(scenario)),
    after: async (t, csi, _, __, report, scenario) => {
      t.ok(report.removedFiles.some((file) => path.basename(file).startsWith('.tmp-')), 'the temp image was removed');
      t.equal((await csi.listVolumes()).entries.length, 0, 'no volume exists');
      t.equal(await codeOf(csi.createVolume(createRequest(scenario))), 'OK', 'the retried create succeeds');
    },
  },
  {
    point: 'create-volume:after-image',
    setup: [],
    crash: (csi, _, __, scenario) => csi.createVolume(createRequest(scenario)),
    after: async (t, csi, _, __, report, scenario) => {
      t.ok(report.removedFiles.some((file) => file.endsWith('.img')), 'the image without a record was removed');
      t.equal((await csi.listVolumes()).entries.length, 0, 'no volume exists');
      t.equal(await codeOf(csi.createVolume(createRequest(scenario))), 'OK', 'the retried create succeeds');
    },
  },
  {
    point: 'delete-volume:after-unlink',
    setup: ['create'],
    crash: (csi, volumeId) => csi.deleteVolume(volumeId),
    after: async (t, csi, volumeId, _, report) => {
      t.same(report.removedRecords, [`volume ${volumeId}`], 'the record of the unlinked image was removed');
      t.equal(await codeOf(csi.deleteVolume(volumeId)), 'OK', 'the retried delete succeeds');
    },
  },
  ...(['expand-volume:after-record', 'expand-volume:after-truncate'] as const).map(
    (point): CrashScenario => ({
      point,
      setup: ['create'],
      crash: (csi, volumeId) => csi.expandVolume({ volumeId, capacityRange: { requiredBytes: 16n * MiB, limitBytes: 0n } }),
      after: async (t, csi, volumeId, _, report) => {
        t.same(report.finishedExpansions, [volumeId], 'the expansion was finished');
        t.equal((await csi.getVolume(volumeId)).volume?.capacityBytes, 16n * MiB, 'the volume has its new size');
        t.same(await csi.expandVolume({ volumeId, capacityRange: { requiredBytes: 16n * MiB, limitBytes: 0n } }), { capacityBytes: 16n * MiB, nodeExpansionRequired: false }, 'the retried expand is OK');
      },
    }),
  ),
  {
    point: 'create-snapshot:after-image',
    setup: ['create'],
    crash: (csi, volumeId) => csi.createSnapshot({ name: 'snap', sourceVolumeId: volumeId }),
    after: async (t, csi, volumeId, _, report) => {
      t.ok(report.removedFiles.some((file) => file.includes('/snapshots/')), 'the snapshot image without a record was removed');
      t.equal((await csi.listSnapshots()).entries.length, 0, 'no snapshot exists');
      t.equal(await codeOf(csi.createSnapshot({ name: 'snap', sourceVolumeId: volumeId })), 'OK', 'the retried snapshot succeeds');
    },
  },
  {
    point: 'delete-snapshot:after-unlink',
    setup: ['create', 'snapshot'],
    crash: async (csi) => csi.deleteSnapshot((await csi.listSnapshots()).entries[0]!.snapshot!.snapshotId),
    after: async (t, csi, _, __, report) => {
      t.ok(report.removedRecords.some((record) => record.startsWith('snapshot ')), 'the snapshot record was removed');
      t.equal((await csi.listSnapshots()).entries.length, 0, 'no snapshot is listed');
    },
  },
  ...([['node-stage:after-record', mountCapability()], ['node-stage:after-mount', mountCapability()], ['node-stage:after-mount', blockCapability()]] as const).map(
    ([point, capability]): CrashScenario => ({
      point,
      title: `${point} (${capability.accessType?.$case})`,
      capability,
      setup: ['create'],
      crash: (csi, volumeId, paths, scenario) => csi.stage(stageRequest(volumeId, paths, scenario)),
      after: async (t, csi, volumeId, paths, report, scenario) => {
        if (point === 'node-stage:after-record') t.ok(report.removedRecords.some((record) => record.startsWith('stage ')), 'the stage that never mounted was forgotten');
        else t.same(report.removedRecords, [], 'the live stage was kept');
        t.equal(await codeOf(csi.stage(stageRequest(volumeId, paths, scenario))), 'OK', 'the retried stage succeeds');
        await csi.unstage(volumeId, paths.staging);
      },
    }),
  ),
  {
    point: 'node-unstage:after-unmount',
    setup: ['create', 'stage'],
    crash: (csi, volumeId, paths) => csi.unstage(volumeId, paths.staging),
    after: async (t, csi, volumeId, paths, report) => {
      t.ok(report.removedRecords.some((record) => record.startsWith('stage ')), 'the unmounted stage was forgotten');
      t.equal(await codeOf(csi.unstage(volumeId, paths.staging)), 'OK', 'the retried unstage succeeds');
    },
  },
  ...([['node-publish:after-record', mountCapability(), false], ['node-publish:after-mount', mountCapability(), false], ['node-publish:after-mount', blockCapability(), true]] as const).map(
    ([point, capability, readonly]): CrashScenario => ({
      point,
      title: `${point} (${capability.accessType?.$case}${readonly ? ', read-only' : ''})`,
      capability,
      readonly,
      setup: ['create', 'stage'],
      crash: (csi, volumeId, paths, scenario) => csi.publish(publishRequest(volumeId, paths, scenario)),
      after: async (t, csi, volumeId, paths, report, scenario) => {
        if (point === 'node-publish:after-record') {
          t.ok(report.removedRecords.some((record) => record.startsWith('publication ')), 'the publication that never mounted was forgotten');
          t.notOk(fs.existsSync(paths.target), 'and the target it created removed');
        } else t.same(report.removedRecords, [], 'the live publication was kept');
        t.equal(await codeOf(csi.publish(publishRequest(volumeId, paths, scenario))), 'OK', 'the retried publish succeeds');
        await csi.unpublish(volumeId, paths.target);
        t.notOk(fs.existsSync(paths.target), 'unpublish removes the target');
        await csi.unstage(volumeId, paths.staging);
      },
    }),
  ),
  {
    point: 'node-unpublish:after-unmount',
    setup: ['create', 'stage', 'publish'],
    crash: (csi, volumeId, paths) => csi.unpublish(volumeId, paths.target),
    after: async (t, csi, volumeId, paths, report) => {
      t.ok(report.removedRecords.some((record) => record.startsWith('publication ')), 'the unmounted publication was forgotten');
      t.notOk(fs.existsSync(paths.target), 'its target was removed');
      t.equal(await codeOf(csi.unpublish(volumeId, paths.target)), 'OK', 'the retried unpublish succeeds');
      await csi.unstage(volumeId, paths.staging);
    },
  },
];

/** Starts `kubeplug serve csi` as a child that SIGKILLs itself at `point`; resolves once it listens. */
async function startCrashingChild(t: Test, options: { root: string; socket: string; point: CrashPoint }) {
  const child = spawn(process.execPath, [cli, 'serve', 'csi', '--endpoint', `unix://${options.socket}`, '--root', options.root, '--node-id', 'node-1'], {
    env: { ...process.env, KUBEPLUG_CSI_CRASH_AT: options.point },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const exited = once(child, 'exit') as Promise<[number | null, NodeJS.Signals | null]>;
  t.teardown(async () => {
    if (child.exitCode === null && child.signalCode === null) {
      child.kill('SIGKILL');
      await exited;
    }
  });
  let stderr = '';
  child.stderr.on('data', (chunk: Buffer) => void (stderr += chunk.toString()));
  const [first] = (await once(child.stdout, 'data')) as [Buffer];
  if (!first.toString().startsWith('ready ')) throw new Error(`kubeplug serve csi did not start: ${first.toString()} ${stderr}`);
  return { exited };
}

// Scenarios are independent (own folder, socket and child), so they run four at a time: each mostly waits on a child starting.
t.test('after a SIGKILL at any crash point, a restart finishes or undoes the cut-short operation and nothing leaks', { skip, jobs: 4 }, async (t) => {
  t.same(new Set(scenarios.map((scenario) => scenario.point)), new Set(crashPoints), 'every crash point has a scenario');
  for (const scenario of scenarios) {
    void t.test(scenario.title ?? scenario.point, { buffered: true }, async (t) => {
      const where = scratch(t);
      const paths: Paths = { staging: path.join(where.node, 'staging'), target: path.join(where.node, scenario.capability?.accessType?.$case === 'block' ? 'device' : 'target') };
      fs.mkdirSync(paths.staging);
      const { exited } = await startCrashingChild(t, { root: where.root, socket: where.socket, point: scenario.point });
      const before = rpcs(clientsFor(t, `unix://${where.socket}`));
      let volumeId = '';
      for (const step of scenario.setup) {
        if (step === 'create') volumeId = (await before.createVolume(createRequest(scenario))).volume!.volumeId;
        if (step === 'stage') await before.stage(stageRequest(volumeId, paths, scenario));
        if (step === 'publish') await before.publish(publishRequest(volumeId, paths, scenario));
        if (step === 'snapshot') await before.createSnapshot({ name: 'snap', sourceVolumeId: volumeId });
      }
      t.not(await codeOf(scenario.crash(before, volumeId, paths, scenario)), 'OK', 'the call at the crash point gets no answer');
      const [, signal] = await exited;
      t.equal(signal, 'SIGKILL', 'the driver killed itself at the crash point');

      const restarted = await startDirVolumeDriver({ endpoint: `unix://${where.socket}`, root: where.root, nodeId: 'node-1', vendorVersion: 'test', log: () => {} });
      t.teardown(() => restarted.close());
      const csi = rpcs(clientsFor(t, `unix://${where.socket}`));
      await scenario.after(t, csi, volumeId, paths, restarted.recovery, scenario);
      for (const entry of (await csi.listSnapshots()).entries) await csi.deleteSnapshot(entry.snapshot!.snapshotId);
      for (const entry of (await csi.listVolumes()).entries) await csi.deleteVolume(entry.volume!.volumeId);
      t.same(mountsUnder(where.dir), [], 'no mount is left');
      t.same(loopsUnder(where.root), [], 'no loop device is left');
      t.same(filesUnder(where.root), [], 'no image, record or temp file is left');
      t.same(fs.readdirSync(where.node), ['staging'], 'only the CO\'s staging directory is left on the node');
    });
  }
});
