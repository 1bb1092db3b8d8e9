import fs from 'node:fs';
import path from 'node:path';
import { LinuxContainerResources } from '../../specs/cri/index.js';
import type { CaseContext, Suite } from '../framework/index.js';
import { callRuntime } from './cri-calls.js';
import type { CriSubject } from './cri-subject.js';
import { describeOutcome, expectStatus, requireOk } from './expect-status.js';
import { markedSleeper, processesAppear, processMarker } from './node-processes.js';
import { containerStatus, hostFolder, runTestPod, shellOutput, startTestContainer, type TestContainer } from './pod-fixtures.js';

type Ctx = CaseContext<CriSubject>;

const mib = 1024n * 1024n;

/** The limits a container's cgroup holds, in cgroup v1 terms (v2 values are converted back where they differ). */
interface CgroupLimits {
  readonly memoryLimit: string;
  readonly cpuQuota: string;
  readonly cpuPeriod: string;
  /** cpu.shares on v1; on v2 the cpu.weight the kubelet's conversion maps the shares to. */
  readonly cpuWeightOrShares: string;
  /** Where the values were read: inside the container (/sys/fs/cgroup) or from the node. */
  readonly seenFrom: 'inside' | 'node';
}

/** cpu.weight for cpu.shares, as runc and the kubelet convert them on cgroup v2. */
export function weightOfShares(shares: bigint): bigint {
  return shares === 0n ? 0n : 1n + ((shares - 2n) * 9999n) / 262142n;
}

const insideScript = [
  'if [ -f /sys/fs/cgroup/cgroup.controllers ]; then',
  '  echo v2; cat /sys/fs/cgroup/memory.max; cut -d" " -f1 /sys/fs/cgroup/cpu.max; cut -d" " -f2 /sys/fs/cgroup/cpu.max; cat /sys/fs/cgroup/cpu.weight',
  'else',
  '  echo v1; cat /sys/fs/cgroup/memory/memory.limit_in_bytes /sys/fs/cgroup/cpu/cpu.cfs_quota_us /sys/fs/cgroup/cpu/cpu.cfs_period_us /sys/fs/cgroup/cpu/cpu.shares',
  'fi',
].join('\n');

/**
 * Reads the container's limits from its own view of /sys/fs/cgroup; when
 * the runtime mounts no cgroup file system there, from the node through the
 * process's /proc/<pid>/cgroup (the case notes which).
 */
async function cgroupLimits(ctx: Ctx, container: TestContainer, marker: string): Promise<CgroupLimits> {
  const inside = await callRuntime(ctx, 'execSync', { containerId: container.id, cmd: ['sh', '-c', insideScript], timeout: 10n }, { extraMs: 10_000 });
  if (inside.ok && inside.response.exitCode === 0) {
    const [version, memory = '', quota = '', period = '', weight = ''] = Buffer.from(inside.response.stdout).toString('utf8').trim().split('\n');
    return { memoryLimit: memory, cpuQuota: version === 'v2' && quota === 'max' ? '-1' : quota, cpuPeriod: period, cpuWeightOrShares: weight, seenFrom: 'inside' };
  }
  ctx.note(`the container cannot read its cgroup under /sys/fs/cgroup (${describeOutcome(inside)}); reading it from the node`);
  const [pid] = await processesAppear(marker);
  ctx.require(pid !== undefined, { ids: [], what: "the container's process is visible on the node", expected: `a process with ${marker}`, got: 'none' });
  const lines = fs.readFileSync(`/proc/${pid}/cgroup`, 'utf8').trim().split('\n').map((line) => line.split(':'));
  const v2 = lines.find((fields) => fields[0] === '0' && fields[1] === '');
  const v1 = (controller: string): string | undefined => lines.find((fields) => (fields[1] ?? '').split(',').includes(controller))?.slice(2).join(':');
  const read = (file: string): string => fs.readFileSync(file, 'utf8').trim();
  const memoryPath = v1('memory');
  if (memoryPath !== undefined) {
    const cpuPath = v1('cpu') ?? '';
    const cpuRoot = fs.existsSync('/sys/fs/cgroup/cpu') ? '/sys/fs/cgroup/cpu' : '/sys/fs/cgroup/cpu,cpuacct';
    return {
      memoryLimit: read(path.join('/sys/fs/cgroup/memory', memoryPath, 'memory.limit_in_bytes')),
      cpuQuota: read(path.join(cpuRoot, cpuPath, 'cpu.cfs_quota_us')),
      cpuPeriod: read(path.join(cpuRoot, cpuPath, 'cpu.cfs_period_us')),
      cpuWeightOrShares: read(path.join(cpuRoot, cpuPath, 'cpu.shares')),
      seenFrom: 'node',
    };
  }
  const dir = path.join('/sys/fs/cgroup', v2?.slice(2).join(':') ?? '');
  const [quota = '', period = ''] = read(path.join(dir, 'cpu.max')).split(' ');
  return { memoryLimit: read(path.join(dir, 'memory.max')), cpuQuota: quota === 'max' ? '-1' : quota, cpuPeriod: period, cpuWeightOrShares: read(path.join(dir, 'cpu.weight')), seenFrom: 'node' };
}

/** What the cgroup must hold for these resources, on the cgroup version the values were read from. */
function expectedLimits(resources: { memoryLimitInBytes: bigint; cpuQuota: bigint; cpuPeriod: bigint; cpuShares: bigint }, weight: boolean): Omit<CgroupLimits, 'seenFrom'> {
  return {
    memoryLimit: resources.memoryLimitInBytes.toString(),
    cpuQuota: resources.cpuQuota.toString(),
    cpuPeriod: resources.cpuPeriod.toString(),
    cpuWeightOrShares: (weight ? weightOfShares(resources.cpuShares) : resources.cpuShares).toString(),
  };
}

function sameLimits(got: CgroupLimits, expected: Omit<CgroupLimits, 'seenFrom'>): boolean {
  return got.memoryLimit === expected.memoryLimit && got.cpuQuota === expected.cpuQuota && got.cpuPeriod === expected.cpuPeriod && got.cpuWeightOrShares === expected.cpuWeightOrShares;
}

const initial = { memoryLimitInBytes: 64n * mib, cpuQuota: 50_000n, cpuPeriod: 100_000n, cpuShares: 512n, oomScoreAdj: 500n };
const updated = { memoryLimitInBytes: 96n * mib, cpuQuota: 30_000n, cpuPeriod: 100_000n, cpuShares: 256n };

/** Whether the cgroup of a container is v2, from what it read. */
async function isCgroupV2(ctx: Ctx, containerId: string): Promise<boolean> {
  const answer = await shellOutput(ctx, containerId, 'test -f /sys/fs/cgroup/cgroup.controllers && echo v2 || echo v1');
  return answer.trim() === 'v2' || fs.existsSync('/sys/fs/cgroup/cgroup.controllers');
}

/** Declares the resource limit and update cases. */
export function declareContainerResourceCases(suite: Suite<CriSubject>): void {
  suite.declare({
    ids: ['CRI-CONTAINER-066', 'CRI-CONTAINER-067', 'CRI-CONTAINER-069'],
    title: "Resource limits given at creation and by UpdateContainerResources are in the container's cgroup and its status",
    timeoutMs: 60_000,
    async run(ctx: Ctx) {
      const pod = await runTestPod(ctx);
      const marker = processMarker();
      const container = await startTestContainer(ctx, pod, { command: markedSleeper(marker), resources: initial });
      const v2 = await isCgroupV2(ctx, container.id);
      const atCreation = await cgroupLimits(ctx, container, marker);
      ctx.check(sameLimits(atCreation, expectedLimits(initial, v2)), { ids: ['CRI-CONTAINER-066'], what: `the cgroup holds the configured memory limit, CPU quota, period and ${v2 ? 'weight' : 'shares'} (read from ${atCreation.seenFrom})`, expected: expectedLimits(initial, v2), got: atCreation });
      const oom = await shellOutput(ctx, container.id, 'cat /proc/1/oom_score_adj', { ids: ['CRI-CONTAINER-066'] });
      ctx.check(oom.trim() === initial.oomScoreAdj.toString(), { ids: ['CRI-CONTAINER-066'], what: 'the process has the configured oom_score_adj', expected: initial.oomScoreAdj.toString(), got: oom.trim() });
      const created = await containerStatus(ctx, container.id, { ids: ['CRI-CONTAINER-069'] });
      const reported = created.resources?.linux;
      ctx.check(reported?.memoryLimitInBytes === initial.memoryLimitInBytes && reported.cpuQuota === initial.cpuQuota && reported.cpuShares === initial.cpuShares, { ids: ['CRI-CONTAINER-069'], what: 'ContainerStatus.resources.linux reports the limits given at creation', expected: initial, got: reported ?? 'absent' });

      const update = await callRuntime(ctx, 'updateContainerResources', { containerId: container.id, linux: LinuxContainerResources.fromPartial(updated), annotations: {} });
      requireOk(ctx, update, { ids: ['CRI-CONTAINER-067'], what: 'UpdateContainerResources succeeds' });
      const afterUpdate = await cgroupLimits(ctx, container, marker);
      ctx.check(sameLimits(afterUpdate, expectedLimits(updated, v2)), { ids: ['CRI-CONTAINER-067'], what: `after the update the cgroup holds the new limits (read from ${afterUpdate.seenFrom})`, expected: expectedLimits(updated, v2), got: afterUpdate });
      const status = await containerStatus(ctx, container.id, { ids: ['CRI-CONTAINER-069'] });
      const now = status.resources?.linux;
      ctx.check(now?.memoryLimitInBytes === updated.memoryLimitInBytes && now.cpuQuota === updated.cpuQuota && now.cpuShares === updated.cpuShares, { ids: ['CRI-CONTAINER-069'], what: 'ContainerStatus.resources.linux reports the updated limits', expected: updated, got: now ?? 'absent' });
    },
  });

  suite.declare({
    ids: ['CRI-CONTAINER-068'],
    title: 'An update naming CPUs the node lacks fails and leaves the limits as they were',
    timeoutMs: 60_000,
    async run(ctx: Ctx) {
      const pod = await runTestPod(ctx);
      const marker = processMarker();
      const container = await startTestContainer(ctx, pod, { command: markedSleeper(marker), resources: initial });
      const v2 = await isCgroupV2(ctx, container.id);
      const bad = await callRuntime(ctx, 'updateContainerResources', { containerId: container.id, linux: LinuxContainerResources.fromPartial({ ...updated, cpusetCpus: '1023' }), annotations: {} });
      ctx.check(!bad.ok, { what: 'UpdateContainerResources with cpuset_cpus 1023 fails', expected: 'an error', got: describeOutcome(bad) });
      const after = await cgroupLimits(ctx, container, marker);
      ctx.check(sameLimits(after, expectedLimits(initial, v2)), { what: 'the container keeps the limits it had (no part of the failed update applied)', expected: expectedLimits(initial, v2), got: after });
    },
  });

  suite.declare({
    ids: ['CRI-CONTAINER-070'],
    title: 'A runtime claiming supplemental group policies reports the user a container started as',
    needs: { capabilities: ['supplemental_groups_policy'] },
    async run(ctx: Ctx) {
      const pod = await runTestPod(ctx);
      const container = await startTestContainer(ctx, pod, { command: ['sleep', '3600'], securityContext: { runAsUser: { value: 1234n }, runAsGroup: { value: 2345n }, supplementalGroups: [3000n] } });
      const status = await containerStatus(ctx, container.id);
      const user = status.user?.linux;
      ctx.check(user?.uid === 1234n && user.gid === 2345n && user.supplementalGroups.includes(3000n), { what: 'ContainerStatus.user.linux reports uid 1234, gid 2345 and group 3000', expected: { uid: 1234, gid: 2345, supplementalGroups: 'includes 3000' }, got: user ?? 'absent' });
    },
  });

  suite.declare({
    ids: ['CRI-CONTAINER-071'],
    title: 'CheckpointContainer answers UNIMPLEMENTED or writes the archive',
    async run(ctx: Ctx) {
      const pod = await runTestPod(ctx);
      const container = await startTestContainer(ctx, pod);
      const location = path.join(hostFolder(ctx, 'kp-checkpoint'), 'checkpoint.tar');
      const answer = await callRuntime(ctx, 'checkpointContainer', { containerId: container.id, location, timeout: 30n }, { extraMs: 30_000 });
      if (!answer.ok) {
        expectStatus(ctx, answer, 'UNIMPLEMENTED', { what: 'a runtime without checkpoints answers UNIMPLEMENTED' });
        return;
      }
      ctx.check(fs.existsSync(location), { what: 'a successful CheckpointContainer wrote the archive to location', expected: location, got: fs.existsSync(location) ? 'written' : 'no file' });
    },
  });
}
