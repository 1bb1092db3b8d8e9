import fs from 'node:fs';
import path from 'node:path';
import t from 'tap';
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

t.test('the reference driver passes every applicable General, Socket and Controller requirement', { skip: skipUnlessRoot }, async (t) => {
  const where = scratch(t);
  const endpoint = `unix://${where.socket}`;
  const mountDir = path.join(where.node, 'mount');
  const stagingDir = path.join(where.node, 'staging');
  fs.mkdirSync(mountDir);
  fs.mkdirSync(stagingDir);
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

  const config = loadCsiRunConfig({ mountDir, stagingDir, restartCommand: `kill -USR2 ${process.pid}` });
  const subject = await connectCsiSubject({ endpoint, config });
  t.teardown(() => subject.close());
  const environment = await probeEnvironment();
  const suite = controllerSuite();
  const started = performance.now();
  const cases = await runSuite({ suite, subject, environment, filter: compileFilter({}) });
  const seconds = (performance.now() - started) / 1000;
  t.comment(`${cases.length} cases in ${seconds.toFixed(1)} s`);
  const requirements = requirementResults({ requirements: ourRequirements, declaredCases: suite.cases, results: cases });

  const broken = requirements.filter((result) => ['fail', 'error', 'skipped'].includes(result.status) || (result.status === 'not-checked' && result.checkable));
  t.same(broken.map(describe), [], 'no requirement failed, erred, was skipped or went unchecked');
  const harness = cases.filter((result) => result.outcome === 'error');
  t.same(harness.map((result) => `${result.title}: ${result.reason}`), [], 'no harness error');
  t.equal(decideVerdict(cases, requirements).exitCode, 0, 'certified on these requirements');
  t.ok(restarts >= 2, 'the restart case restarted the driver');
  t.equal(requirements.find((result) => result.id === 'CSI-CTRL-071')?.status, 'pass', 'controller state survives a restart');
  t.ok(seconds < 20, `the Controller part of the suite runs in under 20 s (took ${seconds.toFixed(1)} s)`);
  t.notOk(log.some((line) => line.includes('kubeplug-secret-')), 'the driver logged no canary secret');
});
