import fs from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import t from 'tap';
import { createNetworkNamespace, uniqueNetnsName } from '../../conformance/cni/network-namespaces.js';
import { startLoopbackRelay } from '../../conformance/peers/index.js';
import { debianBusybox } from '../helpers/oci-image.js';
import { tempDir } from '../helpers/temp-dir.js';

// A node's runtime pulls from a registry on the machine's loopback: the relay
// makes that HOST:PORT answer inside the node's network namespace too.

const skip =
  process.getuid?.() !== 0 ? 'needs root (network namespaces)' : !fs.existsSync(debianBusybox) ? `needs ${debianBusybox} (Debian package busybox-static)` : undefined;

async function startHttpServer(t: { teardown(fn: () => unknown): void }, body: string): Promise<string> {
  const server = http.createServer((_, response) => response.end(body));
  t.teardown(() => new Promise((resolve) => server.close(resolve)));
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  if (address === null || typeof address === 'string') throw new Error('no TCP address');
  return `127.0.0.1:${address.port}`;
}

t.test("a server on the machine's loopback answers at the same address inside the namespace, and nothing is left after stop", { skip: skip ?? false }, async (t) => {
  const address = await startHttpServer(t, 'relayed\n');
  const netns = await createNetworkNamespace(uniqueNetnsName('relay'));
  t.teardown(() => netns.remove());
  const socketPath = path.join(tempDir(t, 'kp-relay-'), 'relay.sock');
  const relay = await startLoopbackRelay({ address, netnsPath: netns.path, socketPath });
  t.teardown(() => relay.stop());

  const fetched = await netns.exec(debianBusybox, ['wget', '-q', '-O', '-', `http://${address}/`]);
  t.equal(fetched.stdout, 'relayed\n', 'wget inside the namespace got the machine-side body');

  await relay.stop();
  t.throws(() => process.kill(relay.pid, 0), { code: 'ESRCH' }, 'the in-namespace half has exited');
  t.notOk(fs.existsSync(socketPath), 'the unix socket is gone');
  await t.rejects(netns.exec(debianBusybox, ['wget', '-q', '-T', '2', '-O', '-', `http://${address}/`]), 'the address no longer answers inside the namespace');
});
