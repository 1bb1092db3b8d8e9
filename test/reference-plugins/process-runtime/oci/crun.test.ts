import fs from 'node:fs';
import path from 'node:path';
import t from 'tap';
import { readCgroupStats } from '../../../../reference-plugins/process-runtime/oci/cgroups.js';
import type { OciSpec } from '../../../../reference-plugins/process-runtime/oci/oci-spec.js';
import { buildExecProcess, ociResourcesFrom } from '../../../../reference-plugins/process-runtime/oci/runtime-spec.js';
import { hasCrun, newTestRuntime, readCriLog, runTestContainer, skipReason, startTestSandbox, waitForExit } from './oci-fixture.js';

// crun (1.8) refuses a hybrid cgroup layout whose v2 hierarchy still holds controllers (here hugetlb, which no v1 hierarchy binds).
function hybridWithV2Controllers(): boolean {
  const controllers = '/sys/fs/cgroup/unified/cgroup.controllers';
  return fs.existsSync('/sys/fs/cgroup/memory') && fs.existsSync(controllers) && fs.readFileSync(controllers, 'utf8').trim() !== '';
}

// The same OciRuntime over crun instead of runc: the CLI verbs and the shim contract hold for both.
const skip =
  skipReason !== false
    ? skipReason
    : !hasCrun
      ? 'needs crun (apt-get install crun)'
      : hybridWithV2Controllers()
        ? 'crun refuses this hybrid cgroup layout (controllers left on the v2 hierarchy: "cgroups in hybrid mode not supported")'
        : false;

t.test('with crun: create, start, CRI log, exit code, state and list', { skip }, async (t) => {
  const env = newTestRuntime(t, 'crun');
  const sandbox = await startTestSandbox(t, env, { namespaces: { network: 'pod', pid: 'pod', ipc: 'pod' } });
  const container = await runTestContainer(t, env, sandbox, { command: ['sh', '-c', 'echo hello from crun; exit 5'], start: false });
  t.equal((await env.runtime.state(container.id))?.status, 'created');
  await env.runtime.start(container.id);
  t.equal((await waitForExit(container)).exitCode, 5);
  t.same(readCriLog(container.logPath).map(({ stream, tag, text }) => [stream, tag, text]), [['stdout', 'F', 'hello from crun']]);
  t.equal((await env.runtime.state(container.id))?.status, 'stopped');
  t.same((await env.runtime.list()).map((entry) => entry.id).sort(), [sandbox.id, container.id].sort());
  await env.runtime.delete(container.id);
  await env.runtime.delete(container.id);
  t.equal(await env.runtime.state(container.id), undefined, 'deleted, twice without error');
});

t.test('with crun: exec, exec timeout, update, stats, SIGKILL → 137, kill after exit', { skip }, async (t) => {
  const env = newTestRuntime(t, 'crun');
  const sandbox = await startTestSandbox(t, env);
  const container = await runTestContainer(t, env, sandbox, { command: ['sleep', '1000'], resources: { memoryLimitInBytes: 64 * 1024 * 1024 } });
  const spec = JSON.parse(fs.readFileSync(path.join(container.bundle, 'config.json'), 'utf8')) as OciSpec;
  const result = await env.runtime.exec(container.id, buildExecProcess(spec.process, ['sh', '-c', 'echo out; echo err >&2; exit 4']), {});
  t.same([result.stdout.toString(), result.stderr.toString(), result.exitCode, result.timedOut], ['out\n', 'err\n', 4, false]);
  const slow = await env.runtime.exec(container.id, buildExecProcess(spec.process, ['sleep', '100']), { timeoutMs: 200 });
  t.equal(slow.timedOut, true, 'the timeout is reported');
  await env.runtime.update(container.id, ociResourcesFrom({ memoryLimitInBytes: 96 * 1024 * 1024 }));
  const stats = await readCgroupStats(container.cgroupsPath, { pid: container.pid });
  t.ok(stats !== undefined && stats.memoryUsageBytes > 0n, 'stats are read from crun\'s cgroup');
  await env.runtime.kill(container.id, 9);
  t.equal((await waitForExit(container)).exitCode, 137);
  await env.runtime.kill(container.id, 'SIGTERM');
  t.pass('kill after exit is no error');
});
