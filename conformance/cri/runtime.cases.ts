import { CgroupDriver, type RuntimeCondition } from '../../specs/cri/index.js';
import type { CaseContext, Suite } from '../framework/index.js';
import { callImage, callRuntime } from './cri-calls.js';
import { criApiVersionName, type CriSubject } from './cri-subject.js';
import { unknownId } from './cri-observe.js';
import { describeOutcome, expectStatus, requireOk } from './expect-status.js';
import { podWithContainer } from './pod-fixtures.js';

type Ctx = CaseContext<CriSubject>;

/** Semantic versions as Go's golang.org/x/mod/semver reads them (short `v1`, `v1.2` included), `v` optional. */
const semverPattern = /^v?(0|[1-9]\d*)(\.(0|[1-9]\d*)(\.(0|[1-9]\d*))?)?(-[0-9A-Za-z-]+(\.[0-9A-Za-z-]+)*)?(\+[0-9A-Za-z-]+(\.[0-9A-Za-z-]+)*)?$/;

/** Condition types that appear more than once. */
function duplicated(names: readonly string[]): string[] {
  return [...new Set(names.filter((name, index) => names.indexOf(name) !== index))];
}

function conditionOf(conditions: readonly RuntimeCondition[], type: string): RuntimeCondition | undefined {
  return conditions.find((condition) => condition.type === type);
}

/** Declares the runtime version and status cases (CRI-RUNTIME). */
export function declareRuntimeCases(suite: Suite<CriSubject>): void {
  suite.declare({
    ids: ['CRI-RUNTIME-001'],
    title: 'The runtime answers RuntimeService and ImageService calls on its unix sockets',
    async run(ctx: Ctx) {
      const version = await callRuntime(ctx, 'version', { version: criApiVersionName });
      expectStatus(ctx, version, 'OK', { what: `RuntimeService/Version answers at ${ctx.subject.runtimeEndpoint}` });
      const images = await callImage(ctx, 'listImages', {});
      expectStatus(ctx, images, 'OK', { what: `ImageService/ListImages answers at ${ctx.subject.imageEndpoint}` });
    },
  });

  suite.declare({
    ids: ['CRI-RUNTIME-002', 'CRI-RUNTIME-003', 'CRI-RUNTIME-004', 'CRI-RUNTIME-005'],
    title: 'Version names the runtime, echoes the kubelet API version 0.1.0 and gives semantic versions',
    async run(ctx: Ctx) {
      const answer = await callRuntime(ctx, 'version', { version: criApiVersionName });
      requireOk(ctx, answer, { what: 'Version succeeds' });
      const { response } = answer;
      ctx.check(response.runtimeName !== '', { ids: ['CRI-RUNTIME-002'], what: 'runtime_name is not empty', expected: 'a name', got: response.runtimeName });
      ctx.check(response.version === criApiVersionName, { ids: ['CRI-RUNTIME-003'], what: 'version echoes the kubelet runtime API version', expected: criApiVersionName, got: response.version });
      ctx.check(semverPattern.test(response.runtimeVersion), { ids: ['CRI-RUNTIME-004'], what: 'runtime_version is a semantic version', expected: 'v?MAJOR[.MINOR[.PATCH]][-pre][+build]', got: response.runtimeVersion });
      ctx.check(semverPattern.test(response.runtimeApiVersion), { ids: ['CRI-RUNTIME-005'], what: 'runtime_api_version is a semantic version', expected: 'v?MAJOR[.MINOR[.PATCH]][-pre][+build]', got: response.runtimeApiVersion });
    },
  });

  suite.declare({
    ids: ['CRI-RUNTIME-006', 'CRI-RUNTIME-007', 'CRI-RUNTIME-008', 'CRI-RUNTIME-009', 'CRI-RUNTIME-010'],
    title: 'Status reports RuntimeReady and NetworkReady once each, explains false conditions, and names handlers uniquely',
    async run(ctx: Ctx) {
      const answer = await callRuntime(ctx, 'status', { verbose: false });
      requireOk(ctx, answer, { what: 'Status succeeds' });
      const conditions = answer.response.status?.conditions ?? [];
      for (const [id, type] of [['CRI-RUNTIME-006', 'RuntimeReady'], ['CRI-RUNTIME-007', 'NetworkReady']] as const) {
        const condition = conditionOf(conditions, type);
        ctx.check(condition?.status === true, { ids: [id], what: `Status reports ${type} true`, expected: { type, status: true }, got: condition ?? 'no such condition' });
      }
      const falseOnes = conditions.filter((condition) => !condition.status);
      if (falseOnes.length === 0) ctx.note('no condition is false: CRI-RUNTIME-008 has nothing to judge here');
      for (const condition of falseOnes) {
        ctx.check(/^[A-Z][A-Za-z0-9]*$/.test(condition.reason) && condition.message !== '', {
          ids: ['CRI-RUNTIME-008'],
          what: `the false condition ${condition.type} carries a CamelCase reason and a message`,
          expected: 'reason CamelCase, message not empty',
          got: condition,
        });
      }
      const types = conditions.map((condition) => condition.type);
      ctx.check(duplicated(types).length === 0, { ids: ['CRI-RUNTIME-009'], what: 'each condition type appears once', expected: 'no duplicate type', got: types });
      const handlers = answer.response.runtimeHandlers.map((handler) => handler.name);
      ctx.check(duplicated(handlers).length === 0, { ids: ['CRI-RUNTIME-010'], what: 'runtime handler names are unique', expected: 'no duplicate name', got: handlers });
    },
  });

  suite.declare({
    ids: ['CRI-RUNTIME-011'],
    title: 'Status, PodSandboxStatus, ContainerStatus and ImageStatus return no debug info unless asked to be verbose',
    timeoutMs: 60_000,
    async run(ctx: Ctx) {
      const status = await callRuntime(ctx, 'status', { verbose: false });
      requireOk(ctx, status, { what: 'Status succeeds' });
      ctx.check(Object.keys(status.response.info).length === 0, { what: 'Status with verbose false has an empty info map', expected: {}, got: status.response.info });
      const container = await podWithContainer(ctx);
      const pod = await callRuntime(ctx, 'podSandboxStatus', { podSandboxId: container.pod.id, verbose: false });
      requireOk(ctx, pod, { what: 'PodSandboxStatus succeeds' });
      ctx.check(Object.keys(pod.response.info).length === 0, { what: 'PodSandboxStatus with verbose false has an empty info map', expected: {}, got: pod.response.info });
      const ctr = await callRuntime(ctx, 'containerStatus', { containerId: container.id, verbose: false });
      requireOk(ctx, ctr, { what: 'ContainerStatus succeeds' });
      ctx.check(Object.keys(ctr.response.info).length === 0, { what: 'ContainerStatus with verbose false has an empty info map', expected: {}, got: ctr.response.info });
      const image = await callImage(ctx, 'imageStatus', { image: { image: ctx.subject.run.images.busybox, annotations: {}, userSpecifiedImage: '', runtimeHandler: '', imageRef: '' }, verbose: false });
      requireOk(ctx, image, { what: 'ImageStatus succeeds' });
      ctx.check(Object.keys(image.response.info).length === 0, { what: 'ImageStatus with verbose false has an empty info map', expected: {}, got: image.response.info });
    },
  });

  suite.declare({
    ids: ['CRI-RUNTIME-012', 'CRI-RUNTIME-013'],
    title: 'RuntimeConfig reports a cgroup driver, the same on every call',
    async run(ctx: Ctx) {
      const first = await callRuntime(ctx, 'runtimeConfig', {});
      if (!first.ok && first.error.code === 'UNIMPLEMENTED') {
        ctx.check(false, { ids: ['CRI-RUNTIME-012'], what: 'RuntimeConfig is implemented', expected: 'OK', got: describeOutcome(first) });
        // No driver is reported, so the kubelet keeps its own: what must hold still is that answer.
        const again = await callRuntime(ctx, 'runtimeConfig', {});
        expectStatus(ctx, again, 'UNIMPLEMENTED', { ids: ['CRI-RUNTIME-013'], what: 'a second RuntimeConfig gives the same answer (UNIMPLEMENTED)' });
        return;
      }
      requireOk(ctx, first, { ids: ['CRI-RUNTIME-012'], what: 'RuntimeConfig succeeds' });
      const driver = first.response.linux?.cgroupDriver;
      ctx.check(driver === CgroupDriver.SYSTEMD || driver === CgroupDriver.CGROUPFS, {
        ids: ['CRI-RUNTIME-012'],
        what: 'linux.cgroup_driver is SYSTEMD or CGROUPFS',
        expected: 'SYSTEMD | CGROUPFS',
        got: first.response.linux ?? 'no linux field',
      });
      for (const attempt of [2, 3]) {
        const again = await callRuntime(ctx, 'runtimeConfig', {});
        requireOk(ctx, again, { ids: ['CRI-RUNTIME-013'], what: `RuntimeConfig succeeds again (call ${attempt})` });
        ctx.check(again.response.linux?.cgroupDriver === driver, {
          ids: ['CRI-RUNTIME-013'],
          what: `call ${attempt} reports the same cgroup driver`,
          expected: driver === undefined ? 'absent' : CgroupDriver[driver],
          got: again.response.linux?.cgroupDriver === undefined ? 'absent' : CgroupDriver[again.response.linux.cgroupDriver],
        });
      }
    },
  });

  suite.declare({
    ids: ['CRI-RUNTIME-014'],
    title: 'UpdateRuntimeConfig accepts a pod CIDR',
    async run(ctx: Ctx) {
      const updated = await callRuntime(ctx, 'updateRuntimeConfig', { runtimeConfig: { networkConfig: { podCidr: '10.244.0.0/24' } } });
      expectStatus(ctx, updated, 'OK', { what: 'UpdateRuntimeConfig with network_config.pod_cidr 10.244.0.0/24 succeeds' });
    },
  });

  suite.declare({
    ids: ['CRI-RUNTIME-015'],
    title: 'Calls naming a sandbox or container the runtime does not hold fail with NOT_FOUND',
    async run(ctx: Ctx) {
      const id = unknownId();
      const calls = [
        ['PodSandboxStatus', await callRuntime(ctx, 'podSandboxStatus', { podSandboxId: id, verbose: false })],
        ['ContainerStatus', await callRuntime(ctx, 'containerStatus', { containerId: id, verbose: false })],
        ['StartContainer', await callRuntime(ctx, 'startContainer', { containerId: id })],
        ['ExecSync', await callRuntime(ctx, 'execSync', { containerId: id, cmd: ['true'], timeout: 5n }, { extraMs: 5000 })],
        ['UpdateContainerResources', await callRuntime(ctx, 'updateContainerResources', { containerId: id, annotations: {} })],
        ['ContainerStats', await callRuntime(ctx, 'containerStats', { containerId: id })],
        ['PodSandboxStats', await callRuntime(ctx, 'podSandboxStats', { podSandboxId: id })],
        ['ReopenContainerLog', await callRuntime(ctx, 'reopenContainerLog', { containerId: id })],
      ] as const;
      for (const [name, outcome] of calls) {
        expectStatus(ctx, outcome, 'NOT_FOUND', { what: `${name} of an ID the runtime never issued fails with NOT_FOUND` });
      }
    },
  });
}
