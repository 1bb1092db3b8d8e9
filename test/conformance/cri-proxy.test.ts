import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import type { ServerWritableStream } from '@grpc/grpc-js';
import t, * as Tap from 'tap';
import { startCriProxy, type CriOverrides } from '../../conformance/fixtures/cri-runtime/cri-proxy.js';
import {
  ContainerEventResponse,
  ContainerEventType,
  GetEventsRequest,
  GrpcStatusError,
  RuntimeServiceClient,
  RuntimeServiceService,
  bindService,
  callUnary,
  createClient,
  serve,
} from '../../specs/cri/index.js';

/** A small upstream runtime: Version answers, and events stream two messages then end (or fail). */
async function startUpstream(t: Tap.Test, dir: string, events: 'two' | 'fail') {
  const binding = bindService(RuntimeServiceService, {
    version: async () => ({ version: '0.1.0', runtimeName: 'upstream', runtimeVersion: '1', runtimeApiVersion: 'v1' }),
    status: async () => {
      throw new GrpcStatusError({ code: 'UNAVAILABLE', message: 'runtime down for the test' });
    },
  });
  const getContainerEvents = (call: ServerWritableStream<GetEventsRequest, ContainerEventResponse>): void => {
    if (events === 'fail') {
      call.emit('error', new GrpcStatusError({ code: 'RESOURCE_EXHAUSTED', message: 'too many watchers' }).toServiceError());
      return;
    }
    for (const id of ['c1', 'c2']) {
      call.write(
        ContainerEventResponse.fromPartial({ containerId: id, containerEventType: ContainerEventType.CONTAINER_STARTED_EVENT, createdAt: 1n }),
      );
    }
    call.end();
  };
  const server = await serve({
    endpoint: `unix://${path.join(dir, 'upstream.sock')}`,
    services: [{ definition: binding.definition, handlers: { ...binding.handlers, getContainerEvents } }],
  });
  t.teardown(() => server.close());
  return `unix://${server.socketPath}`;
}

async function proxyOver(t: Tap.Test, options: { overrides?: CriOverrides; events?: 'two' | 'fail' } = {}) {
  const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'kp-cri-proxy-'));
  t.teardown(() => fs.rm(dir, { recursive: true, force: true }));
  const upstream = await startUpstream(t, dir, options.events ?? 'two');
  const endpoint = `unix://${path.join(dir, 'proxy.sock')}`;
  const proxy = await startCriProxy({ endpoint, upstream, ...(options.overrides === undefined ? {} : { overrides: options.overrides }) });
  t.teardown(() => proxy.close());
  const runtime = createClient(RuntimeServiceClient, endpoint);
  t.teardown(() => runtime.close());
  return runtime;
}

/** Every message of a server stream, or the error that ended it. */
function readEvents(runtime: RuntimeServiceClient): Promise<{ messages: ContainerEventResponse[]; error?: unknown }> {
  return new Promise((resolve) => {
    const messages: ContainerEventResponse[] = [];
    const stream = runtime.getContainerEvents({});
    stream.on('data', (message: ContainerEventResponse) => messages.push(message));
    stream.on('end', () => resolve({ messages }));
    stream.on('error', (error) => resolve({ messages, error }));
  });
}

t.test('a unary call without an override is forwarded and answered unchanged', async (t) => {
  const runtime = await proxyOver(t);
  t.match(await callUnary(runtime, runtime.version, { version: '0.1.0' }), { runtimeName: 'upstream', runtimeApiVersion: 'v1' });
});

t.test('an upstream status reaches the client with its code and message', async (t) => {
  const runtime = await proxyOver(t);
  const error = await callUnary(runtime, runtime.status, { verbose: false }).catch((thrown: unknown) => thrown);
  t.match(error, { code: 'UNAVAILABLE', message: 'runtime down for the test' });
});

t.test('an RPC the upstream does not serve answers UNIMPLEMENTED through the proxy', async (t) => {
  const runtime = await proxyOver(t);
  const error = await callUnary(runtime, runtime.listContainers, { filter: undefined }).catch((thrown: unknown) => thrown);
  t.match(error, { code: 'UNIMPLEMENTED' });
});

t.test('a unary override replaces the answer', async (t) => {
  const runtime = await proxyOver(t, {
    overrides: { runtime: { version: async (request, forward) => ({ ...(await forward(request)), runtimeName: 'rewritten' }) } },
  });
  t.match(await callUnary(runtime, runtime.version, { version: '0.1.0' }), { runtimeName: 'rewritten', runtimeVersion: '1' });
});

t.test('a server stream is relayed message by message and then ends', async (t) => {
  const runtime = await proxyOver(t);
  const { messages, error } = await readEvents(runtime);
  t.equal(error, undefined);
  t.same(messages.map((message) => message.containerId), ['c1', 'c2']);
});

t.test('a stream override may drop or rewrite messages', async (t) => {
  const runtime = await proxyOver(t, {
    overrides: { runtime: { getContainerEvents: (message) => (message.containerId === 'c1' ? [] : [{ ...message, containerId: 'renamed' }]) } },
  });
  const { messages } = await readEvents(runtime);
  t.same(messages.map((message) => message.containerId), ['renamed']);
});

t.test('a stream the upstream fails ends with the upstream status', async (t) => {
  const runtime = await proxyOver(t, { events: 'fail' });
  const { messages, error } = await readEvents(runtime);
  t.same(messages, []);
  t.match(GrpcStatusError.from(error), { code: 'RESOURCE_EXHAUSTED', message: /too many watchers/ });
});
