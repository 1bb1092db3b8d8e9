import fs from 'node:fs';
import path from 'node:path';
import t, * as Tap from 'tap';
import { declareControllerCapabilityCases } from '../../conformance/csi/controller-capabilities.cases.js';
import { declareControllerGetVolumeCases } from '../../conformance/csi/controller-get-volume.cases.js';
import { declareControllerPublishCases } from '../../conformance/csi/controller-publish.cases.js';
import { declareCreateVolumeCases } from '../../conformance/csi/create-volume.cases.js';
import { declareDeleteVolumeCases } from '../../conformance/csi/delete-volume.cases.js';
import { declareExpandVolumeCases } from '../../conformance/csi/expand-volume.cases.js';
import { declareGeneralCases } from '../../conformance/csi/general.cases.js';
import { declareGetCapacityCases } from '../../conformance/csi/get-capacity.cases.js';
import { connectCsiSubject, loadCsiRunConfig, type CsiSubject } from '../../conformance/csi/index.js';
import { declareListVolumesCases } from '../../conformance/csi/list-volumes.cases.js';
import { declareModifyVolumeCases } from '../../conformance/csi/modify-volume.cases.js';
import { declareSocketCases } from '../../conformance/csi/socket.cases.js';
import { declareValidateVolumeCapabilitiesCases } from '../../conformance/csi/validate-volume-capabilities.cases.js';
import {
  compileFilter,
  decideVerdict,
  probeEnvironment,
  requirementResults,
  runSuite,
  Suite,
  type RequirementResult,
} from '../../conformance/framework/index.js';
import { startDirVolumeDriver, type RunningDirVolumeDriver } from '../../reference-plugins/dir-volume/index.js';
import { loadRegistry } from '../../specs/registry/index.js';
import { startCsiProxy } from '../../conformance/fixtures/csi-driver/csi-proxy.js';
import { attachDefectBreaks, attachTableOverrides, type AttachDefect } from '../helpers/csi-attach-table.js';
import { scratch, skipUnlessRoot } from '../reference-plugins/dir-volume/dir-volume-fixture.js';

const registry = loadRegistry();
const ours = /^CSI-(GEN|SOCK|CTRL)-/;
const ourRequirements = registry.list('csi').filter((requirement) => ours.test(requirement.id));

/** The socket, general and Controller cases alone; the whole suite is proved in csi-fixtures.test.ts. */
function controllerSuite(): Suite<CsiSubject> {
  const suite = new Suite<CsiSubject>('csi');
  for (const declare of [
    declareSocketCases,
    declareControllerCapabilityCases,
    declareCreateVolumeCases,
    declareDeleteVolumeCases,
    declareValidateVolumeCapabilitiesCases,
    declareListVolumesCases,
    declareGetCapacityCases,
    declareControllerPublishCases,
    declareExpandVolumeCases,
    declareControllerGetVolumeCases,
    declareModifyVolumeCases,
    declareGeneralCases,
  ]) {
    declare(suite);
  }
  return suite;
}

/** A requirement the run judged, as one line of a failure message. */
function describe(result: RequirementResult): string {
  return `${result.id} (${result.level}) ${result.status}: ${result.reason ?? ''}`;
}

/** Runs the Controller cases (those matching `focus`, or all) against an endpoint and judges our requirements. */
async function certify(options: { endpoint: string; node: string; restartCommand?: string; focus?: string[] }) {
  const mountDir = fs.mkdtempSync(path.join(options.node, 'mount-'));
  const stagingDir = fs.mkdtempSync(path.join(options.node, 'staging-'));
  const config = loadCsiRunConfig({ mountDir, stagingDir, ...(options.restartCommand === undefined ? {} : { restartCommand: options.restartCommand }) });
  const subject = await connectCsiSubject({ endpoint: options.endpoint, config });
  try {
    const suite = controllerSuite();
    const started = performance.now();
    const cases = await runSuite({ suite, subject, environment: await probeEnvironment(), filter: compileFilter({ focus: options.focus ?? [] }) });
    const seconds = (performance.now() - started) / 1000;
    const requirements = requirementResults({ requirements: ourRequirements, declaredCases: suite.cases, results: cases });
    return { cases, requirements, seconds };
  } finally {
    subject.close();
  }
}

t.test('the reference driver passes every applicable General, Socket and Controller requirement', { skip: skipUnlessRoot }, async (t) => {
  const where = scratch(t);
  const endpoint = `unix://${where.socket}`;
  const log: string[] = [];
  const start = (): Promise<RunningDirVolumeDriver> =>
    startDirVolumeDriver({ endpoint, root: where.root, nodeId: 'kubeplug-node-1', vendorVersion: 'test', log: (line) => log.push(line) });

  // --restart-command sends this process SIGUSR2; the handler stops the driver and starts it again on the same root.
  let driver = await start();
  let restarts = 0;
  const restart = (): void => {
    restarts += 1;
    void driver.close().then(async () => {
      driver = await start();
    });
  };
  process.on('SIGUSR2', restart);
  t.teardown(async () => {
    process.off('SIGUSR2', restart);
    await driver.close();
  });

  const { cases, requirements, seconds } = await certify({ endpoint, node: where.node, restartCommand: `kill -USR2 ${process.pid}` });
  t.comment(`${cases.length} cases in ${seconds.toFixed(1)} s`);
  const broken = requirements.filter((result) => ['fail', 'error', 'skipped'].includes(result.status) || (result.status === 'not-checked' && result.checkable));
  t.same(broken.map(describe), [], 'no requirement failed, erred, was skipped or went unchecked');
  const harness = cases.filter((result) => result.outcome === 'error');
  t.same(harness.map((result) => `${result.title}: ${result.reason}`), [], 'no harness error');
  t.equal(decideVerdict(cases, requirements).exitCode, 0, 'certified on these requirements');
  t.ok(restarts >= 2, 'the restart case restarted the driver');
  t.equal(requirements.find((result) => result.id === 'CSI-CTRL-071')?.status, 'pass', 'controller state survives a restart');
  t.ok(seconds < 20, `the Controller part of the suite runs in under 20 s (took ${seconds.toFixed(1)} s)`);
  t.notOk(log.some((line) => /canary-[0-9a-f]{24}/.test(line)), 'the driver logged no canary secret');
  t.notMatch(JSON.stringify(cases.map((result) => result.evidence)), /canary-[0-9a-f]{24}/, 'the evidence shows no canary secret');
});

/** The publishing rules: only a driver with PUBLISH_UNPUBLISH_VOLUME is judged on them. */
const publishing = ['^CSI-CTRL-0(29|3[0-9]|4[01]|50|59|65)$', 'CSI-GEN-014'];

/** dir-volume behind a proxy that adds ControllerPublishVolume with the defect given. */
async function attachingDriver(t: Tap.Test, defect: AttachDefect): Promise<{ endpoint: string; node: string }> {
  const where = scratch(t);
  const upstream = `unix://${where.dir}/upstream.sock`;
  fs.mkdirSync(path.join(where.dir, 'proxy'));
  const endpoint = `unix://${where.dir}/proxy/csi.sock`;
  const driver = await startDirVolumeDriver({ endpoint: upstream, root: where.root, nodeId: 'kubeplug-node-1', maxVolumesPerNode: 3, log: () => {} });
  t.teardown(() => driver.close());
  const proxy = await startCsiProxy({ endpoint, upstream, overrides: attachTableOverrides(defect) });
  t.teardown(() => proxy.close());
  return { endpoint, node: where.node };
}

t.test('a driver with ControllerPublishVolume passes every publishing requirement', { skip: skipUnlessRoot }, async (t) => {
  const { endpoint, node } = await attachingDriver(t, 'none');
  const { requirements, cases } = await certify({ endpoint, node, focus: publishing });
  const judged = requirements.filter((result) => result.cases.length > 0 && result.id !== 'CSI-CTRL-071');
  t.same(
    judged.filter((result) => result.status !== 'pass' && !(result.status === 'not-checked' && !result.checkable)).map(describe),
    [],
    'every publishing requirement passes',
  );
  for (const id of ['CSI-CTRL-029', 'CSI-CTRL-030', 'CSI-CTRL-031', 'CSI-CTRL-032', 'CSI-CTRL-033', 'CSI-CTRL-036', 'CSI-CTRL-037', 'CSI-CTRL-038', 'CSI-CTRL-039', 'CSI-CTRL-041', 'CSI-CTRL-050', 'CSI-CTRL-059', 'CSI-CTRL-065']) {
    t.equal(requirements.find((result) => result.id === id)?.status, 'pass', `${id} is judged and passes`);
  }
  t.same(cases.filter((result) => result.outcome === 'error').map((result) => result.reason), [], 'no harness error');
});

for (const defect of Object.keys(attachDefectBreaks).filter((name) => name !== 'none') as AttachDefect[]) {
  t.test(`the publishing cases catch ${defect} on exactly ${attachDefectBreaks[defect].join(', ')}`, { skip: skipUnlessRoot }, async (t) => {
    const { endpoint, node } = await attachingDriver(t, defect);
    const { requirements, cases } = await certify({ endpoint, node, focus: publishing });
    const failed = requirements.filter((result) => result.status === 'fail');
    t.same(failed.map((result) => result.id), attachDefectBreaks[defect], failed.map(describe).join('\n'));
    t.same(cases.filter((result) => result.outcome === 'error').map((result) => result.reason), [], 'no harness error');
  });
}
