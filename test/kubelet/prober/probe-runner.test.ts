import http from 'node:http';
import net from 'node:net';
import { once } from 'node:events';
import type { AddressInfo } from 'node:net';
import { Server, ServerCredentials, type sendUnaryData, type ServerUnaryCall } from '@grpc/grpc-js';
import t, { type Test } from 'tap';
import type { Container } from '../../../kubelet/api/pod-types.js';
import { healthServiceDefinition } from '../../../kubelet/prober/grpc-health.js';
import { resolveContainerPort, runGrpcProbe, runHttpGet, runProbeHandler, runTcpConnect } from '../../../kubelet/prober/probe-runner.js';
import type { RuntimeServiceClient } from '../../../specs/cri/index.js';

// Real servers on the loopback: what a probe sees is what a pod would answer.

async function startHttp(t: Test, handler: http.RequestListener): Promise<number> {
  const server = http.createServer(handler);
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  t.teardown(() => {
    server.closeAllConnections();
    server.close();
  });
  return (server.address() as AddressInfo).port;
}

const container: Container = { name: 'web', image: 'busybox', ports: [{ name: 'http', containerPort: 8080 }] };
const noRuntime = {} as RuntimeServiceClient;

t.test('httpGet succeeds on 200..399 and fails on other status codes', async (t) => {
  const port = await startHttp(t, (request, response) => {
    const code = Number(request.url?.slice(1));
    response.writeHead(code, code >= 300 && code < 400 ? { Location: 'http://elsewhere.invalid/' } : {});
    response.end(`status ${code}`);
  });
  for (const [code, outcome] of [[200, 'success'], [204, 'success'], [302, 'success'], [399, 'success'], [400, 'failure'], [404, 'failure'], [500, 'failure']] as const) {
    const attempt = await runHttpGet({ scheme: 'HTTP', host: '127.0.0.1', port, path: `/${code}`, headers: [], timeoutMs: 1000 });
    t.equal(attempt.outcome, outcome, `${code} is ${outcome}`);
    if (outcome === 'failure') t.equal(attempt.output, `HTTP probe failed with statuscode: ${code}`);
  }
});

t.test('httpGet sends the path, the headers, kube-probe as User-Agent, and the Host header as the request host', async (t) => {
  let seen: http.IncomingHttpHeaders = {};
  let path = '';
  const port = await startHttp(t, (request, response) => {
    seen = request.headers;
    path = request.url ?? '';
    response.end('ok');
  });
  const attempt = await runHttpGet({ scheme: 'HTTP', host: '127.0.0.1', port, path: 'healthz?x=1', headers: [{ name: 'X-Probe', value: 'yes' }, { name: 'Host', value: 'example.test' }], timeoutMs: 1000 });
  t.equal(attempt.outcome, 'success');
  t.equal(path, '/healthz?x=1');
  t.equal(seen['x-probe'], 'yes');
  t.equal(seen.host, 'example.test');
  t.match(seen['user-agent'], /^kube-probe\//);
});

t.test('httpGet that outlives its timeout is a failure', async (t) => {
  const port = await startHttp(t, () => {
    // Never answers.
  });
  const started = Date.now();
  const attempt = await runHttpGet({ scheme: 'HTTP', host: '127.0.0.1', port, path: '/', headers: [], timeoutMs: 300 });
  t.equal(attempt.outcome, 'failure');
  t.ok(Date.now() - started < 2000, 'gave up near the timeout');
});

t.test('httpGet defaults its host to the pod IP and resolves a named port', async (t) => {
  const port = await startHttp(t, (_request, response) => response.end('fine'));
  const named: Container = { name: 'web', image: 'busybox', ports: [{ name: 'probe', containerPort: port }] };
  const attempt = await runProbeHandler(noRuntime, { httpGet: { port: 'probe', path: '/' } }, { container: named, containerId: 'c1', podIp: '127.0.0.1', timeoutSeconds: 1 });
  t.same(attempt, { outcome: 'success', output: 'fine' });
});

t.test('a named port the container does not declare fails the probe, naming the port', async (t) => {
  t.throws(() => resolveContainerPort('metrics', container), /metrics/);
  t.equal(resolveContainerPort('http', container), 8080);
  t.equal(resolveContainerPort(81, container), 81);
  const attempt = await runProbeHandler(noRuntime, { tcpSocket: { port: 'metrics' } }, { container, containerId: 'c1', podIp: '127.0.0.1', timeoutSeconds: 1 });
  t.equal(attempt.outcome, 'failure');
  t.match(attempt.output, /metrics/);
});

t.test('tcpSocket succeeds when a connection opens and fails when it is refused', async (t) => {
  const server = net.createServer((socket) => socket.end());
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const port = (server.address() as AddressInfo).port;
  t.equal((await runTcpConnect('127.0.0.1', port, 1000)).outcome, 'success');
  server.close();
  await once(server, 'close');
  const refused = await runTcpConnect('127.0.0.1', port, 1000);
  t.equal(refused.outcome, 'failure');
  t.match(refused.output, /ECONNREFUSED/);
});

async function startHealthServer(t: Test, statusFor: (service: string) => number | 'hang'): Promise<number> {
  const server = new Server();
  server.addService(healthServiceDefinition, {
    Check: (call: ServerUnaryCall<{ service: string }, { status: number }>, callback: sendUnaryData<{ status: number }>) => {
      const status = statusFor(call.request.service);
      if (status !== 'hang') callback(null, { status });
    },
  });
  const port = await new Promise<number>((resolve, reject) => server.bindAsync('127.0.0.1:0', ServerCredentials.createInsecure(), (error, bound) => (error ? reject(error) : resolve(bound))));
  t.teardown(() => server.forceShutdown());
  return port;
}

t.test('grpc succeeds on SERVING and fails on NOT_SERVING, an unknown service or no answer in time', async (t) => {
  const port = await startHealthServer(t, (service) => (service === '' ? 1 : service === 'down' ? 2 : service === 'slow' ? 'hang' : 3));
  t.same(await runGrpcProbe('127.0.0.1', port, '', 1000), { outcome: 'success', output: '' });
  const down = await runGrpcProbe('127.0.0.1', port, 'down', 1000);
  t.same(down, { outcome: 'failure', output: 'service unhealthy (responded with "NOT_SERVING")' });
  t.equal((await runGrpcProbe('127.0.0.1', port, 'other', 1000)).outcome, 'failure');
  const slow = await runGrpcProbe('127.0.0.1', port, 'slow', 300);
  t.equal(slow.outcome, 'failure');
  t.match(slow.output, /timeout/);
});

t.test('grpc fails when nothing listens', async (t) => {
  const server = net.createServer();
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const port = (server.address() as AddressInfo).port;
  server.close();
  await once(server, 'close');
  t.equal((await runGrpcProbe('127.0.0.1', port, '', 1000)).outcome, 'failure');
});

t.test('exec runs through ExecSync with timeoutSeconds; exit 0 succeeds, another exit or DEADLINE_EXCEEDED fails', async (t) => {
  const requests: unknown[] = [];
  const answers: ({ exitCode: number; out: string } | { code: number })[] = [{ exitCode: 0, out: 'fine' }, { exitCode: 1, out: 'broken' }, { code: 4 }];
  const runtime = {
    execSync(request: unknown, _metadata: unknown, _options: unknown, callback: (error: unknown, response?: unknown) => void) {
      requests.push(request);
      const answer = answers.shift();
      if (answer !== undefined && 'code' in answer) callback(Object.assign(new Error('deadline'), { code: answer.code, details: 'deadline', metadata: {} }));
      else callback(null, { stdout: Buffer.from(answer?.out ?? ''), stderr: Buffer.alloc(0), exitCode: answer?.exitCode ?? 0 });
      return { cancel() {} };
    },
  } as unknown as RuntimeServiceClient;
  const target = { container, containerId: 'abc', podIp: undefined, timeoutSeconds: 3 };
  t.same(await runProbeHandler(runtime, { exec: { command: ['cat', '/tmp/healthy'] } }, target), { outcome: 'success', output: 'fine' });
  t.same(await runProbeHandler(runtime, { exec: { command: ['false'] } }, target), { outcome: 'failure', output: 'broken' });
  const timedOut = await runProbeHandler(runtime, { exec: { command: ['sleep', '10'] } }, target);
  t.equal(timedOut.outcome, 'failure');
  t.match(timedOut.output, /timed out/);
  t.same(requests[0], { containerId: 'abc', cmd: ['cat', '/tmp/healthy'], timeout: 3n });
});
