import fs from 'node:fs';
import path from 'node:path';
import t from 'tap';
import { CgroupDriver, PodSandboxState } from '../../../../specs/cri/index.js';
import {
  cleanUpRuntime,
  createTestNode,
  cri,
  missingPrerequisites,
  podConfig,
  runtimeClient,
  startRuntime,
} from './fixtures/runtime-harness.js';

const missing = missingPrerequisites();
if (missing !== undefined) t.plan(0, missing);
// Each test starts a runtime process and real pods; on a loaded 2-core machine a file needs more than tap's default 120 s.
t.setTimeout(300_000);

t.test('Version, Status, RuntimeConfig, UpdateRuntimeConfig, streaming calls for unknown objects, and the unimplemented calls', async (t) => {
  const node = await createTestNode(t);
  await startRuntime(t, node);
  const client = await runtimeClient(t, node);
  t.teardown(() => cleanUpRuntime(t, node, client));

  t.match(await cri(client, 'version', { version: '' }), { runtimeName: 'kubeplug-process-runtime', runtimeApiVersion: 'v1' });
  const ready = await cri(client, 'status', { verbose: true });
  t.match(ready.status?.conditions, [{ type: 'RuntimeReady', status: true }, { type: 'NetworkReady', status: true }]);
  t.ok(ready.info['config'] !== undefined, 'verbose status has info');
  t.equal((await cri(client, 'runtimeConfig', {})).linux?.cgroupDriver, CgroupDriver.CGROUPFS);
  await cri(client, 'updateRuntimeConfig', { runtimeConfig: { networkConfig: { podCidr: '10.244.0.0/24' } } });

  for (const name of fs.readdirSync(node.cniConfDir)) fs.renameSync(path.join(node.cniConfDir, name), path.join(node.dir, name));
  const notReady = await cri(client, 'status', { verbose: false });
  t.match(notReady.status?.conditions, [{ type: 'RuntimeReady', status: true }, { type: 'NetworkReady', status: false, reason: 'NetworkPluginNotReady' }], 'no CNI config: network not ready');
  await t.rejects(cri(client, 'runPodSandbox', { config: podConfig(node), runtimeHandler: '' }), { code: 'FAILED_PRECONDITION', message: /CNI/ });
  t.same(fs.readdirSync(path.join(node.root, 'sandboxes')), [], 'the failed RunPodSandbox left nothing');

  // Streaming calls reach the streaming server, which refuses unknown containers and sandboxes.
  await t.rejects(cri(client, 'exec', { containerId: 'x', cmd: ['sh'], tty: false, stdin: false, stdout: true, stderr: true }), { code: 'NOT_FOUND' });
  await t.rejects(cri(client, 'attach', { containerId: 'x', stdin: false, tty: false, stdout: true, stderr: true }), { code: 'NOT_FOUND' });
  await t.rejects(cri(client, 'portForward', { podSandboxId: 'x', port: [80] }), { code: 'NOT_FOUND' });
  await t.rejects(cri(client, 'checkpointContainer', { containerId: 'x', location: '/tmp/x', timeout: 0n }), { code: 'UNIMPLEMENTED' });
});

t.test('a host-network sandbox has no netns, no CNI and the node hostname; sandbox calls validate and stay idempotent', async (t) => {
  const node = await createTestNode(t);
  await startRuntime(t, node);
  const client = await runtimeClient(t, node);
  t.teardown(() => cleanUpRuntime(t, node, client));

  const config = podConfig(node, { hostNetwork: true });
  config.hostname = '';
  const { podSandboxId } = await cri(client, 'runPodSandbox', { config, runtimeHandler: '' });
  const { status } = await cri(client, 'podSandboxStatus', { podSandboxId, verbose: true });
  t.equal(status?.state, PodSandboxState.SANDBOX_READY);
  t.equal(status?.network?.ip, '', 'no pod IP of its own');
  t.notOk(fs.existsSync(path.join(node.root, 'sandboxes', podSandboxId, 'netns')), 'no netns');
  t.equal(fs.readFileSync(path.join(node.root, 'sandboxes', podSandboxId, 'hostname'), 'utf8').trim(), (await import('node:os')).hostname());

  await t.rejects(cri(client, 'runPodSandbox', { config, runtimeHandler: '' }), { code: 'ALREADY_EXISTS' }, 'a reused sandbox name is refused');
  const second = podConfig(node, { labels: { app: 'other' } });
  const { podSandboxId: other } = await cri(client, 'runPodSandbox', { config: second, runtimeHandler: '' });
  const byLabel = await cri(client, 'listPodSandbox', { filter: { id: '', state: { state: PodSandboxState.SANDBOX_READY }, labelSelector: { app: 'other' } } });
  t.same(byLabel.items.map((i) => i.id), [other], 'filters combine with AND');
  const byId = await cri(client, 'listPodSandbox', { filter: { id: podSandboxId, state: undefined, labelSelector: {} } });
  t.same(byId.items.map((i) => i.id), [podSandboxId]);

  await cri(client, 'stopPodSandbox', { podSandboxId: other });
  await cri(client, 'stopPodSandbox', { podSandboxId: other });
  t.pass('StopPodSandbox twice is OK');
  const notReady = await cri(client, 'listPodSandbox', { filter: { id: '', state: { state: PodSandboxState.SANDBOX_NOTREADY }, labelSelector: {} } });
  t.same(notReady.items.map((i) => i.id), [other]);
  await cri(client, 'removePodSandbox', { podSandboxId: other });
  await cri(client, 'removePodSandbox', { podSandboxId: other });
  await cri(client, 'stopPodSandbox', { podSandboxId: other });
  t.pass('RemovePodSandbox twice, and StopPodSandbox after it, are OK');

  await t.rejects(cri(client, 'podSandboxStatus', { podSandboxId: 'c'.repeat(64), verbose: false }), { code: 'NOT_FOUND' });
  await t.rejects(cri(client, 'runPodSandbox', { config: undefined, runtimeHandler: '' }), { code: 'INVALID_ARGUMENT', message: /config/ });
  const noName = podConfig(node);
  noName.metadata = { ...noName.metadata!, name: '' };
  await t.rejects(cri(client, 'runPodSandbox', { config: noName, runtimeHandler: '' }), { code: 'INVALID_ARGUMENT', message: /config\.metadata\.name/ });
  await t.rejects(cri(client, 'runPodSandbox', { config: podConfig(node), runtimeHandler: 'gvisor' }), { code: 'INVALID_ARGUMENT', message: /runtime_handler/ });
});
