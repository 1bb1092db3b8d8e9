import fs from 'node:fs';
import t from 'tap';
import { readCgroupStats, removeCgroup } from '../../../../reference-plugins/process-runtime/oci/cgroups.js';
import { ociResourcesFrom } from '../../../../reference-plugins/process-runtime/oci/runtime-spec.js';
import { newTestRuntime, runTestContainer, skipReason, startTestSandbox, waitForExit, waitUntil } from './oci-fixture.js';

const skip = skipReason;
const MiB = 1024 * 1024;
const isCgroupV1 = fs.existsSync('/sys/fs/cgroup/memory/memory.stat');

/** The file of a controller for a cgroups path (absolute paths sit at the hierarchy's root, see cgroups.ts). */
function cgroupFile(controller: string, cgroupsPath: string, file: string): string {
  return isCgroupV1 ? `/sys/fs/cgroup/${controller}${cgroupsPath}/${file}` : `/sys/fs/cgroup${cgroupsPath}/${file}`;
}

t.test('a running container has CPU and memory usage in its cgroup stats, and none are read once its cgroup is gone', { skip }, async (t) => {
  const env = newTestRuntime(t);
  const sandbox = await startTestSandbox(t, env);
  const container = await runTestContainer(t, env, sandbox, { command: ['sh', '-c', 'head -c 20000000 /dev/urandom | md5sum; sleep 1000'] });
  let stats = await readCgroupStats(container.cgroupsPath);
  await waitUntil('CPU time is used', async () => {
    stats = await readCgroupStats(container.cgroupsPath);
    return (stats?.cpuUsageNs ?? 0n) > 10_000_000n;
  });
  t.ok(stats !== undefined, 'stats are read');
  t.ok(stats!.memoryUsageBytes > 0n, `memory usage ${stats!.memoryUsageBytes}`);
  t.ok(stats!.workingSetBytes <= stats!.memoryUsageBytes, 'working set ≤ usage');
  t.ok(stats!.pageFaults > 0n, `page faults ${stats!.pageFaults}`);
  t.equal(stats!.oomKills, 0n, 'no OOM kill');
  const byPid = await readCgroupStats(container.cgroupsPath, { pid: container.pid });
  t.ok(byPid !== undefined && byPid.cpuUsageNs >= stats!.cpuUsageNs, 'the same cgroup is found through /proc/<pid>/cgroup');
  await env.runtime.delete(container.id, true);
  await waitForExit(container);
  await removeCgroup(container.cgroupsPath);
  t.equal(await readCgroupStats(container.cgroupsPath), undefined, 'undefined once the cgroup is removed');
  await removeCgroup(container.cgroupsPath);
  t.pass('removeCgroup is idempotent');
});

t.test('the spec\'s limits land in the cgroup, and update changes them on a running container', { skip }, async (t) => {
  const env = newTestRuntime(t);
  const sandbox = await startTestSandbox(t, env);
  const container = await runTestContainer(t, env, sandbox, {
    command: ['sleep', '1000'],
    resources: { memoryLimitInBytes: 64n * BigInt(MiB), cpuShares: 512n, cpuPeriod: 100_000n, cpuQuota: 50_000n },
  });
  const read = (controller: string, file: string): string => fs.readFileSync(cgroupFile(controller, container.cgroupsPath, file), 'utf8').trim();
  if (isCgroupV1) {
    t.equal(read('memory', 'memory.limit_in_bytes'), String(64 * MiB));
    t.equal(read('cpu', 'cpu.shares'), '512');
    t.equal(read('cpu', 'cpu.cfs_quota_us'), '50000');
  } else {
    t.equal(read('', 'memory.max'), String(64 * MiB));
    t.equal(read('', 'cpu.max'), '50000 100000');
  }
  await env.runtime.update(container.id, ociResourcesFrom({ memoryLimitInBytes: 128 * MiB, cpuQuota: 20_000, cpuPeriod: 100_000, cpuShares: 256 }));
  if (isCgroupV1) {
    t.equal(read('memory', 'memory.limit_in_bytes'), String(128 * MiB), 'the memory limit was raised');
    t.equal(read('cpu', 'cpu.shares'), '256', 'the shares changed');
    t.equal(read('cpu', 'cpu.cfs_quota_us'), '20000', 'the quota changed');
  } else {
    t.equal(read('', 'memory.max'), String(128 * MiB), 'the memory limit was raised');
    t.equal(read('', 'cpu.max'), '20000 100000', 'the quota changed');
  }
});

t.test('a container past its memory limit is OOM-killed: exit 137 and an OOM kill in its cgroup stats', { skip }, async (t) => {
  const env = newTestRuntime(t);
  const sandbox = await startTestSandbox(t, env);
  // tail keeps a line in memory until its newline, and /dev/zero never sends one: it grows until the limit.
  const container = await runTestContainer(t, env, sandbox, {
    command: ['tail', '/dev/zero'],
    resources: { memoryLimitInBytes: 16 * MiB, memorySwapLimitInBytes: 16 * MiB },
  });
  const exit = await waitForExit(container, 30_000);
  t.equal(exit.exitCode, 137, 'killed by SIGKILL');
  t.ok((exit.oomKills ?? 0) >= 1, `the exit record counts the OOM kill (${exit.oomKills})`);
  const stats = await readCgroupStats(container.cgroupsPath);
  t.ok(stats !== undefined && stats.oomKills >= 1n, `oom_kill count ${stats?.oomKills}`);
});
