import path from 'node:path';
import t, * as Tap from 'tap';
import {
  ControllerClient,
  IdentityClient,
  NodeClient,
  callUnary,
  createClient,
  GrpcStatusError,
} from '../../specs/csi/index.js';
import { startCsiProxy, type CsiOverrides } from '../../conformance/fixtures/csi-driver/csi-proxy.js';
import { identityFixture } from '../../conformance/fixtures/csi-identity/identity-fixtures.js';
import { serveFixture } from '../helpers/csi-fixture-server.js';

/** A proxy over an Identity fixture (the conforming one also answers the two capability calls). */
async function proxyOver(t: Tap.Test, overrides: CsiOverrides = {}, upstreamFixture = 'conforming') {
  const upstream = await serveFixture(t, identityFixture(upstreamFixture)!, 'upstream.sock');
  const endpoint = `unix://${path.join(upstream.dir, 'proxy.sock')}`;
  const proxy = await startCsiProxy({ endpoint, upstream: upstream.endpoint, overrides });
  t.teardown(() => proxy.close());
  const clients = {
    identity: createClient(IdentityClient, endpoint),
    controller: createClient(ControllerClient, endpoint),
    node: createClient(NodeClient, endpoint),
  };
  t.teardown(() => Object.values(clients).forEach((client) => client.close()));
  return clients;
}

t.test('a call without an override is forwarded and its answer returned unchanged', async (t) => {
  const { identity, controller } = await proxyOver(t);
  const info = await callUnary(identity, identity.getPluginInfo, {});
  t.match(info, { name: 'dir-volume.csi.kubeplug.io', vendorVersion: '0.1.0-fixture' });
  const capabilities = await callUnary(controller, controller.controllerGetCapabilities, {});
  t.equal(capabilities.capabilities.length, 2);
});

t.test('an upstream error reaches the client with its code and message unchanged', async (t) => {
  const { identity } = await proxyOver(t, {}, 'probe-wrong-code');
  const error = await callUnary(identity, identity.probe, {}).catch((thrown: unknown) => thrown);
  t.type(error, GrpcStatusError);
  t.match(error, { code: 'INTERNAL', message: 'disk backend unreachable' });
});

t.test('an RPC the upstream does not serve answers UNIMPLEMENTED through the proxy too', async (t) => {
  const { node } = await proxyOver(t);
  const error = await callUnary(node, node.nodeGetInfo, {}).catch((thrown: unknown) => thrown);
  t.match(error, { code: 'UNIMPLEMENTED', message: /nodeGetInfo/i });
});

t.test('an override sees the request and may forward a rewritten one', async (t) => {
  const seen: string[] = [];
  const { identity } = await proxyOver(t, {
    identity: {
      getPluginInfo: async (request, forward) => {
        seen.push('override');
        return { ...(await forward(request)), vendorVersion: 'rewritten' };
      },
    },
  });
  const info = await callUnary(identity, identity.getPluginInfo, {});
  t.same(seen, ['override']);
  t.match(info, { name: 'dir-volume.csi.kubeplug.io', vendorVersion: 'rewritten' });
});

t.test('a status an override throws reaches the client as that status', async (t) => {
  const { identity } = await proxyOver(t, {
    identity: {
      probe: async () => {
        throw new GrpcStatusError({ code: 'FAILED_PRECONDITION', message: 'not ready' });
      },
    },
  });
  const error = (await callUnary(identity, identity.probe, {}).catch((thrown: unknown) => thrown)) as GrpcStatusError;
  t.equal(error.code, 'FAILED_PRECONDITION');
  t.equal(error.message, 'not ready');
});
