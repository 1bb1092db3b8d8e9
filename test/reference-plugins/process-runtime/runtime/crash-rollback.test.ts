import fs from 'node:fs';
import path from 'node:path';
import t from 'tap';
import { PodSandboxState } from '../../../../specs/cri/index.js';
import {
  cleanUpRuntime,
  containerConfig,
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

t.test('a restart rolls back a sandbox and a container whose creation a crash cut short (records still marked creating)', async (t) => {
  const node = await createTestNode(t);
  const first = await startRuntime(t, node);
  const firstClient = await runtimeClient(t, node);
  const config = podConfig(node);
  const { podSandboxId } = await cri(firstClient, 'runPodSandbox', { config, runtimeHandler: '' });
  const { containerId } = await cri(firstClient, 'createContainer', { podSandboxId, config: containerConfig(node, 'half', ['sleep', '300']), sandboxConfig: config });
  const kept = podConfig(node);
  const { podSandboxId: keptId } = await cri(firstClient, 'runPodSandbox', { config: kept, runtimeHandler: '' });
  const { containerId: halfInKept } = await cri(firstClient, 'createContainer', { podSandboxId: keptId, config: containerConfig(node, 'half', ['sleep', '300']), sandboxConfig: kept });
  firstClient.close();
  await first.crash();
  // As if the crash had come before the last record write of RunPodSandbox and CreateContainer.
  const markCreating = (file: string): void => {
    const record = JSON.parse(fs.readFileSync(file, 'utf8')) as { phase: string };
    fs.writeFileSync(file, JSON.stringify({ ...record, phase: 'creating' }));
  };
  markCreating(path.join(node.root, 'sandboxes', podSandboxId, 'sandbox.json'));
  markCreating(path.join(node.root, 'containers', halfInKept, 'container.json'));

  await startRuntime(t, node);
  const client = await runtimeClient(t, node);
  t.teardown(() => cleanUpRuntime(t, node, client));
  await t.rejects(cri(client, 'podSandboxStatus', { podSandboxId, verbose: false }), { code: 'NOT_FOUND' }, 'the half-made sandbox is gone');
  await t.rejects(cri(client, 'containerStatus', { containerId, verbose: false }), { code: 'NOT_FOUND' }, 'with its container');
  await t.rejects(cri(client, 'containerStatus', { containerId: halfInKept, verbose: false }), { code: 'NOT_FOUND' }, 'the half-made container is gone');
  t.notOk(fs.existsSync(path.join(node.root, 'sandboxes', podSandboxId)), 'its folder, netns mount and pause are gone');
  t.notOk(fs.existsSync(path.join(node.root, 'containers', halfInKept)), 'the container folder and overlay are gone');
  t.equal((await cri(client, 'podSandboxStatus', { podSandboxId: keptId, verbose: false })).status?.state, PodSandboxState.SANDBOX_READY, 'the other sandbox is kept');
  const { podSandboxId: again } = await cri(client, 'runPodSandbox', { config, runtimeHandler: '' });
  t.not(again, podSandboxId, 'the rolled-back sandbox name is free again');
});
