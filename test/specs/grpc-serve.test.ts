import fs from 'node:fs';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import path from 'node:path';
import t, * as Tap from 'tap';
import {
  GrpcStatusError,
  IdentityClient,
  IdentityService,
  bindService,
  callUnary,
  createClient,
  serve,
  socketPathOf,
  waitForConnection,
} from '../../specs/csi/index.js';
import { tempDir } from '../helpers/temp-dir.js';

type Test = Tap.Test;

async function serveIdentity(t: Test, endpoint: string, implementation: Parameters<typeof bindService<typeof IdentityService>>[1], internalErrors: unknown[] = []) {
  const server = await serve({
    endpoint,
    services: [bindService(IdentityService, implementation, (_method, error) => internalErrors.push(error))],
  });
  t.teardown(() => server.close());
  const client = createClient(IdentityClient, endpoint);
  t.teardown(() => client.close());
  await waitForConnection(client, endpoint, 5000);
  return { server, client };
}

t.test('serve binds a unix socket with mode 0600 and answers calls', async (t) => {
  const dir = tempDir(t);
  const endpoint = `unix://${dir}/csi.sock`;
  const { client } = await serveIdentity(t, endpoint, {
    getPluginInfo: async () => ({ name: 'x.kubeplug.io', vendorVersion: '1', manifest: {} }),
  });
  t.equal(fs.statSync(path.join(dir, 'csi.sock')).mode & 0o777, 0o600);
  const info = await callUnary(client, client.getPluginInfo, {});
  t.equal(info.name, 'x.kubeplug.io');
});

t.test('close removes the socket', async (t) => {
  const dir = tempDir(t);
  const server = await serve({ endpoint: path.join(dir, 'a.sock'), services: [] });
  t.ok(fs.existsSync(path.join(dir, 'a.sock')));
  await server.close();
  t.notOk(fs.existsSync(path.join(dir, 'a.sock')));
});

t.test('a stale socket left by a killed server is replaced', async (t) => {
  const dir = tempDir(t);
  const socketPath = path.join(dir, 'stale.sock');
  // A real crash: a process listening on the socket dies by SIGKILL and leaves the file behind.
  const child = spawn(process.execPath, ['-e', `require('net').createServer().listen(${JSON.stringify(socketPath)}, () => console.log('up'))`]);
  t.teardown(() => child.kill('SIGKILL'));
  await once(child.stdout, 'data');
  child.kill('SIGKILL');
  await once(child, 'exit');
  t.ok(fs.lstatSync(socketPath).isSocket(), 'the dead server left its socket file');
  const server = await serve({ endpoint: socketPath, services: [] });
  t.teardown(() => server.close());
  t.ok(fs.lstatSync(socketPath).isSocket());
  t.equal(fs.lstatSync(socketPath).mode & 0o777, 0o600);
});

t.test('a socket with a live server behind it is left alone', async (t) => {
  const dir = tempDir(t);
  const socketPath = path.join(dir, 'live.sock');
  const first = await serve({ endpoint: socketPath, services: [] });
  t.teardown(() => first.close());
  await t.rejects(serve({ endpoint: socketPath, services: [] }), { name: 'SocketInUseError', message: /in use by a running server/ });
});

t.test('a file that is not a socket is never removed', async (t) => {
  const dir = tempDir(t);
  const file = path.join(dir, 'data.sock');
  fs.writeFileSync(file, 'precious');
  await t.rejects(serve({ endpoint: file, services: [] }), { name: 'SocketInUseError', message: /is not a socket/ });
  t.equal(fs.readFileSync(file, 'utf8'), 'precious');
});

t.test('a GrpcStatusError reaches the client with its code and message', async (t) => {
  const dir = tempDir(t);
  const { client } = await serveIdentity(t, path.join(dir, 'e.sock'), {
    probe: async () => {
      throw new GrpcStatusError({ code: 'FAILED_PRECONDITION', message: 'backing store missing' });
    },
  });
  await t.rejects(callUnary(client, client.probe, {}), { code: 'FAILED_PRECONDITION', message: 'backing store missing' });
});

t.test('an untyped error reaches the client as INTERNAL, never UNKNOWN, and is reported', async (t) => {
  const dir = tempDir(t);
  const internalErrors: unknown[] = [];
  const { client } = await serveIdentity(
    t,
    path.join(dir, 'i.sock'),
    {
      probe: async () => {
        throw new TypeError('boom');
      },
    },
    internalErrors,
  );
  await t.rejects(callUnary(client, client.probe, {}), { code: 'INTERNAL', message: /boom/ });
  t.equal(internalErrors.length, 1);
});

t.test('a method left out answers UNIMPLEMENTED', async (t) => {
  const dir = tempDir(t);
  const { client } = await serveIdentity(t, path.join(dir, 'u.sock'), {});
  await t.rejects(callUnary(client, client.getPluginCapabilities, {}), { code: 'UNIMPLEMENTED' });
});

t.test('a call past its deadline fails with DEADLINE_EXCEEDED', async (t) => {
  const dir = tempDir(t);
  const { client } = await serveIdentity(t, path.join(dir, 'd.sock'), {
    probe: () => new Promise((resolve) => setTimeout(() => resolve({ ready: true }), 500)),
  });
  await t.rejects(callUnary(client, client.probe, {}, { deadline: new Date(Date.now() + 50) }), { code: 'DEADLINE_EXCEEDED' });
});

t.test('waiting for a missing socket fails at once, naming it', async (t) => {
  const dir = tempDir(t);
  const endpoint = `unix://${dir}/none.sock`;
  const client = createClient(IdentityClient, endpoint);
  t.teardown(() => client.close());
  await t.rejects(waitForConnection(client, endpoint, 5000), { name: 'EndpointUnreachableError', message: /no socket at .*none\.sock/ });
});

const endpoints: [string, string | RegExp][] = [
  ['unix:///run/csi/csi.sock', '/run/csi/csi.sock'],
  ['/run/csi/csi.sock', '/run/csi/csi.sock'],
  ['unix:/run/x.sock', '/run/x.sock'],
  ['unix://relative.sock', /must be unix:\/\/\/absolute\/path/],
  ['tcp://127.0.0.1:10000', /not a unix socket/],
  ['', /endpoint is empty/],
];
for (const [endpoint, expected] of endpoints) {
  t.test(`endpoint ${JSON.stringify(endpoint)} reads as ${String(expected)}`, async (t) => {
    if (typeof expected === 'string') t.equal(socketPathOf(endpoint), expected);
    else t.throws(() => socketPathOf(endpoint), { name: 'EndpointError', message: expected });
  });
}
