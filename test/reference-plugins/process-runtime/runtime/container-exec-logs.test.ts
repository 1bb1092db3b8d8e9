import fs from 'node:fs';
import path from 'node:path';
import t from 'tap';
import { containerConfig, cri, missingPrerequisites } from './fixtures/runtime-harness.js';
import { run, setUp } from './fixtures/pod-setup.js';

const missing = missingPrerequisites();
if (missing !== undefined) t.plan(0, missing);
// Each test starts a runtime process and real pods; on a loaded 2-core machine a file needs more than tap's default 120 s.
t.setTimeout(300_000);

t.test('ExecSync returns output and exit code, honours its timeout, and needs a running container', async (t) => {
  const { node, client, podSandboxId, config } = await setUp(t);
  const id = await run(client, node, podSandboxId, 'exec', ['sleep', '300'], { envs: [{ key: 'GREETING', value: Buffer.from('hi') }] });
  const out = await cri(client, 'execSync', { containerId: id, cmd: ['sh', '-c', 'echo $GREETING; echo err >&2; exit 7'], timeout: 0n });
  t.equal(out.stdout.toString(), 'hi\n', 'stdout, with the container env');
  t.equal(out.stderr.toString(), 'err\n');
  t.equal(out.exitCode, 7);
  const resolv = await cri(client, 'execSync', { containerId: id, cmd: ['cat', '/etc/resolv.conf'], timeout: 5n });
  t.match(resolv.stdout.toString(), /nameserver 10\.96\.0\.10/, 'resolv.conf from the pod DNS config');
  t.match(resolv.stdout.toString(), /options ndots:5/);
  t.equal((await cri(client, 'execSync', { containerId: id, cmd: ['hostname'], timeout: 5n })).stdout.toString().trim(), config.hostname);
  const started = Date.now();
  await t.rejects(cri(client, 'execSync', { containerId: id, cmd: ['sleep', '30'], timeout: 1n }), { code: 'DEADLINE_EXCEEDED' });
  t.ok(Date.now() - started < 5000, 'the timed-out command was killed');
  await t.rejects(cri(client, 'execSync', { containerId: id, cmd: [], timeout: 1n }), { code: 'INVALID_ARGUMENT', message: /cmd/ });
  await cri(client, 'stopContainer', { containerId: id, timeout: 0n });
  await t.rejects(cri(client, 'execSync', { containerId: id, cmd: ['true'], timeout: 1n }), { code: 'FAILED_PRECONDITION' });
  await t.rejects(cri(client, 'execSync', { containerId: 'f'.repeat(64), cmd: ['true'], timeout: 1n }), { code: 'NOT_FOUND' });
});

t.test('logs go to log_directory/log_path in the CRI format, and ReopenContainerLog starts a new file', async (t) => {
  const { node, client, podSandboxId, config } = await setUp(t);
  const id = await run(client, node, podSandboxId, 'logger', ['sh', '-c', 'i=0; while true; do echo line$i; i=$((i+1)); sleep 0.1; done']);
  const logFile = path.join(config.logDirectory, 'logger.log');
  const status = (await cri(client, 'containerStatus', { containerId: id, verbose: false })).status;
  t.equal(status?.logPath, logFile);
  await new Promise((resolve) => setTimeout(resolve, 400));
  t.match(fs.readFileSync(logFile, 'utf8'), /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d+(Z|[+-]\d\d:\d\d) stdout F line0$/m);
  fs.renameSync(logFile, `${logFile}.1`);
  await cri(client, 'reopenContainerLog', { containerId: id });
  await new Promise((resolve) => setTimeout(resolve, 400));
  t.match(fs.readFileSync(logFile, 'utf8'), /stdout F line\d+/, 'new lines land in the reopened file');
  await cri(client, 'stopContainer', { containerId: id, timeout: 0n });
  await t.rejects(cri(client, 'reopenContainerLog', { containerId: id }), { code: 'FAILED_PRECONDITION' }, 'not running: refused');
});

t.test('CreateContainer refuses a reused name, a missing image and an unknown sandbox', async (t) => {
  const { node, client, podSandboxId, config } = await setUp(t);
  await cri(client, 'createContainer', { podSandboxId, config: containerConfig(node, 'same', ['true']), sandboxConfig: config });
  await t.rejects(cri(client, 'createContainer', { podSandboxId, config: containerConfig(node, 'same', ['true']), sandboxConfig: config }), { code: 'ALREADY_EXISTS' });
  const noImage = containerConfig(node, 'noimage', ['true']);
  noImage.image = { ...noImage.image!, image: 'kubeplug.test/absent:1' };
  await t.rejects(cri(client, 'createContainer', { podSandboxId, config: noImage, sandboxConfig: config }), { code: 'NOT_FOUND', message: /absent/ });
  await t.rejects(cri(client, 'createContainer', { podSandboxId: 'e'.repeat(64), config: containerConfig(node, 'x', ['true']), sandboxConfig: config }), { code: 'NOT_FOUND' });
  await t.rejects(cri(client, 'createContainer', { podSandboxId, config: undefined, sandboxConfig: config }), { code: 'INVALID_ARGUMENT', message: /config/ });
  await t.rejects(cri(client, 'startContainer', { containerId: '' }), { code: 'INVALID_ARGUMENT', message: /container_id/ });
});
