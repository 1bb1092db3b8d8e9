import crypto from 'node:crypto';
import fs from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import t, { type Test } from 'tap';
import { gzipTar, writeTar } from '../../../../conformance/cri/test-images/index.js';
import { openTestStore } from './image-fixture.js';

const digestOf = (bytes: Buffer): string => `sha256:${crypto.createHash('sha256').update(bytes).digest('hex')}`;
const skip = process.getuid?.() === 0 ? false : 'needs root';

/** A registry on loopback that serves exactly the given manifests and blobs, closed at teardown. */
async function serveContent(t: Test, content: { manifests: Record<string, Buffer>; blobs: Record<string, Buffer> }): Promise<string> {
  const server = http.createServer((request, response) => {
    const manifest = /^\/v2\/test\/app\/manifests\/(.+)$/.exec(request.url ?? '');
    const blob = /^\/v2\/test\/app\/blobs\/(.+)$/.exec(request.url ?? '');
    const body = manifest !== null ? content.manifests[manifest[1]!] : blob !== null ? content.blobs[blob[1]!] : undefined;
    if (body === undefined) {
      response.writeHead(404).end();
      return;
    }
    response.writeHead(200, { 'content-type': manifest !== null ? 'application/vnd.oci.image.manifest.v1+json' : 'application/octet-stream' }).end(body);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  t.teardown(() => new Promise<void>((resolve) => server.close(() => resolve())));
  server.closeIdleConnections();
  return `127.0.0.1:${(server.address() as { port: number }).port}`;
}

/** An image of one layer whose blob or diff ID can be made to lie. */
function image(options: { corruptBlob?: boolean; wrongDiffId?: boolean }): { manifests: Record<string, Buffer>; blobs: Record<string, Buffer>; layerDigest: string } {
  const tar = writeTar([{ type: 'file', path: 'hello', content: 'hello\n' }]);
  const layer = gzipTar(tar);
  const diffId = options.wrongDiffId === true ? digestOf(Buffer.from('another tar')) : digestOf(tar);
  const config = Buffer.from(JSON.stringify({ architecture: 'amd64', os: 'linux', rootfs: { type: 'layers', diff_ids: [diffId] }, config: {} }));
  const manifest = Buffer.from(JSON.stringify({
    schemaVersion: 2,
    mediaType: 'application/vnd.oci.image.manifest.v1+json',
    config: { mediaType: 'application/vnd.oci.image.config.v1+json', digest: digestOf(config), size: config.length },
    layers: [{ mediaType: 'application/vnd.oci.image.layer.v1.tar+gzip', digest: digestOf(layer), size: layer.length }],
  }));
  const served = options.corruptBlob === true ? Buffer.from(layer.map((byte, index) => (index === 20 ? byte ^ 0xff : byte))) : layer;
  return { manifests: { v1: manifest }, blobs: { [digestOf(config)]: config, [digestOf(layer)]: served }, layerDigest: digestOf(layer) };
}

function filesUnder(dir: string): string[] {
  return fs.readdirSync(dir, { recursive: true, withFileTypes: true }).filter((entry) => !entry.isDirectory()).map((entry) => path.join(entry.parentPath, entry.name));
}

t.test('a layer blob whose bytes do not match its digest fails the pull and keeps nothing of it', { skip }, async (t) => {
  const corrupt = image({ corruptBlob: true });
  const host = await serveContent(t, corrupt);
  const { store, root } = await openTestStore(t);
  await t.rejects(store.pull(`${host}/test/app:v1`), { name: 'RegistryError', kind: 'digest-mismatch' });
  t.same(await store.list(), []);
  t.same(filesUnder(path.join(root, 'tmp')), [], 'no temp file left');
  t.same(fs.readdirSync(path.join(root, 'layers')), [], 'no layer unpacked');
  t.notOk(fs.existsSync(path.join(root, 'blobs', 'sha256', corrupt.layerDigest.slice('sha256:'.length))), 'the corrupt layer is not stored');
});

t.test('a layer whose tar is not the config\'s diff ID fails the pull and leaves no layer folder', { skip }, async (t) => {
  const host = await serveContent(t, image({ wrongDiffId: true }));
  const { store, root } = await openTestStore(t);
  await t.rejects(store.pull(`${host}/test/app:v1`), { name: 'LayerExtractError', message: /image config says/ });
  t.same(await store.list(), []);
  t.same(fs.readdirSync(path.join(root, 'layers')), [], 'no layer folder, not even a temp one');
});

t.test('the same image served honestly pulls', { skip }, async (t) => {
  const host = await serveContent(t, image({}));
  const { store } = await openTestStore(t);
  const pulled = await store.pull(`${host}/test/app:v1`);
  t.equal(fs.readFileSync(path.join(pulled.layerDirs[0]!, 'hello'), 'utf8'), 'hello\n');
});
