import net from 'node:net';
import os from 'node:os';
import { NamespaceMode, PodSandboxState, Protocol } from '../../specs/cri/index.js';
import type { CaseContext, Suite } from '../framework/index.js';
import { callRuntime } from './cri-calls.js';
import { sandboxStateName, sandboxStatus } from './cri-observe.js';
import type { CriSubject } from './cri-subject.js';
import { requireOk } from './expect-status.js';
import { nodeAddresses, ownNamespace, probeTcp, probeUntilReceived, testHostPort } from './node-network.js';
import { runTestPod, shellOutput, startTestContainer, type TestPod } from './pod-fixtures.js';

type Ctx = CaseContext<CriSubject>;

/** A container command serving `text` to every TCP connection on `port`, on all the container's addresses. */
function tcpServer(port: number, text: string): string[] {
  return ['sh', '-c', `trap 'exit 0' TERM; while :; do echo ${text} | nc -l -p ${port}; done & wait`];
}

/** The IPv4 and IPv6 addresses the container sees on its interfaces. */
async function containerAddresses(ctx: Ctx, containerId: string): Promise<string[]> {
  const output = await shellOutput(ctx, containerId, 'ip -o addr show');
  return [...output.matchAll(/\binet6? ([0-9a-f.:]+)\//gi)].map((match) => match[1] ?? '');
}

/** A pod with a TCP server container on `port`; returns the pod, its IP and the text it serves. */
async function podServing(ctx: Ctx, port: number): Promise<{ pod: TestPod; ip: string; text: string }> {
  const pod = await runTestPod(ctx);
  const text = ctx.uniqueName('kp-hello');
  await startTestContainer(ctx, pod, { command: tcpServer(port, text) });
  const status = await sandboxStatus(ctx, pod.id);
  return { pod, ip: status.network?.ip ?? '', text };
}

/** Declares the sandbox network, host name, DNS, port and sysctl cases. */
export function declareSandboxNetworkCases(suite: Suite<CriSubject>): void {
  suite.declare({
    ids: ['CRI-SANDBOX-010', 'CRI-SANDBOX-011'],
    title: 'A pod-network sandbox has a network namespace of its own and reports an IP its containers see on an interface',
    async run(ctx: Ctx) {
      const pod = await runTestPod(ctx);
      const container = await startTestContainer(ctx, pod);
      const status = await sandboxStatus(ctx, pod.id, { ids: ['CRI-SANDBOX-010'] });
      const ip = status.network?.ip ?? '';
      ctx.check(net.isIP(ip) !== 0, { ids: ['CRI-SANDBOX-010'], what: 'network.ip is a valid IPv4 or IPv6 address', expected: 'an IP address', got: status.network ?? 'no network field' });
      const inside = await shellOutput(ctx, container.id, 'readlink /proc/self/ns/net', { ids: ['CRI-SANDBOX-010'] });
      ctx.check(inside.trim() !== ownNamespace('net'), { ids: ['CRI-SANDBOX-010'], what: "the container's network namespace is not the node's", expected: `not ${ownNamespace('net')}`, got: inside.trim() });
      const addresses = await containerAddresses(ctx, container.id);
      ctx.check(addresses.includes(ip), { ids: ['CRI-SANDBOX-011'], what: 'a container of the sandbox sees network.ip on one of its interfaces', expected: ip, got: addresses });
    },
  });

  suite.declare({
    ids: ['CRI-SANDBOX-012'],
    title: 'A TCP listener in the pod is reachable from the node on the pod IP',
    async run(ctx: Ctx) {
      const { ip, text } = await podServing(ctx, 8080);
      ctx.require(net.isIP(ip) !== 0, { ids: [], what: 'the sandbox reports a pod IP', expected: 'an IP', got: ip });
      const probe = await probeUntilReceived(ip, 8080, text);
      ctx.check(probe.connected && probe.received.includes(text), { what: `a connection from the node to ${ip}:8080 reaches the container`, expected: text, got: probe });
    },
  });

  suite.declare({
    ids: ['CRI-SANDBOX-034'],
    title: 'After StopPodSandbox the pod IP no longer answers from the node',
    async run(ctx: Ctx) {
      const { pod, ip, text } = await podServing(ctx, 8080);
      const before = await probeUntilReceived(ip, 8080, text);
      ctx.require(before.connected && before.received.includes(text), { ids: [], what: 'before the stop, the pod answers on its IP', expected: text, got: before });
      requireOk(ctx, await callRuntime(ctx, 'stopPodSandbox', { podSandboxId: pod.id }, { extraMs: 30_000 }), { what: 'StopPodSandbox succeeds' });
      const after = await probeTcp(ip, 8080, 2000);
      ctx.check(!after.received.includes(text), { what: `after the stop, ${ip}:8080 no longer answers`, expected: 'refused, unreachable or silent', got: after });
    },
  });

  suite.declare({
    ids: ['CRI-SANDBOX-013', 'CRI-SANDBOX-017'],
    title: "A host-network sandbox's containers are in the node's network namespace and keep the node's host name",
    async run(ctx: Ctx) {
      const pod = await runTestPod(ctx, { namespaces: { network: NamespaceMode.NODE } });
      const container = await startTestContainer(ctx, pod);
      const inside = await shellOutput(ctx, container.id, 'readlink /proc/self/ns/net', { ids: ['CRI-SANDBOX-013'] });
      ctx.check(inside.trim() === ownNamespace('net'), { ids: ['CRI-SANDBOX-013'], what: "the container's network namespace is the node's", expected: ownNamespace('net'), got: inside.trim() });
      const hostname = await shellOutput(ctx, container.id, 'hostname', { ids: ['CRI-SANDBOX-017'] });
      ctx.check(hostname.trim() === os.hostname(), { ids: ['CRI-SANDBOX-017'], what: "the container reports the node's host name", expected: os.hostname(), got: hostname.trim() });
    },
  });

  suite.declare({
    ids: ['CRI-SANDBOX-014', 'CRI-SANDBOX-016'],
    title: "Two containers of a sandbox share its network namespace (loopback sockets) and report the sandbox's host name",
    async run(ctx: Ctx) {
      const hostname = `kp-host-${Math.random().toString(36).slice(2, 8)}`;
      const pod = await runTestPod(ctx, { hostname });
      const text = ctx.uniqueName('kp-loopback');
      const server = await startTestContainer(ctx, pod, { command: tcpServer(8081, text) });
      const client = await startTestContainer(ctx, pod);
      let received = '';
      for (let attempt = 0; attempt < 20 && !received.includes(text); attempt += 1) {
        received = await shellOutput(ctx, client.id, 'nc 127.0.0.1 8081 </dev/null || true', { ids: ['CRI-SANDBOX-014'] });
        if (!received.includes(text)) await new Promise((resolve) => setTimeout(resolve, 250));
      }
      ctx.check(received.includes(text), { ids: ['CRI-SANDBOX-014'], what: "one container reaches the other's listener on 127.0.0.1:8081", expected: text, got: received });
      for (const [label, container] of [['first', server], ['second', client]] as const) {
        const name = await shellOutput(ctx, container.id, 'hostname', { ids: ['CRI-SANDBOX-016'] });
        ctx.check(name.trim() === hostname, { ids: ['CRI-SANDBOX-016'], what: `the ${label} container reports the configured host name`, expected: hostname, got: name.trim() });
      }
    },
  });

  suite.declare({
    ids: ['CRI-SANDBOX-021', 'CRI-SANDBOX-022', 'CRI-SANDBOX-023'],
    title: "The sandbox's DNS servers, searches and options are in its containers' /etc/resolv.conf",
    async run(ctx: Ctx) {
      const dnsConfig = { servers: ['10.96.0.10', '10.96.0.11'], searches: ['kp.svc.cluster.local', 'svc.cluster.local'], options: ['ndots:5', 'timeout:2'] };
      const pod = await runTestPod(ctx, { dnsConfig });
      const container = await startTestContainer(ctx, pod);
      const text = await shellOutput(ctx, container.id, 'cat /etc/resolv.conf');
      const lines = text.split('\n').map((line) => line.trim().split(/\s+/));
      const servers = lines.filter((words) => words[0] === 'nameserver').map((words) => words[1]);
      const search = lines.filter((words) => words[0] === 'search').flatMap((words) => words.slice(1));
      const options = lines.filter((words) => words[0] === 'options').flatMap((words) => words.slice(1));
      ctx.check(servers.join(' ') === dnsConfig.servers.join(' '), { ids: ['CRI-SANDBOX-021'], what: 'the nameserver lines are the configured servers, in order', expected: dnsConfig.servers, got: text });
      ctx.check(search.join(' ') === dnsConfig.searches.join(' '), { ids: ['CRI-SANDBOX-022'], what: 'the search line holds the configured domains, in order', expected: dnsConfig.searches, got: text });
      ctx.check(dnsConfig.options.every((option) => options.includes(option)), { ids: ['CRI-SANDBOX-023'], what: 'the options line holds the configured options', expected: dnsConfig.options, got: text });
    },
  });

  suite.declare({
    ids: ['CRI-SANDBOX-024'],
    title: 'A port mapping forwards a host port on the node to the container port',
    async run(ctx: Ctx) {
      const hostPort = testHostPort();
      const pod = await runTestPod(ctx, { portMappings: [{ protocol: Protocol.TCP, containerPort: 8080, hostPort, hostIp: '' }] });
      const text = ctx.uniqueName('kp-hostport');
      await startTestContainer(ctx, pod, { command: tcpServer(8080, text) });
      const tried: Record<string, unknown> = {};
      let reached = false;
      for (const address of nodeAddresses()) {
        const probe = await probeUntilReceived(address, hostPort, text, address === '127.0.0.1' ? 5000 : 3000);
        tried[address] = probe;
        if (probe.received.includes(text)) {
          reached = true;
          break;
        }
      }
      ctx.check(reached, { what: `a connection to host port ${hostPort} on the node reaches container port 8080`, expected: text, got: tried });
    },
  });

  suite.declare({
    ids: ['CRI-SANDBOX-025'],
    title: 'A port mapping with host port 0 is accepted and the sandbox runs',
    async run(ctx: Ctx) {
      const pod = await runTestPod(ctx, { portMappings: [{ protocol: Protocol.TCP, containerPort: 8080, hostPort: 0, hostIp: '' }] }, { ids: ['CRI-SANDBOX-025'] });
      const status = await sandboxStatus(ctx, pod.id);
      ctx.check(status.state === PodSandboxState.SANDBOX_READY, { what: 'the sandbox with a host port 0 mapping is ready', expected: 'SANDBOX_READY', got: sandboxStateName(status.state) });
    },
  });

  suite.declare({
    ids: ['CRI-SANDBOX-026'],
    title: "The sandbox's namespaced sysctls hold inside its containers",
    async run(ctx: Ctx) {
      const sysctls = { 'net.ipv4.ip_unprivileged_port_start': '1000', 'kernel.shm_rmid_forced': '1' };
      const pod = await runTestPod(ctx, { sysctls });
      const container = await startTestContainer(ctx, pod);
      for (const [key, value] of Object.entries(sysctls)) {
        const got = await shellOutput(ctx, container.id, `cat /proc/sys/${key.replaceAll('.', '/')}`);
        ctx.check(got.trim() === value, { what: `${key} reads ${value} inside the container`, expected: value, got: got.trim() });
      }
    },
  });
}
