/**
 * kubeplug-cni-agent and the exec shim: calls reach the agent of the
 * caller's network namespace, results equal a standalone run's, a caller
 * from elsewhere or a broken client is refused, and the shim falls back or
 * reports code 11 when the agent is absent or goes away.
 */
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import t from 'tap';
import { agentSocketPath, execServerSocketPath } from '../../../reference-plugins/host-local-bridge/node-agent/agent-socket.js';
import { decodeResponse, encodeRequest } from '../../../reference-plugins/host-local-bridge/node-agent/agent-protocol.js';
import { packageRoot } from '../../../specs/registry/index.js';
import {
  bridgeConf,
  callPlugin,
  callPluginFailing,
  createNamespace,
  createNode,
  missingPrerequisites,
  observeLink,
  observeVeths,
  reservedAddresses,
  type TestLike,
  type TestNode,
} from '../bridge/fixtures/bridge-harness.js';

const agentEntry = path.join(packageRoot(), 'dist/reference-plugins/host-local-bridge/node-agent/kubeplug-cni-agent.js');
const shimBuilt = fs.existsSync(path.join(packageRoot(), 'dist/cni-bin/kubeplug-bridge')) && !fs.lstatSync(path.join(packageRoot(), 'dist/cni-bin/kubeplug-bridge')).isSymbolicLink();
const skip = missingPrerequisites() ?? (shimBuilt ? false : 'needs the compiled exec shim (a C compiler at build time)');

interface RunningAgent {
  readonly child: ChildProcess;
  readonly dir: string;
  /** Everything the agent logged so far. */
  log(): string;
}

/** Starts kubeplug-cni-agent in the node namespace and stops it, by pid, in teardown. */
async function startAgent(t: TestLike, node: TestNode, dir = path.join(node.dir, 'agent')): Promise<RunningAgent> {
  const child = spawn('nsenter', [`--net=${node.ns.path}`, '--', process.execPath, agentEntry, '--dir', dir], { stdio: ['ignore', 'pipe', 'pipe'] });
  t.teardown(async () => {
    if (child.exitCode !== null || child.signalCode !== null) return;
    child.kill('SIGKILL');
    await once(child, 'exit');
  });
  let stderr = '';
  child.stderr?.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
  const [line] = (await Promise.race([once(child.stdout!, 'data'), once(child, 'exit').then(() => [`exited: ${stderr}`])])) as [Buffer | string];
  if (!String(line).includes('serving')) throw new Error(`the agent did not start: ${String(line)}`);
  return { child, dir, log: () => stderr };
}

const agentEnv = (dir: string): Record<string, string> => ({ KUBEPLUG_CNI_AGENT_DIR: dir });
const ourConf = (node: TestNode): ReturnType<typeof bridgeConf> => bridgeConf(node, { ipamType: 'kubeplug-host-local' });

t.test('with an agent in the node namespace, ADD, CHECK, DEL and DEL again are served by it', { skip }, async (t) => {
  const node = await createNode(t);
  const container = await createNamespace(t, 'pod');
  const agent = await startAgent(t, node);
  const conf = ourConf(node);
  const env = agentEnv(agent.dir);
  const add = await callPlugin(node, { verb: 'ADD', conf, netns: container.path, env });
  const ips = (add.result as { ips?: { address: string }[] }).ips ?? [];
  t.equal(ips[0]?.address, '10.88.0.2/24', 'the first address of the range');
  t.match((await observeLink(container, 'eth0'))?.addr_info?.map((info) => info.local), ['10.88.0.2'], 'eth0 holds it in the container');
  await callPlugin(node, { verb: 'CHECK', conf: { ...conf, prevResult: add.result }, netns: container.path, env });
  await callPlugin(node, { verb: 'DEL', conf, netns: container.path, env });
  await callPlugin(node, { verb: 'DEL', conf, netns: container.path, env });
  t.same(await observeVeths(node.ns), [], 'no veth left on the node');
  t.same(reservedAddresses(node), [], 'the address is released');
  const served = agent.log().split('\n').filter((line) => line.includes('kubeplug-bridge')).map((line) => / kubeplug-bridge (\w+) .* exit=(\d+)/.exec(line)?.slice(1).join(' '));
  t.same(served, ['ADD 0', 'CHECK 0', 'DEL 0', 'DEL 0'], 'every call went through the agent');
});

t.test('through the agent (pair made while the bridge is read), failed ADDs leave nothing: a bridge name taken by a veth, a CNI_IFNAME taken in the pod', { skip }, async (t) => {
  const node = await createNode(t);
  const container = await createNamespace(t, 'pod');
  const agent = await startAgent(t, node);
  const env = agentEnv(agent.dir);
  t.ok(fs.existsSync(execServerSocketPath(agent.dir, fs.statSync(node.ns.path).ino)), 'the exec server serves, so ADD takes its concurrent path');
  await node.ns.exec('ip', ['link', 'add', 'kpbr0', 'type', 'veth', 'peer', 'name', 'kpbr0peer']);
  const notBridge = await callPluginFailing(node, { verb: 'ADD', conf: ourConf(node), netns: container.path, env });
  t.equal(notBridge.code, 7);
  t.equal(notBridge.msg, 'failed to create bridge "kpbr0": "kpbr0" already exists but is not a bridge');
  t.same((await observeVeths(node.ns)).map((veth) => veth.ifname).sort(), ['kpbr0', 'kpbr0peer'], 'the pair this ADD made is gone');
  t.equal(await observeLink(container, 'eth0'), undefined, 'no eth0 in the pod');
  t.same(reservedAddresses(node), [], 'the address IPAM gave meanwhile is released');
  await node.ns.exec('ip', ['link', 'del', 'kpbr0']);

  await container.exec('ip', ['link', 'add', 'eth0', 'type', 'veth', 'peer', 'name', 'eth0peer']);
  const taken = await callPluginFailing(node, { verb: 'ADD', conf: ourConf(node), netns: container.path, env });
  t.equal(taken.code, 4);
  t.match(taken.msg, /^container veth name \("eth0"\) peer provided \("veth[0-9a-f]{8}"\) already exists$/);
  t.same(await observeVeths(node.ns), [], 'no veth on the node');
  t.same(reservedAddresses(node), [], 'no address stays reserved');
  t.match(agent.log(), /kubeplug-bridge ADD .* exit=1/, 'both went through the agent');
});

t.test('without an agent the shim runs the plugin standalone, with the same result', { skip }, async (t) => {
  const node = await createNode(t);
  const container = await createNamespace(t, 'pod');
  const env = agentEnv(path.join(node.dir, 'no-agent-here'));
  const add = await callPlugin(node, { verb: 'ADD', conf: ourConf(node), netns: container.path, env });
  t.equal((add.result as { ips?: { address: string }[] }).ips?.[0]?.address, '10.88.0.2/24');
  await callPlugin(node, { verb: 'DEL', conf: ourConf(node), netns: container.path, env });
  t.same(reservedAddresses(node), [], 'the address is released');
  t.notOk(fs.existsSync(path.join(node.dir, 'no-agent-here')), 'the shim creates nothing when no agent runs');
});

/** Sends raw bytes to a socket and resolves to all it answered before closing. */
async function exchange(socketPath: string, bytes: Buffer): Promise<Buffer> {
  const socket = net.connect(socketPath);
  await once(socket, 'connect');
  const chunks: Buffer[] = [];
  socket.on('data', (chunk: Buffer) => chunks.push(chunk));
  socket.end(bytes);
  await once(socket, 'close');
  return Buffer.concat(chunks);
}

t.test('the agent refuses a caller from another network namespace with error JSON', { skip }, async (t) => {
  const node = await createNode(t);
  const agent = await startAgent(t, node);
  const socketPath = agentSocketPath(agent.dir, fs.statSync(node.ns.path).ino);
  // This test process runs in the machine's namespace: the agent must not act for it.
  const answer = decodeResponse(
    await exchange(socketPath, encodeRequest({ pluginType: 'kubeplug-bridge', callerPid: process.pid, env: { CNI_COMMAND: 'STATUS' }, stdin: JSON.stringify(ourConf(node)) })),
  );
  t.equal(answer.exitCode, 1);
  const error = JSON.parse(answer.stdout) as { code: number; msg: string };
  t.equal(error.code, 999);
  t.match(error.msg, /another network namespace/);
});

t.test('the agent drops a malformed request and goes on serving', { skip }, async (t) => {
  const node = await createNode(t);
  const container = await createNamespace(t, 'pod');
  const agent = await startAgent(t, node);
  const socketPath = agentSocketPath(agent.dir, fs.statSync(node.ns.path).ino);
  t.equal((await exchange(socketPath, Buffer.from('GET / HTTP/1.0\r\n\r\n'))).length, 0, 'no answer to a stranger');
  t.equal((await exchange(socketPath, encodeRequest({ pluginType: 'kubeplug-bridge', callerPid: 1, env: {}, stdin: '' }).subarray(0, 20))).length, 0, 'no answer to a truncated request');
  t.match(agent.log(), /refused a malformed request/);
  const add = await callPlugin(node, { verb: 'ADD', conf: ourConf(node), netns: container.path, env: agentEnv(agent.dir) });
  t.ok((add.result as { ips?: unknown[] }).ips?.length, 'a real call still works');
  await callPlugin(node, { verb: 'DEL', conf: ourConf(node), netns: container.path, env: agentEnv(agent.dir) });
});

t.test('one agent per namespace: a second refuses to start, a dead one\'s socket is taken over, SIGTERM removes it', { skip }, async (t) => {
  const node = await createNode(t);
  const first = await startAgent(t, node);
  const socketPath = agentSocketPath(first.dir, fs.statSync(node.ns.path).ino);
  await t.rejects(startAgent(t, node, first.dir), /already serves this network namespace/);
  first.child.kill('SIGKILL');
  await once(first.child, 'exit');
  t.ok(fs.existsSync(socketPath), 'a killed agent leaves its socket');
  const second = await startAgent(t, node, first.dir);
  second.child.kill('SIGTERM');
  const [code] = (await once(second.child, 'exit')) as [number | null];
  t.equal(code, 0, 'SIGTERM is a clean stop');
  t.notOk(fs.existsSync(socketPath), 'and removes the socket');
});

t.test('the shim reports code 11 when the agent closes without answering', { skip }, async (t) => {
  const node = await createNode(t);
  const container = await createNamespace(t, 'pod');
  const dir = path.join(node.dir, 'fake-agent');
  fs.mkdirSync(dir);
  // A stand-in agent that takes the call and hangs up: as an agent killed mid-call looks to the shim.
  const server = net.createServer({ allowHalfOpen: true }, (socket) => {
    socket.on('data', () => {});
    socket.on('end', () => socket.destroy());
  });
  await new Promise<void>((resolve) => server.listen(agentSocketPath(dir, fs.statSync(node.ns.path).ino), resolve));
  t.teardown(() => new Promise<void>((resolve) => server.close(() => resolve())));
  const error = await callPluginFailing(node, { verb: 'ADD', conf: ourConf(node), netns: container.path, env: agentEnv(dir) });
  t.equal(error.code, 11, 'TRY_AGAIN_LATER');
  t.match(error.msg, /went away before answering/);
});

t.test('a DEL after a shim killed mid-ADD waits for the ADD the agent finishes, then removes all of it', { skip }, async (t) => {
  const node = await createNode(t);
  const container = await createNamespace(t, 'pod');
  const agent = await startAgent(t, node);
  // The ADD's PATH starts with an iproute2 that waits 400 ms first: the DEL surely arrives before the ADD made
  // anything, the case where a DEL that did not wait would find nothing and the ADD would then leave it all behind.
  const slowTools = path.join(node.dir, 'slow-tools');
  fs.mkdirSync(slowTools);
  const ip = execFileSync('sh', ['-c', 'command -v ip'], { encoding: 'utf8' }).trim();
  fs.writeFileSync(path.join(slowTools, 'ip'), `#!/bin/sh\nsleep 0.4\nexec '${ip}' "$@"\n`, { mode: 0o755 });
  const conf = ourConf(node);
  const shim = spawn('nsenter', [`--net=${node.ns.path}`, path.join(node.binDir, 'kubeplug-bridge')], {
    env: { PATH: `${slowTools}:${process.env['PATH'] ?? '/usr/sbin:/usr/bin:/sbin:/bin'}`, CNI_COMMAND: 'ADD', CNI_CONTAINERID: 'ctr1', CNI_NETNS: container.path, CNI_IFNAME: 'eth0', CNI_PATH: node.binDir, ...agentEnv(agent.dir) },
    stdio: ['pipe', 'ignore', 'ignore'],
  });
  shim.stdin.end(JSON.stringify(conf));
  // Kill the shim once the agent has the call, while the ADD waits on its first iproute2 command.
  await new Promise((resolve) => setTimeout(resolve, 150));
  shim.kill('SIGKILL');
  await once(shim, 'exit');
  await callPlugin(node, { verb: 'DEL', conf, netns: container.path, env: agentEnv(agent.dir) });
  // Judge once the agent has finished the ADD too, wherever it ended up in the order.
  for (let waited = 0; !/kubeplug-bridge ADD container=ctr1/.test(agent.log()) && waited < 10_000; waited += 50) await new Promise((resolve) => setTimeout(resolve, 50));
  t.match(agent.log(), /kubeplug-bridge ADD container=ctr1 .*exit=0[^]*kubeplug-bridge DEL container=ctr1 .*exit=0/, 'the agent finished the ADD, then ran the DEL');
  t.same(await observeVeths(node.ns), [], 'no veth left on the node');
  t.equal(await observeLink(container, 'eth0'), undefined, 'no eth0 left in the container');
  t.same(reservedAddresses(node), [], 'no address left reserved');
});
