import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import t from 'tap';
import { connectCsiSubject, loadCsiRunConfig, type CsiSubject } from '../../conformance/csi/index.js';
import { declareGroupSnapshotCases } from '../../conformance/csi/group-snapshots.cases.js';
import { declareListSnapshotsCases } from '../../conformance/csi/list-snapshots.cases.js';
import { readMountTable } from '../../conformance/csi/mount-table.js';
import { declareNodeConcurrencyCases } from '../../conformance/csi/node-concurrency.cases.js';
import { declareNodeExpandCases } from '../../conformance/csi/node-expand.cases.js';
import { declareNodeInfoCases } from '../../conformance/csi/node-info.cases.js';
import { declareNodePublishModeCases } from '../../conformance/csi/node-publish-modes.cases.js';
import { declareNodePublishCases } from '../../conformance/csi/node-publish.cases.js';
import { declareNodeRestartCases } from '../../conformance/csi/node-restart.cases.js';
import { declareSecretsCases } from '../../conformance/csi/secrets.cases.js';
import { declareNodeStageCases } from '../../conformance/csi/node-stage.cases.js';
import { declareNodeUnpublishCases } from '../../conformance/csi/node-unpublish.cases.js';
import { declareNodeUnstageCases } from '../../conformance/csi/node-unstage.cases.js';
import { declareNodeVolumeStatsCases } from '../../conformance/csi/node-volume-stats.cases.js';
import { declareSnapshotCases } from '../../conformance/csi/snapshots.cases.js';
import { makeStagingPath, makeTargetPath } from '../../conformance/csi/test-volumes.js';
import {
  CaseContext,
  compileFilter,
  decideVerdict,
  probeEnvironment,
  requirementResults,
  runSuite,
  Suite,
  type CaseResult,
  type RequirementResult,
} from '../../conformance/framework/index.js';
import { startDirVolumeDriver, type RunningDirVolumeDriver } from '../../reference-plugins/dir-volume/index.js';
import { loadRegistry } from '../../specs/registry/index.js';
import { loopsUnder, scratch, skipUnlessRoot } from '../reference-plugins/dir-volume/dir-volume-fixture.js';

const registry = loadRegistry();
/** The requirements this test certifies: the Snapshot, Node and GroupController sections, and the general rules the node cases judge. */
const ours = /^CSI-(SNAP|NODE|GROUP)-|^CSI-GEN-01[14]$/;
// Rules binding the CO (runtime) are not certified on a plugin; the last two tests check the suite keeps them.
const ourRequirements = registry.list('csi').filter((requirement) => ours.test(requirement.id) && requirement.binds !== 'runtime');

/** The suite's Snapshot, Node and GroupController cases alone. */
function nodeAndSnapshotSuite(): Suite<CsiSubject> {
  const suite = new Suite<CsiSubject>('csi');
  for (const declare of [
    declareSnapshotCases,
    declareListSnapshotsCases,
    declareGroupSnapshotCases,
    declareNodeInfoCases,
    declareNodeStageCases,
    declareNodeUnstageCases,
    declareNodePublishCases,
    declareNodePublishModeCases,
    declareNodeUnpublishCases,
    declareNodeVolumeStatsCases,
    declareNodeExpandCases,
    declareNodeConcurrencyCases,
    declareSecretsCases,
    declareNodeRestartCases,
  ]) {
    declare(suite);
  }
  return suite;
}

function describe(result: RequirementResult): string {
  return `${result.id} (${result.level}) ${result.status}: ${result.reason ?? ''}`;
}

/**
 * A restart command that waits for the test to restart the driver: it makes
 * a request file and returns once the test has removed it, so the suite's
 * Probe afterwards reaches the new driver, never the old one on its way out.
 */
function restartHandshake(dir: string, restart: () => Promise<void>): { command: string; stop(): void; count(): number } {
  const request = path.join(dir, 'restart-request');
  let restarts = 0;
  let busy = false;
  const timer = setInterval(() => {
    if (busy || !fs.existsSync(request)) return;
    busy = true;
    void restart()
      .then(() => {
        restarts += 1;
      })
      .finally(() => {
        fs.rmSync(request, { force: true });
        busy = false;
      });
  }, 20);
  return {
    command: `touch '${request}' && while [ -e '${request}' ]; do sleep 0.05; done`,
    stop: () => clearInterval(timer),
    count: () => restarts,
  };
}

t.test('the reference driver passes every applicable Snapshot, Node and GroupController requirement', { skip: skipUnlessRoot }, async (t) => {
  const where = scratch(t);
  const endpoint = `unix://${where.socket}`;
  const mountDir = path.join(where.node, 'mount');
  const stagingDir = path.join(where.node, 'staging');
  fs.mkdirSync(mountDir);
  fs.mkdirSync(stagingDir);
  const log: string[] = [];
  const start = (): Promise<RunningDirVolumeDriver> =>
    startDirVolumeDriver({ endpoint, root: where.root, nodeId: 'kubeplug-node-1', vendorVersion: 'test', log: (line) => log.push(line) });
  let driver = await start();
  const handshake = restartHandshake(where.dir, async () => {
    await driver.close();
    driver = await start();
  });
  t.teardown(async () => {
    handshake.stop();
    await driver.close();
  });

  const config = loadCsiRunConfig({ mountDir, stagingDir, restartCommand: handshake.command });
  const subject = await connectCsiSubject({ endpoint, config });
  const suite = nodeAndSnapshotSuite();
  const started = performance.now();
  let cases: CaseResult[];
  try {
    cases = await runSuite({ suite, subject, environment: await probeEnvironment(), filter: compileFilter({}) });
  } finally {
    subject.close();
  }
  const seconds = (performance.now() - started) / 1000;
  t.comment(`${cases.length} cases in ${seconds.toFixed(1)} s`);
  if (process.env.KUBEPLUG_CASE_TIMES === '1') {
    for (const result of [...cases].sort((a, b) => b.durationMs - a.durationMs).slice(0, 25)) t.comment(`${result.durationMs} ms ${result.outcome} ${result.title}`);
  }
  const requirements = requirementResults({ requirements: ourRequirements, declaredCases: suite.cases, results: cases });

  const broken = requirements.filter(
    (result) => ['fail', 'error', 'skipped'].includes(result.status) || (result.status === 'not-checked' && result.checkable),
  );
  t.same(broken.map(describe), [], 'no requirement failed, erred, was skipped or went unchecked');
  t.same(
    cases.filter((result) => result.outcome === 'error').map((result) => `${result.title}: ${result.reason}`),
    [],
    'no harness error',
  );
  t.equal(decideVerdict(cases, requirements).exitCode, 0, 'certified on these requirements');
  t.ok(handshake.count() >= 2, 'the restart cases restarted the driver');
  t.equal(requirements.find((result) => result.id === 'CSI-NODE-060')?.status, 'pass', 'node state survives a restart');
  for (const id of ['CSI-NODE-026', 'CSI-NODE-027', 'CSI-NODE-039', 'CSI-NODE-021', 'CSI-SNAP-013']) {
    t.equal(requirements.find((result) => result.id === id)?.status, 'pass', `${id} passes (judged on the mount table and the data)`);
  }
  const notApplicable = requirements.filter((result) => result.status === 'not-applicable').map((result) => result.id);
  t.comment(`not applicable to dir-volume: ${notApplicable.join(', ')}`);
  t.ok(notApplicable.includes('CSI-GROUP-001'), 'no group snapshots: the GroupController cases are not applicable, not passed');
  t.ok(seconds < 30, `the Node and Snapshot part of the suite runs in under 30 s (took ${seconds.toFixed(1)} s)`);

  const leftMounts = (await readMountTable()).map((entry) => entry.mountPoint).filter((mountPoint) => mountPoint.startsWith(`${where.dir}/`));
  t.same(leftMounts, [], 'nothing is left mounted under the test folders after the run');
  t.same(loopsUnder(where.root), [], 'no loop device is left attached to the driver root');
  t.same(fs.readdirSync(mountDir), [], 'no target folder is left behind');
  t.same(fs.readdirSync(stagingDir), [], 'no staging folder is left behind');
  t.notOk(log.some((line) => line.includes('canary-')), 'the driver logged no canary secret');
});

t.test('the suite, as the CO, makes the staging folder and the target parent but not the target (CSI-NODE-017)', async (t) => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'kp-co-'));
  t.teardown(() => fs.rmSync(dir, { recursive: true, force: true }));
  fs.mkdirSync(path.join(dir, 'mount'));
  fs.mkdirSync(path.join(dir, 'staging'));
  const config = loadCsiRunConfig({ mountDir: path.join(dir, 'mount'), stagingDir: path.join(dir, 'staging') });
  const ctx = new CaseContext<CsiSubject>({
    subject: { config } as CsiSubject,
    signal: new AbortController().signal,
    deadline: new Date(Date.now() + 10_000),
    caseIds: ['CSI-NODE-017'],
    runId: 'co',
  });
  const staging = await makeStagingPath(ctx);
  const target = await makeTargetPath(ctx);
  t.ok(fs.statSync(staging).isDirectory(), 'the staging path is a folder before NodeStageVolume');
  t.ok(fs.statSync(path.dirname(target)).isDirectory(), "the target's parent is a folder before NodePublishVolume");
  t.notOk(fs.existsSync(target), 'the target itself is left for the plugin to create');
  await ctx.cleanup.unwind(1000);
  t.same(fs.readdirSync(path.join(dir, 'mount')), [], 'the parent the suite made is removed afterwards');
  t.same(fs.readdirSync(path.join(dir, 'staging')), [], 'the staging folder the suite made is removed afterwards');
});

t.test('the suite, as the CO, stages before it publishes and unpublishes before it unstages (CSI-NODE-018)', { skip: skipUnlessRoot }, async (t) => {
  const where = scratch(t);
  const endpoint = `unix://${where.socket}`;
  fs.mkdirSync(path.join(where.node, 'mount'));
  fs.mkdirSync(path.join(where.node, 'staging'));
  const driver = await startDirVolumeDriver({ endpoint, root: where.root, nodeId: 'kubeplug-node-1', log: () => undefined });
  t.teardown(() => driver.close());
  const config = loadCsiRunConfig({ mountDir: path.join(where.node, 'mount'), stagingDir: path.join(where.node, 'staging') });
  const subject = await connectCsiSubject({ endpoint, config });
  const suite = new Suite<CsiSubject>('csi');
  declareNodePublishCases(suite);
  const focus = 'NodePublishVolume mounts the volume at a target it creates';
  let cases: CaseResult[];
  try {
    cases = await runSuite({ suite, subject, environment: await probeEnvironment(), filter: compileFilter({ focus: [focus] }) });
  } finally {
    subject.close();
  }
  // The evidence's call order is what the plugin saw: every node call of the lifecycle case, first to last.
  const calls = (cases[0]?.evidence ?? []).flatMap((item) => (item.kind === 'call' && item.method.startsWith('Node/') ? [item.method] : []));
  const first = (method: string): number => calls.indexOf(method);
  const last = (method: string): number => calls.lastIndexOf(method);
  t.ok(first('Node/NodeStageVolume') >= 0 && first('Node/NodeStageVolume') < first('Node/NodePublishVolume'), 'NodeStageVolume comes before the first NodePublishVolume');
  t.ok(last('Node/NodeUnpublishVolume') < last('Node/NodeUnstageVolume'), 'the last NodeUnpublishVolume comes before NodeUnstageVolume');
});
